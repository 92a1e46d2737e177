"""The metrics endpoint of a running moat (issues 4, 5, 7): counts a real client's
traffic and refusals, answers the health probes, and serves HTTPS when asked to."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from harness import (REPO, Certs, ProxyTestCase, RawClient, connect_packet, free_port,
                     plain_listener, port_open, publish_packet, sample, wait_until)


def scrape(port, path="/metrics", accept=None, context=None, authorization=None):
    """(status, body); over HTTPS when `context` (an ssl.SSLContext) is given."""
    scheme = "https" if context else "http"
    request = urllib.request.Request(f"{scheme}://127.0.0.1:{port}{path}")
    if accept:
        request.add_header("Accept", accept)
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def tls_context(cafile, cert=None, key=None):
    """A client context that verifies the server against `cafile` (and its name)."""
    context = ssl.create_default_context(cafile=cafile)
    if cert:
        context.load_cert_chain(cert, key)
    return context


# What a refused TLS client sees: an alert, a reset, or a bare close, depending on which
# side notices first (with TLS 1.3 the server checks the client certificate after the
# client has already finished its handshake).
REFUSED = (ssl.SSLError, ConnectionError, urllib.error.URLError, EOFError)


class Metrics(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port, self.metrics_port = free_port(), free_port()
        self.passwd = os.path.join(self.workdir, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", self.passwd, "alice", "alice-pw"],
                       check=True, capture_output=True)
        auth = (f"auth:\n  password_file: {self.passwd}\n  failure_delay: 0s\n"
                "  ban: off\n")
        self.moat = self.start_moat(self.broker.port,
                                    [plain_listener(self.port, "    name: plain\n")],
                                    auth=auth,
                                    extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        self.moat.wait_listening(self.port)

    def test_traffic_and_refusals_are_counted(self):
        client = RawClient(self.port)
        client.send(connect_packet("counted", username="alice", password="alice-pw"))
        self.assertEqual(client.read_packet()[0], 0x20)
        client.send(publish_packet("m/a", b"1") + publish_packet("m/b", b"2"))
        bad = RawClient(self.port)
        bad.send(connect_packet("refused", username="alice", password="nope"))
        self.assertEqual(bad.read_packet(), (0x20, b"\x00\x04"))

        def counted():
            _, text = scrape(self.metrics_port)
            return (sample(text, "moat_packets_total", direction="client_to_broker",
                           type="publish") == 2 and
                    sample(text, "moat_denials_total", action="connect",
                           reason="bad_credentials", mode="enforce") == 1)
        wait_until(counted, what="the counters to show the traffic")
        _, text = scrape(self.metrics_port)
        self.assertEqual(sample(text, "moat_connect_total", result="accepted"), 1)
        self.assertEqual(sample(text, "moat_connect_total", result="bad_credentials"), 1)
        # Two clients, plus the harness's own probes of the port.
        self.assertGreaterEqual(sample(text, "moat_connections_accepted_total", listener="plain"),
                                2)
        self.assertGreaterEqual(sample(text, "moat_connections_active", listener="plain"), 1)
        self.assertIsNotNone(sample(text, "process_resident_memory_bytes"))
        self.assertIn("moat_build_info{", text)

    def test_malformed_packets_are_counted_by_reason(self):
        client = RawClient(self.port)
        client.send(connect_packet("m", username="alice", password="alice-pw"))
        self.assertEqual(client.read_packet()[0], 0x20)
        client.send(publish_packet("bad/+", b"x"))
        self.assertTrue(client.closed_by_peer())
        wait_until(lambda: sample(scrape(self.metrics_port)[1], "moat_malformed_packets_total",
                                  direction="client_to_broker",
                                  reason="invalid_topic_name") == 1,
                   what="the malformed packet to be counted")

    def test_health_and_readiness(self):
        self.assertEqual(scrape(self.metrics_port, "/healthz")[0], 200)
        # The broker is checked in the background every 2 s; /readyz shows the last result.
        wait_until(lambda: scrape(self.metrics_port, "/readyz")[0] == 200,
                   what="/readyz to turn ready")
        self.broker.process.stop()
        wait_until(lambda: scrape(self.metrics_port, "/readyz")[0] == 503,
                   what="/readyz to notice the broker is gone")
        status, body = scrape(self.metrics_port, "/readyz")
        self.assertEqual(status, 503)
        self.assertIn(f"upstream 127.0.0.1:{self.broker.port} unreachable: Connection refused",
                      body)
        self.assertEqual(scrape(self.metrics_port, "/nothing")[0], 404)

    def test_openmetrics_on_request(self):
        status, text = scrape(self.metrics_port,
                              accept="application/openmetrics-text;version=1.0.0")
        self.assertEqual(status, 200)
        self.assertTrue(text.rstrip().endswith("# EOF"))


class ProtectedMetrics(ProxyTestCase):
    def test_bearer_token_guards_metrics_but_not_the_probes(self):
        broker = self.start_broker()
        port, metrics_port = free_port(), free_port()
        token_file = os.path.join(self.workdir, "token")
        with open(token_file, "w") as f:
            f.write("s3cret-token\n")
        moat = self.start_moat(broker.port, [plain_listener(port)],
                               extra=(f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n'
                                      f"  bearer_token_file: {token_file}\n"))
        moat.wait_listening(port)
        self.assertEqual(scrape(metrics_port)[0], 401)
        request = urllib.request.Request(f"http://127.0.0.1:{metrics_port}/metrics")
        request.add_header("Authorization", "Bearer wrong-token!")
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=5)
        request = urllib.request.Request(f"http://127.0.0.1:{metrics_port}/metrics")
        request.add_header("Authorization", "Bearer s3cret-token")
        with urllib.request.urlopen(request, timeout=5) as response:
            self.assertEqual(response.status, 200)
            self.assertIn(b"moat_connections_accepted_total", response.read())
        self.assertEqual(scrape(metrics_port, "/healthz")[0], 200)


class MetricsOverTls(ProxyTestCase):
    """metrics.tls: HTTPS with the listeners' TLS defaults, client certificates, reload."""

    def start(self, tls_extra="", metrics_extra="", extra="", cert=None, key=None):
        self.broker = self.start_broker()
        self.port, self.metrics_port = free_port(), free_port()
        self.cert = cert or Certs.path("server.crt")
        self.key = key or Certs.path("server.key")
        metrics = (f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n{metrics_extra}'
                   f"  tls:\n    cert: {self.cert}\n    key: {self.key}\n{tls_extra}")
        self.moat = self.start_moat(self.broker.port, [plain_listener(self.port)],
                                    extra=metrics + extra)
        self.moat.wait_listening(self.port)
        wait_until(lambda: port_open(self.metrics_port) or not self.moat.process.alive(),
                   what="the metrics endpoint to listen")
        self.assertTrue(self.moat.process.alive(), self.moat.process.log())

    def make_pki(self, name):
        directory = os.path.join(self.workdir, name)
        subprocess.run(["bash", os.path.join(REPO, "certs", "make-dev-certs.sh"), directory],
                       check=True, stdout=subprocess.DEVNULL)
        return directory

    def test_scrape_over_tls_verified_against_the_ca(self):
        self.start()
        context = tls_context(Certs.path("ca.crt"))
        status, text = scrape(self.metrics_port, context=context)
        self.assertEqual(status, 200)
        self.assertIn("moat_build_info{", text)
        self.assertEqual(scrape(self.metrics_port, "/healthz", context=context), (200, "ok"))
        # The endpoint's own certificate is watched for expiry like the listeners' ones.
        expiry = sample(text, "moat_certificate_expiry_timestamp_seconds", file=self.cert)
        self.assertIsNotNone(expiry, text)
        self.assertGreater(expiry, time.time())

    def test_a_client_that_does_not_trust_the_ca_gets_nothing(self):
        self.start()
        other = self.make_pki("other")
        with self.assertRaises(REFUSED):
            scrape(self.metrics_port, context=tls_context(os.path.join(other, "ca.crt")))

    def test_tls_1_0_and_1_1_are_refused(self):
        self.start()
        self.assert_refuses_legacy_tls(self.metrics_port)

    def test_plain_http_to_the_tls_port_gets_no_http_response(self):
        self.start()
        client = socket.create_connection(("127.0.0.1", self.metrics_port), timeout=5)
        client.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        try:
            while chunk := client.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
        client.close()
        self.assertNotIn(b"HTTP/", received)
        self.assertNotIn(b"moat_", received)
        with self.assertRaises(REFUSED):
            scrape(self.metrics_port)

    def test_a_silent_client_is_closed_after_the_tls_handshake_timeout(self):
        # The request timeout (10s) would close it too, but later: the 1s limit must cut
        # off a client that opens TCP and never sends a ClientHello.
        self.start(extra="limits:\n  tls_handshake_timeout: 1s\n")
        started = time.monotonic()  # before the connection, so before moat's clock starts
        client = RawClient(self.metrics_port)
        self.assertTrue(client.closed_by_peer(timeout=8))  # 8 s: before the request timeout
        self.assertGreaterEqual(time.monotonic() - started, 1.0)
        client.close()
        self.assertEqual(scrape(self.metrics_port, "/healthz",
                                context=tls_context(Certs.path("ca.crt")))[0], 200)

    def test_a_required_client_certificate(self):
        self.start(f"    client_ca: {Certs.path('ca.crt')}\n    require_client_cert: true\n")
        with self.assertRaises(REFUSED):
            scrape(self.metrics_port, context=tls_context(Certs.path("ca.crt")))
        other = self.make_pki("other")
        with self.assertRaises(REFUSED):
            scrape(self.metrics_port,
                   context=tls_context(Certs.path("ca.crt"), os.path.join(other, "client.crt"),
                                       os.path.join(other, "client.key")))
        with_cert = tls_context(Certs.path("ca.crt"), Certs.path("client.crt"),
                                Certs.path("client.key"))
        status, text = scrape(self.metrics_port, context=with_cert)
        self.assertEqual(status, 200)
        self.assertIn("moat_build_info{", text)

    def test_bearer_token_over_tls(self):
        token_file = os.path.join(self.workdir, "token")
        with open(token_file, "w") as f:
            f.write("tls-token\n")
        self.start(metrics_extra=f"  bearer_token_file: {token_file}\n")
        context = tls_context(Certs.path("ca.crt"))
        self.assertEqual(scrape(self.metrics_port, context=context)[0], 401)
        self.assertEqual(scrape(self.metrics_port, context=context,
                                authorization="Bearer wrong-token")[0], 401)
        status, text = scrape(self.metrics_port, context=context,
                              authorization="Bearer tls-token")
        self.assertEqual(status, 200)
        self.assertIn("moat_build_info{", text)

    def test_sighup_swaps_the_certificate(self):
        first, second = self.make_pki("first"), self.make_pki("second")
        cert, key = os.path.join(self.workdir, "m.crt"), os.path.join(self.workdir, "m.key")
        shutil.copy(os.path.join(first, "server.crt"), cert)
        shutil.copy(os.path.join(first, "server.key"), key)
        self.start(cert=cert, key=key)
        trusts_first = tls_context(os.path.join(first, "ca.crt"))
        trusts_second = tls_context(os.path.join(second, "ca.crt"))
        self.assertEqual(scrape(self.metrics_port, "/healthz", context=trusts_first)[0], 200)

        # A broken certificate is refused; the old one stays in force.
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in self.moat.process.log(),
                   what="the broken certificate to be refused")
        self.assertIn("metrics.tls", self.moat.process.log())
        self.assertEqual(scrape(self.metrics_port, "/healthz", context=trusts_first)[0], 200)

        shutil.copy(os.path.join(second, "server.crt"), cert)
        shutil.copy(os.path.join(second, "server.key"), key)
        self.moat.process.proc.send_signal(signal.SIGHUP)

        def serves_second():
            try:
                return scrape(self.metrics_port, "/healthz", context=trusts_second)[0] == 200
            except REFUSED:
                return False
        wait_until(serves_second, what="the new certificate to be served")
        with self.assertRaises(REFUSED):
            scrape(self.metrics_port, "/healthz", context=trusts_first)


