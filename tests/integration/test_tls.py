"""TLS listeners (issue 4): ALPN, session resumption, client certificates, RSA and
ECDSA keys, IPv6, and refusals that must fail closed."""

import os
import socket
import ssl
import subprocess
import unittest

from harness import (CONNACK_PACKET, REPO, Certs, ProxyTestCase, RawClient, connect_packet,
                     free_port, port_open, wait_for_metric, wait_until)


def tls_client_context(cafile, alpn=None, cert=None, key=None):
    context = ssl.create_default_context(cafile=cafile)
    if alpn:
        context.set_alpn_protocols(alpn)
    if cert:
        context.load_cert_chain(cert, key)
    return context


def mqtt_over(context, port, host="127.0.0.1", session=None):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect((host, port))
    tls = context.wrap_socket(sock, server_hostname="localhost", session=session)
    tls.sendall(connect_packet("tls-test"))
    reply = tls.recv(4)
    return tls, reply


class TlsListener(ProxyTestCase):
    def start(self, listener_tls_extra="", certs_dir=None, bind_host="127.0.0.1", extra=""):
        certs_dir = certs_dir or Certs.get()
        self.broker = self.start_broker()
        self.port = free_port()
        host = f"[{bind_host}]" if ":" in bind_host else bind_host
        listener = (f'  - bind: "{host}:{self.port}"\n    tls:\n'
                    f'      cert: {certs_dir}/server.crt\n      key: {certs_dir}/server.key\n'
                    + listener_tls_extra)
        self.moat = self.start_moat(self.broker.port, [listener], extra=extra)
        wait_until(lambda: port_open(self.port, bind_host) or not self.moat.process.alive(),
                   what="moat to listen")
        self.assertTrue(self.moat.process.alive(), self.moat.process.log())

    def test_alpn_mqtt_is_selected(self):
        self.start()
        tls, reply = mqtt_over(tls_client_context(Certs.path("ca.crt"), alpn=["mqtt"]), self.port)
        self.assertEqual(tls.selected_alpn_protocol(), "mqtt")
        self.assertEqual(reply, b"\x20\x02\x00\x00")

    def test_tls_1_0_and_1_1_are_refused_and_counted(self):
        metrics_port = free_port()
        self.start(extra=f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n')
        self.assert_refuses_legacy_tls(self.port)
        # One failed handshake per version, under the reason operators alert on.
        self.assertEqual(wait_for_metric(metrics_port, "moat_tls_handshake_failures_total", 2,
                                         reason="no_shared_cipher"), 2)

    def test_sessions_resume(self):
        self.start()
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version.name):
                context = tls_client_context(Certs.path("ca.crt"))
                context.minimum_version = context.maximum_version = version
                first, reply = mqtt_over(context, self.port)  # reading lets the ticket arrive
                self.assertEqual(reply, b"\x20\x02\x00\x00")
                session = first.session
                self.assertTrue(session.has_ticket, "resumption rests on tickets")
                first.close()
                second, reply = mqtt_over(context, self.port, session=session)
                self.assertTrue(second.session_reused)
                self.assertEqual(reply, b"\x20\x02\x00\x00")

    def test_required_client_certificate(self):
        self.start(f"      client_ca: {Certs.path('ca.crt')}\n      require_client_cert: true\n")
        with_cert = tls_client_context(Certs.path("ca.crt"), cert=Certs.path("client.crt"),
                                       key=Certs.path("client.key"))
        _, reply = mqtt_over(with_cert, self.port)
        self.assertEqual(reply, b"\x20\x02\x00\x00")
        without = tls_client_context(Certs.path("ca.crt"))
        with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError)):
            tls, reply = mqtt_over(without, self.port)
            if not reply:
                raise EOFError("closed")

    def test_client_certificate_from_another_ca_is_refused(self):
        self.start(f"      client_ca: {Certs.path('ca.crt')}\n      require_client_cert: true\n")
        other = os.path.join(self.workdir, "other")
        subprocess.run(["bash", os.path.join(REPO, "certs", "make-dev-certs.sh"), other],
                       check=True, stdout=subprocess.DEVNULL)
        context = tls_client_context(Certs.path("ca.crt"), cert=os.path.join(other, "client.crt"),
                                     key=os.path.join(other, "client.key"))
        with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError)):
            tls, reply = mqtt_over(context, self.port)
            if not reply:
                raise EOFError("closed")

    def test_rsa_certificates(self):
        rsa = os.path.join(self.workdir, "rsa")
        subprocess.run(["bash", os.path.join(REPO, "certs", "make-dev-certs.sh"), rsa, "--rsa"],
                       check=True, stdout=subprocess.DEVNULL)
        self.start(certs_dir=rsa)
        _, reply = mqtt_over(tls_client_context(os.path.join(rsa, "ca.crt")), self.port)
        self.assertEqual(reply, b"\x20\x02\x00\x00")

    def test_ipv6_listener(self):
        self.start(bind_host="::1")
        _, reply = mqtt_over(tls_client_context(Certs.path("ca.crt")), self.port, host="::1")
        self.assertEqual(reply, b"\x20\x02\x00\x00")

    def test_plain_mqtt_on_a_tls_port_is_refused(self):
        self.start()
        client = RawClient(self.port)
        client.send(connect_packet("not-tls"))
        self.assertTrue(client.closed_by_peer())


class BadCertificates(ProxyTestCase):
    def test_key_that_does_not_match_is_a_startup_error(self):
        other = os.path.join(self.workdir, "other")
        subprocess.run(["bash", os.path.join(REPO, "certs", "make-dev-certs.sh"), other],
                       check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        listener = (f'  - bind: "127.0.0.1:{port}"\n    tls:\n'
                    f'      cert: {Certs.path("server.crt")}\n      key: {other}/server.key\n')
        broker = self.start_broker()
        moat = self.start_moat(broker.port, [listener])
        self.assertEqual(moat.process.proc.wait(10), 1)
        self.assertIn("does not match", moat.process.log())
        check = subprocess.run([os.environ.get("MOAT_BIN", ""), "--check-config",
                                moat.config_path], capture_output=True, text=True)
        self.assertEqual(check.returncode, 1)
        self.assertIn("server.key", check.stderr)


if __name__ == "__main__":
    unittest.main()
