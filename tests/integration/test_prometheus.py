"""A real Prometheus scrapes moat (issue 7): denials a real client causes reach
Prometheus' query API under the names the dashboard and alerts use, and the alert rules
in deploy/prometheus load into a real server."""

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from harness import (REPO, Certs, Process, ProxyTestCase, RawClient, connect_packet,
                     free_port, plain_listener, port_open, wait_until)

CONNACK = 0x20
PROMETHEUS_BIN = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
ALERT_RULES = os.path.join(REPO, "deploy", "prometheus", "moat-alerts.yml")


def http_json(url):
    """The decoded JSON body, or None while the server is not answering."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read().decode())
    except (OSError, ValueError):
        return None


class Prometheus:
    """Prometheus on a free loopback port scraping `targets` every second; its config and
    TSDB live in `workdir`, which the test case removes. `job_extra` is YAML added to the
    scrape job (indented by four spaces), such as a scheme and tls_config."""

    def __init__(self, case, targets, job_extra=""):
        if not os.path.exists(PROMETHEUS_BIN):
            raise AssertionError(f"{PROMETHEUS_BIN} is missing: run deploy/install-deps.sh")
        self.port = free_port()
        directory = os.path.join(case.workdir, "prometheus")
        os.makedirs(os.path.join(directory, "data"))
        shutil.copy(ALERT_RULES, directory)
        config = os.path.join(directory, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "rule_files:\n  - moat-alerts.yml\n"
                    "scrape_configs:\n  - job_name: moat\n" + job_extra +
                    "    static_configs:\n"
                    f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
        argv = [PROMETHEUS_BIN, f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(directory, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h", "--log.level=warn"]
        self.process = case.start_process("prometheus", argv)
        wait_until(lambda: self.ready() or not self.process.alive(), timeout=30,
                   what="Prometheus to be ready")
        if not self.process.alive():
            raise AssertionError("Prometheus exited early:\n" + self.process.log())

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready",
                                        timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        query = urllib.parse.urlencode(params)
        body = http_json(f"http://127.0.0.1:{self.port}/api/v1/{path}?{query}")
        return body["data"] if body and body.get("status") == "success" else None

    def query(self, promql):
        """{frozenset(labels): value} of an instant query; empty until there is data."""
        data = self.api("query", query=promql) or {"result": []}
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in data["result"]}


class PrometheusTestCase(ProxyTestCase):
    def start_process(self, name, argv):
        """Like start_broker and start_moat: stopped by the cleanup, log on failure."""
        process = Process(name, argv, self.workdir)
        self.processes.append(process)
        return process


class PrometheusScrape(PrometheusTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port, self.metrics_port = free_port(), free_port()
        passwd = os.path.join(self.workdir, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", passwd, "alice", "alice-pw"],
                       check=True, capture_output=True)
        auth = (f"auth:\n  password_file: {passwd}\n  allow_anonymous: false\n"
                "  failure_delay: 0s\n  ban: off\n")
        self.moat = self.start_moat(self.broker.port,
                                    [plain_listener(self.port, "    name: plain\n")],
                                    auth=auth,
                                    extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        self.moat.wait_listening(self.port)
        wait_until(lambda: port_open(self.metrics_port), what="moat's metrics endpoint")
        self.prometheus = Prometheus(self, [f"127.0.0.1:{self.metrics_port}"])

    def refused(self, **kwargs):
        client = RawClient(self.port)
        client.send(connect_packet("prometheus-test", **kwargs))
        first, body = client.read_packet()
        client.close()
        self.assertEqual(first, CONNACK)
        return body[1]

    def test_denials_reach_prometheus(self):
        wait_until(lambda: list(self.prometheus.query('up{job="moat"}').values()) == [1.0],
                   timeout=30, what="Prometheus to scrape moat (up == 1)")
        # Two wrong passwords and one anonymous client, which allow_anonymous refuses.
        self.assertEqual(self.refused(username="alice", password="wrong"), 4)
        self.assertEqual(self.refused(username="alice", password="also wrong"), 4)
        self.assertEqual(self.refused(), 5)

        def denials():
            """{(reason, mode): count} of the connect denials Prometheus has."""
            counted = {}
            for labels, value in self.prometheus.query("moat_denials_total").items():
                labels = dict(labels)
                if labels["action"] == "connect" and value > 0:
                    counted[(labels["reason"], labels.get("mode"))] = value
            return counted
        expected = {("bad_credentials", "enforce"): 2, ("not_authenticated", "enforce"): 1}
        try:
            wait_until(lambda: denials() == expected, timeout=30,
                       what="Prometheus to show the denials")
        except AssertionError as error:
            self.fail(f"{error}: want {expected}, Prometheus shows {denials()}")
        series = self.prometheus.query("moat_denials_total")
        for labels in series:
            labels = dict(labels)
            self.assertEqual(labels["job"], "moat")
            self.assertEqual(labels["instance"], f"127.0.0.1:{self.metrics_port}")
        failures = self.prometheus.query('moat_connect_total{result="bad_credentials"}')
        self.assertEqual(list(failures.values()), [2.0])

    def test_alert_rules_load(self):
        def groups():
            data = self.prometheus.api("rules", type="alert")
            return data["groups"] if data else []
        wait_until(lambda: groups() and all(rule.get("health") == "ok" for group in groups()
                                            for rule in group["rules"]),
                   timeout=30, what="the alert rules to be evaluated")
        names = {rule["name"] for group in groups() for rule in group["rules"]}
        self.assertLessEqual({"MoatDown", "MoatDenialSpike", "MoatAuthFailureSpike",
                              "MoatBruteForce", "MoatUpstreamDown", "MoatReloadFailed",
                              "MoatCertificateExpiringSoon", "MoatTlsHandshakeFailureSpike"},
                             names)
        # Nothing is wrong with this moat: no alert fires.
        firing = [alert for alert in (self.prometheus.api("alerts") or {}).get("alerts", [])
                  if alert["state"] == "firing"]
        self.assertEqual(firing, [])


class PrometheusScrapeOverTls(PrometheusTestCase):
    """metrics.tls as Prometheus meets it: scheme https, the CA in tls_config."""

    def test_prometheus_scrapes_https(self):
        broker = self.start_broker()
        port, metrics_port = free_port(), free_port()
        moat = self.start_moat(broker.port, [plain_listener(port)],
                               extra=(f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n'
                                      f'  tls:\n    cert: {Certs.path("server.crt")}\n'
                                      f'    key: {Certs.path("server.key")}\n'))
        moat.wait_listening(port)
        wait_until(lambda: port_open(metrics_port), what="moat's metrics endpoint")
        prometheus = Prometheus(self, [f"127.0.0.1:{metrics_port}"],
                                job_extra=("    scheme: https\n    tls_config:\n"
                                           f"      ca_file: {Certs.path('ca.crt')}\n"))
        wait_until(lambda: list(prometheus.query('up{job="moat"}').values()) == [1.0],
                   timeout=30, what="Prometheus to scrape moat over HTTPS (up == 1)")
        self.assertEqual(list(prometheus.query('moat_build_info{job="moat"}').values()), [1.0])
