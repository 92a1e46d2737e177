"""The metrics endpoint of a running moat (issues 4, 5, 7): counts a real client's
traffic and refusals, and answers the health probes."""

import os
import subprocess
import urllib.error
import urllib.request

from harness import (ProxyTestCase, RawClient, connect_packet, free_port, plain_listener,
                     publish_packet, wait_until)


def scrape(port, path="/metrics", accept=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def sample(text, name, **labels):
    """The value of one sample, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{wanted}}}" if wanted else name):
            return float(value)
    return None


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
        self.assertEqual(scrape(self.metrics_port, "/readyz")[0], 200)
        self.broker.process.stop()
        status, body = scrape(self.metrics_port, "/readyz")
        self.assertEqual(status, 503)
        self.assertIn("unreachable", body)
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