class MetricsTlsCheckConfig(ProxyTestCase):
    """--check-config loads the endpoint's certificate and key like a listener's."""

    def check(self, cert, key):
        config = os.path.join(self.workdir, "moat.yaml")
        with open(config, "w") as f:
            f.write(f'listeners:\n  - bind: "127.0.0.1:{free_port()}"\n'
                    'upstream:\n  address: "127.0.0.1:1883"\n'
                    f'metrics:\n  bind: "127.0.0.1:{free_port()}"\n'
                    f"  tls:\n    cert: {cert}\n    key: {key}\n")
        result = subprocess.run([os.environ.get("MOAT_BIN", ""), "--check-config", config],
                                capture_output=True, text=True)
        return result.returncode, result.stderr, config

    def test_a_valid_pair_passes(self):
        code, stderr, _ = self.check(Certs.path("server.crt"), Certs.path("server.key"))
        self.assertEqual(code, 0, stderr)

    def test_a_missing_certificate_is_reported_with_its_line(self):
        code, stderr, config = self.check(os.path.join(self.workdir, "missing.crt"),
                                          Certs.path("server.key"))
        self.assertEqual(code, 1)
        self.assertIn(f"{config}:8: 'metrics.tls.cert': cannot read", stderr)

    def test_a_broken_certificate_is_reported_with_its_line(self):
        broken = os.path.join(self.workdir, "broken.crt")
        with open(broken, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        code, stderr, config = self.check(broken, Certs.path("server.key"))
        self.assertEqual(code, 1)
        self.assertIn(f"{config}:7: metrics.tls: {broken}: cannot load certificate chain", stderr)

    def test_a_key_that_does_not_match_is_reported(self):
        other = os.path.join(self.workdir, "other")
        subprocess.run(["bash", os.path.join(REPO, "certs", "make-dev-certs.sh"), other],
                       check=True, stdout=subprocess.DEVNULL)
        code, stderr, config = self.check(Certs.path("server.crt"),
                                          os.path.join(other, "server.key"))
        self.assertEqual(code, 1)
        self.assertIn(f"{config}:7: metrics.tls:", stderr)
        self.assertIn("does not match", stderr)
