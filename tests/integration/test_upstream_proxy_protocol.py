"""upstream.proxy_protocol (issue 19, item 3): moat opens each link to the broker with a
PROXY header naming the client it serves.

- A real receiver, HAProxy with accept-proxy between moat and mosquitto, logs each
  client's own loopback address and port and the address it connected to, for v1 and v2,
  while the clients log in through the whole chain; moat's readiness check (v1 UNKNOWN,
  v2 LOCAL) is accepted as a link of moat's own.
- The v2 TLVs: HAProxy terminates TLS for a client with a certificate and sends its own
  header (send-proxy-v2-ssl-cn) to a recorder; moat does the same for the same client.
  moat's parser reads both captures to the same TLS facts."""

import os
import re
import socket
import ssl
import unittest

from harness import (Certs, MqttClient, ProxyTestCase, connect_packet, free_port,
                     password_file, password_of, tls_listener, wait_until)
from proxy_receivers import HAProxy, Recorder, parse_header


def client_context(certificate=True):
    context = ssl.create_default_context(cafile=Certs.path("ca.crt"))
    if certificate:
        context.load_cert_chain(Certs.path("client.crt"), Certs.path("client.key"))
    return context


def tls_facts(tls_socket):
    """What the client itself negotiated, as PP2_TYPE_SSL names it."""
    return tls_socket.version(), tls_socket.cipher()[0]


