"""Issue 16, item 1: certificate revocation lists on a TLS listener that verifies client
certificates. A CA made by the test revokes one of two client certificates with
`openssl ca`; moat refuses the revoked one at the handshake (counted as reason
"revoked") and lets the other in, from a PEM or a DER CRL; a CRL that revokes more,
loaded by SIGHUP, refuses the next handshakes of the newly revoked; a CRL past its
nextUpdate refuses everyone (reason "crl_unavailable") unless `on_stale_crl: accept`;
and a CRL without client_ca is a config error with its line."""

import os
import signal
import socket
import ssl
import subprocess
import time
import unittest

from harness import (MOAT_BIN, Certs, ProxyTestCase, connect_packet, free_port, metric,
                     wait_for_metric, wait_until)

CA_CONFIG = """\
[ca]
default_ca = test_ca
[test_ca]
database = {dir}/index.txt
crlnumber = {dir}/crlnumber
default_md = sha256
default_crl_days = 1
"""


def run(*argv, cwd):
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class TestCa:
    """A CA in `directory` with client certificates `names`, and CRLs it signs."""

    def __init__(self, directory, names):
        self.dir = directory
        os.makedirs(directory)
        with open(os.path.join(directory, "ca.cnf"), "w") as f:
            f.write(CA_CONFIG.format(dir=directory))
        open(os.path.join(directory, "index.txt"), "w").close()
        with open(os.path.join(directory, "crlnumber"), "w") as f:
            f.write("01\n")
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=crl-ca",
            cwd=directory)
        for name in names:
            run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
                cwd=directory)
            run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey",
                "ca.key", "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", cwd=directory)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, *args):
        run("openssl", "ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt", *args,
            cwd=self.dir)

    def revoke(self, name):
        self._ca("-revoke", f"{name}.crt")

    def crl(self, out, *args):
        """Writes the CRL (PEM) of what is revoked so far to `out`."""
        self._ca("-gencrl", "-out", out, *args)
        return self.path(out)


def client_context(ca, name):
    """A client's TLS context with the certificate `name` of `ca`."""
    context = ssl.create_default_context(cafile=Certs.path("ca.crt"))
    context.load_cert_chain(ca.path(f"{name}.crt"), ca.path(f"{name}.key"))
    return context


def logs_in(port, ca, name):
    """Whether a new client with certificate `name` gets through TLS to a CONNACK."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        # TLS 1.3 hears of a refused client certificate only after its own handshake.
        tls = client_context(ca, name).wrap_socket(sock, server_hostname="localhost")
        tls.sendall(connect_packet(f"crl-{name}"))
        return tls.recv(4) == b"\x20\x02\x00\x00"
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return False
    finally:
        sock.close()


class Crl(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.ca = TestCa(os.path.join(self.workdir, "ca"), ["good", "bad"])
        self.ca.revoke("bad")
        self.broker = self.start_broker()

    def start(self, crl, extra="", top=""):
        self.port, self.metrics_port = free_port(), free_port()
        listener = (f'  - bind: "127.0.0.1:{self.port}"\n    tls:\n'
                    f'      cert: {Certs.path("server.crt")}\n      key: {Certs.path("server.key")}\n'
                    f'      client_ca: {self.ca.path("ca.crt")}\n'
                    f'      require_client_cert: true\n      crl_file: {crl}\n' + extra)
        self.moat = self.start_moat(self.broker.port, [listener],
                                    extra=top +
                                    f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        self.moat.wait_listening(self.port)

    def logs_in(self, name):
        return logs_in(self.port, self.ca, name)

    def failures(self, reason):
        return metric(self.metrics_port, "moat_tls_handshake_failures_total", reason=reason)

    def test_a_revoked_certificate_is_refused_and_counted(self):
        self.start(self.ca.crl("ca.crl"))
        self.assertTrue(self.logs_in("good"))
        self.assertFalse(self.logs_in("bad"))
        wait_for_metric(self.metrics_port, "moat_tls_handshake_failures_total", 1,
                        reason="revoked")
        self.assertEqual(self.failures("bad_client_certificate"), 0)

    def test_a_der_crl_works_as_well(self):
        pem = self.ca.crl("ca.crl")
        der = self.ca.path("ca.crl.der")
        run("openssl", "crl", "-in", pem, "-outform", "DER", "-out", der, cwd=self.ca.dir)
        self.start(der)
        self.assertTrue(self.logs_in("good"))
        self.assertFalse(self.logs_in("bad"))

    def test_a_reload_brings_in_the_new_crl(self):
        crl = self.ca.crl("ca.crl")
        self.start(crl)
        self.assertTrue(self.logs_in("good"))
        self.ca.revoke("good")
        self.ca.crl("ca.crl")
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_for_metric(self.metrics_port, "moat_reloads_total", 1, result="success")
        self.assertFalse(self.logs_in("good"))
        wait_for_metric(self.metrics_port, "moat_tls_handshake_failures_total", 1,
                        reason="revoked")

    def test_watch_files_notices_a_new_crl(self):
        crl = self.ca.crl("ca.crl")
        self.start(crl, top="watch_files: true\n")
        self.assertTrue(self.logs_in("good"))
        self.ca.revoke("good")
        self.ca.crl("ca.crl.new")
        os.replace(self.ca.path("ca.crl.new"), crl)  # as a Secret update swaps the file
        wait_for_metric(self.metrics_port, "moat_reloads_total", 1, timeout=20, result="success")
        self.assertFalse(self.logs_in("good"))

    def test_a_stale_crl_refuses_everyone_unless_accepted(self):
        crl = self.ca.crl("ca.crl", "-crlsec", "1")
        time.sleep(2.1)  # past its nextUpdate
        self.start(crl)
        self.assertFalse(self.logs_in("good"))
        wait_for_metric(self.metrics_port, "moat_tls_handshake_failures_total", 1,
                        reason="crl_unavailable")
        self.moat.process.stop()
        self.start(crl, extra="      on_stale_crl: accept\n")
        self.assertTrue(self.logs_in("good"))
        self.assertFalse(self.logs_in("bad"), "a stale CRL still revokes what it lists")

    def test_a_crl_without_client_ca_is_a_config_error(self):
        config = os.path.join(self.workdir, "no-ca.yaml")
        with open(config, "w") as f:
            f.write(f'listeners:\n  - bind: "127.0.0.1:{free_port()}"\n    tls:\n'
                    f'      cert: {Certs.path("server.crt")}\n'
                    f'      key: {Certs.path("server.key")}\n'
                    f'      crl_file: {self.ca.crl("ca.crl")}\n'
                    f'upstream:\n  address: "127.0.0.1:{self.broker.port}"\n'
                    'policy:\n  allow_all: true\n')
        check = subprocess.run([MOAT_BIN, "--check-config", config], capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(check.returncode, 1)
        self.assertIn(f"{config}:6: 'listeners[0].tls.crl_file' is set but 'client_ca' is not set",
                      check.stdout + check.stderr)


if __name__ == "__main__":
    unittest.main()