class UpstreamProxyProtocolTest(ProxyTestCase):

    def start_haproxy(self, sections, ports):
        haproxy = HAProxy(self.workdir, sections, ports)
        self.processes.append(haproxy.process)
        return haproxy

    def receiver_sees_each_client(self, version):
        broker = self.start_broker()
        haproxy_port = free_port()
        haproxy = self.start_haproxy(
            f"frontend from_moat\n  bind 127.0.0.1:{haproxy_port} accept-proxy\n"
            f'  log-format "client=%ci:%cp frontend=%fi:%fp"\n  default_backend broker\n'
            f"backend broker\n  server mosquitto 127.0.0.1:{broker.port}\n",
            [haproxy_port])
        port, metrics_port = free_port(), free_port()
        # With a metrics endpoint moat checks the broker for /readyz, on links of its own.
        moat = self.start_moat(haproxy_port, [tls_listener(port)],
                               upstream_extra=f"  proxy_protocol: {version}\n",
                               extra=f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n')
        moat.wait_listening(port)
        clients = []
        for source in ("127.0.0.2", "127.0.0.3"):
            client = MqttClient(port, 4, f"pp-{version}-{source}", source=source,
                                tls=ssl.create_default_context(cafile=Certs.path("ca.crt")))
            self.addCleanup(client.close)
            self.assertEqual(client.connack(), (0, 0), "the login through HAProxy failed")
            clients.append(client)
        for client in clients:
            ip, client_port = client.sock.getsockname()[:2]
            line = f"client={ip}:{client_port} frontend=127.0.0.1:{port}"
            wait_until(lambda: line in haproxy.log_lines(), what=f"HAProxy to log {line!r}")
        # The readiness check's header (v1 UNKNOWN, v2 LOCAL) is accepted as a link of
        # moat's own: HAProxy logs moat's real address for it, not a header error.
        own = re.compile(rf"client=127\.0\.0\.1:\d+ frontend=127\.0\.0\.1:{haproxy_port}")
        wait_until(lambda: any(own.fullmatch(l) for l in haproxy.log_lines()),
                   what="HAProxy to accept moat's readiness check")

    def test_v1_receiver_sees_each_clients_address_and_port(self):
        self.receiver_sees_each_client("v1")

    def test_v2_receiver_sees_each_clients_address_and_port(self):
        self.receiver_sees_each_client("v2")

    def test_v2_tlvs_read_the_same_from_haproxy_and_from_moat(self):
        recorder = Recorder()
        self.addCleanup(recorder.stop)
        pem = os.path.join(self.workdir, "server.pem")
        with open(pem, "w") as out:
            for name in ("server.crt", "server.key"):
                with open(Certs.path(name)) as f:
                    out.write(f.read())
        haproxy_port = free_port()
        self.start_haproxy(
            f"frontend tls_in\n  bind 127.0.0.1:{haproxy_port} ssl crt {pem} "
            f"ca-file {Certs.path('ca.crt')} verify required\n  default_backend recorder\n"
            f"backend recorder\n  server r 127.0.0.1:{recorder.port} send-proxy-v2-ssl-cn "
            f"proxy-v2-options ssl-cipher\n",
            [haproxy_port])
        port, optional_cert_port = free_port(), free_port()
        client_ca = f"      client_ca: {Certs.path('ca.crt')}\n"
        users = password_file(self.workdir, ["sensor-7"])
        moat = self.start_moat(
            recorder.port,
            [tls_listener(port, client_ca + "      require_client_cert: true\n"),
             tls_listener(optional_cert_port, client_ca)],
            upstream_extra="  proxy_protocol: v2\n",
            auth=f"auth:\n  password_file: {users}\n  allow_anonymous: true\n")
        moat.wait_listening(port)

        # The same client certificate through HAProxy and through moat.
        sock = socket.create_connection(("127.0.0.1", haproxy_port), timeout=10,
                                        source_address=("127.0.0.2", 0))
        through_haproxy = client_context().wrap_socket(sock, server_hostname="localhost")
        self.addCleanup(through_haproxy.close)
        through_haproxy.sendall(connect_packet("tlv-capture-haproxy"))
        through_moat = MqttClient(port, 4, "tlv-capture-moat", source="127.0.0.3",
                                  tls=client_context(), username="sensor-7",
                                  password=password_of("sensor-7"))
        self.addCleanup(through_moat.close)
        # And one without a certificate, where moat's listener lets it in without.
        anonymous = MqttClient(optional_cert_port, 4, "tlv-capture-nocert", source="127.0.0.4",
                               tls=client_context(certificate=False))
        self.addCleanup(anonymous.close)
        captures = recorder.wait_for(3)
        by_client = {}
        for data in captures:
            for name in ("haproxy", "moat", "nocert"):
                if f"tlv-capture-{name}".encode() in data:
                    by_client[name] = parse_header(self.workdir, data), data
        self.assertEqual(set(by_client), {"haproxy", "moat", "nocert"}, captures)

        haproxy, _ = by_client["haproxy"]
        moat_header, moat_bytes = by_client["moat"]
        nocert, _ = by_client["nocert"]
        for header, client, listener in ((haproxy, through_haproxy, haproxy_port),
                                         (moat_header, through_moat.sock, port),
                                         (nocert, anonymous.sock, optional_cert_port)):
            ip, client_port = client.getsockname()[:2]
            self.assertEqual(header["version"], 2)
            self.assertEqual(header["source"], f"{ip} {client_port}")
            self.assertEqual(header["destination"], f"127.0.0.1 {listener}")
        version, cipher = tls_facts(through_haproxy)
        # PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS, verified (0).
        expected_ssl = {"client": 7, "verify": 0, "version": version, "cn": "dev-client",
                        "cipher": cipher}
        self.assertEqual(haproxy["ssl"], expected_ssl)
        self.assertEqual(tls_facts(through_moat.sock), (version, cipher))
        self.assertEqual(moat_header["ssl"], haproxy["ssl"])
        self.assertEqual(haproxy["tlv_types"], [0x20])
        # moat adds who it let in: user (0xE0) and client id (0xE1).
        self.assertEqual(moat_header["tlv_types"], [0x20, 0xE0, 0xE1])
        self.assertEqual(moat_header["user"], "sensor-7")
        self.assertEqual(moat_header["client_id"], "tlv-capture-moat")
        # MQTT starts right after the header: the CONNECT moat forwards.
        self.assertEqual(moat_bytes[moat_header["consumed"]], 0x10)
        # Over TLS without a certificate: no CN, and verify non-zero as the spec asks.
        version, cipher = tls_facts(anonymous.sock)
        self.assertEqual(nocert["ssl"], {"client": 1, "verify": 1, "version": version, "cn": "",
                                         "cipher": cipher})
        self.assertEqual(nocert["tlv_types"], [0x20, 0xE1])


if __name__ == "__main__":
    unittest.main()
