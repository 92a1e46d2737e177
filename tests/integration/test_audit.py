"""The JSON audit log (issue 7): one line per security event, rate-limited, reopened on
SIGHUP, never holding a secret. And per-rule audit mode in the native policy (`mode:
audit`): a would-be denial lands at the broker, is logged, and is counted in
moat_denials_total{mode="audit",rule="<id>"}, while enforcing rules keep refusing."""

import json
import os
import signal
import subprocess
import urllib.request

from harness import (MOAT_BIN, ProxyTestCase, RawClient, connect_packet, free_port,
                     mqtt_string, packet, plain_listener, publish_packet, wait_until)

CONNACK, PUBLISH, PUBACK, SUBACK = 0x20, 0x30, 0x40, 0x90


class AuditLog(ProxyTestCase):
    def start(self, audit_extra=""):
        self.broker = self.start_broker()
        self.port = free_port()
        self.passwd = os.path.join(self.workdir, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", self.passwd, "alice", "alice-pw"],
                       check=True, capture_output=True)
        self.audit_path = os.path.join(self.workdir, "audit.log")
        auth = (f"auth:\n  password_file: {self.passwd}\n  failure_delay: 0s\n  ban: off\n")
        self.moat = self.start_moat(self.broker.port, [plain_listener(self.port)], auth=auth,
                                    extra=f"audit:\n  file: {self.audit_path}\n" + audit_extra)
        self.moat.wait_listening(self.port)

    def events(self, path=None):
        path = path or self.audit_path
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def refused_login(self, password="wrong"):
        client = RawClient(self.port)
        client.send(connect_packet("audited", username="alice", password=password))
        self.assertEqual(client.read_packet(), (0x20, b"\x00\x04"))

    def test_refused_connect_and_malformed_packet_are_one_json_line_each(self):
        self.start()
        self.refused_login("hunter2-secret")
        client = RawClient(self.port)
        client.send(connect_packet("broken", username="alice", password="alice-pw"))
        self.assertEqual(client.read_packet()[0], 0x20)
        client.send(publish_packet("a/#", b"x"))
        self.assertTrue(client.closed_by_peer())
        # The second client got in: its session lines come between, and are not the point.
        def security_events():
            return [e for e in self.events() if not e["event"].startswith("session_")]
        wait_until(lambda: len(security_events()) >= 2, what="two audit lines")
        refused, malformed = security_events()[:2]
        self.assertEqual((refused["event"], refused["reason"]),
                         ("refused_connect", "bad_credentials"))
        self.assertEqual(refused["identity"], "alice")
        self.assertEqual(refused["client_id"], "audited")
        self.assertEqual(refused["address"], "127.0.0.1")
        self.assertIn("time", refused)
        self.assertEqual((malformed["event"], malformed["reason"]),
                         ("malformed", "invalid_topic_name"))
        with open(self.audit_path) as f:
            self.assertNotIn("hunter2-secret", f.read())

    def test_a_flood_is_rate_limited_and_the_suppressed_count_reported(self):
        self.start("  rate_per_second: 2\n  burst: 3\n")
        for _ in range(20):
            self.refused_login()
        wait_until(lambda: len(self.events()) >= 3, what="the burst")
        self.assertLessEqual(len(self.events()), 5)
        wait_until(lambda: (self.refused_login() or True) and
                   any(e.get("suppressed", 0) > 0 for e in self.events()),
                   timeout=10, what="a line reporting suppressed events")

    def test_sighup_reopens_the_file_for_logrotate(self):
        self.start()
        self.refused_login()
        wait_until(lambda: len(self.events()) == 1, what="the first line")
        rotated = self.audit_path + ".1"
        os.rename(self.audit_path, rotated)
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: os.path.exists(self.audit_path), what="a new audit file")
        self.refused_login()
        wait_until(lambda: any(e["event"] == "refused_connect" for e in self.events()),
                   what="the next line in the new file")
        self.assertEqual(len(self.events(rotated)), 1)
        self.assertTrue(any(e["event"] == "reload" and e["reason"] == "success"
                            for e in self.events()))


POLICY = """\
rules:
  - id: plant-rw
    effect: allow
    actions: [publish, subscribe]
    topics: ["plant/#"]
    everyone: true
  - id: legacy-watch             # line 7: would refuse the legacy writers, audit first
    effect: deny
    actions: [publish]
    topics: ["plant/legacy/#"]
    everyone: true
    mode: audit
  - id: no-valves                # enforced
    effect: deny
    actions: [publish]
    topics: ["plant/valves/#", "plant/legacy/valves/#"]
    everyone: true
  - id: secret-reads             # reading plant/secret would be refused
    effect: deny
    actions: [subscribe]
    topics: ["plant/secret/#"]
    everyone: true
    mode: audit
"""


def subscribe_packet_v311(packet_id, topic, qos=0):
    return packet(0x82, packet_id.to_bytes(2, "big") + mqtt_string(topic) + bytes([qos]))


def publish_of(body):
    """(topic, payload) of a QoS 0 PUBLISH body."""
    length = int.from_bytes(body[:2], "big")
    return body[2:2 + length].decode(), body[2 + length:]


def denial_series(action, reason, mode, rule):
    return (f'moat_denials_total{{action="{action}",reason="{reason}",mode="{mode}",'
            f'rule="{rule}"}}')


class PerRuleAuditMode(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port, self.metrics_port = free_port(), free_port()
        self.policy = os.path.join(self.workdir, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write(POLICY)
        self.audit_path = os.path.join(self.workdir, "audit.log")
        self.moat = self.start_moat(
            self.broker.port, [plain_listener(self.port)],
            policy=f"policy:\n  file: {self.policy}\n",
            extra=(f"audit:\n  file: {self.audit_path}\n"
                   f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n'))
        self.moat.wait_listening(self.port)

    def client(self, port, client_id):
        """A 3.1.1 client, anonymous (the harness allows it), connected and acknowledged."""
        c = RawClient(port)
        self.addCleanup(c.close)
        c.send(connect_packet(client_id))
        self.assertEqual(c.read_packet()[0], CONNACK)
        return c

    def watcher(self, topic="plant/#"):
        """Subscribed directly at the broker, past moat: sees what really landed."""
        w = self.client(self.broker.port, "direct-watcher")
        w.send(subscribe_packet_v311(1, topic))
        self.assertEqual(w.read_packet(), (SUBACK, b"\x00\x01\x00"))
        return w

    def metrics(self):
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        return urllib.request.urlopen(url, timeout=5).read().decode()

    def counted(self, series, value=1):
        return f"{series} {value}\n" in self.metrics()

    def audit_lines(self):
        if not os.path.exists(self.audit_path):
            return []
        with open(self.audit_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_audit_deny_lands_at_the_broker_and_is_counted_with_its_rule(self):
        watcher = self.watcher()
        device = self.client(self.port, "legacy-plc")
        # Enforced first: acknowledged as if accepted (3.1.1), but never forwarded.
        device.send(publish_packet("plant/valves/1", b"open", qos=1, packet_id=1))
        self.assertEqual(device.read_packet(), (PUBACK, b"\x00\x01"))
        device.send(publish_packet("plant/legacy/temp", b"21.5", qos=1, packet_id=2))
        self.assertEqual(device.read_packet(), (PUBACK, b"\x00\x02"))
        # The audit-mode deny let it through; the enforcing one did not (else it would be
        # first here). An enforcing deny also beats the audit one on the same topic.
        first, body = watcher.read_packet()
        self.assertEqual(first & 0xF0, PUBLISH)
        self.assertEqual(publish_of(body), ("plant/legacy/temp", b"21.5"))
        device.send(publish_packet("plant/legacy/valves/2", b"shut", qos=1, packet_id=3))
        self.assertEqual(device.read_packet(), (PUBACK, b"\x00\x03"))
        device.send(publish_packet("plant/ok", b"marker", qos=1, packet_id=4))
        self.assertEqual(device.read_packet(), (PUBACK, b"\x00\x04"))
        first, body = watcher.read_packet()
        self.assertEqual(publish_of(body), ("plant/ok", b"marker"))

        audited = denial_series("publish", "deny_rule", "audit", "legacy-watch")
        enforced = denial_series("publish", "deny_rule", "enforce", "no-valves")
        wait_until(lambda: self.counted(audited) and self.counted(enforced, 2),
                   what="the audit and enforce denials with their rule ids")
        text = self.metrics()
        self.assertNotIn(denial_series("publish", "deny_rule", "enforce", "legacy-watch"), text)
        self.assertIn(denial_series("publish", "no_rule", "enforce", "default") + " 0\n", text)

        def logged():
            return [(e["mode"], e["rule"], e["topic"]) for e in self.audit_lines()
                    if e["event"] == "denial"]
        wait_until(lambda: len(logged()) == 3, what="three denial lines in the audit log")
        self.assertEqual(logged(), [("enforce", "no-valves", "plant/valves/1"),
                                    ("audit", "legacy-watch", "plant/legacy/temp"),
                                    ("enforce", "no-valves", "plant/legacy/valves/2")])

    def test_subscribe_and_delivery_under_an_audit_deny_are_granted_and_counted(self):
        reader = self.client(self.port, "historian")
        # All that plant/secret/# could deliver the audit-mode deny would withhold: an
        # enforcing policy would refuse it. (plant/# would be granted either way.)
        reader.send(subscribe_packet_v311(7, "plant/secret/#"))
        # Granted by the broker (moat forwarded it): 0x00, not moat's 0x80.
        self.assertEqual(reader.read_packet(), (SUBACK, b"\x00\x07\x00"))
        publisher = self.client(self.broker.port, "direct-publisher")
        publisher.send(publish_packet("plant/secret/recipe", b"42"))
        first, body = reader.read_packet()
        self.assertEqual(publish_of(body), ("plant/secret/recipe", b"42"))
        wait_until(lambda: (self.counted(denial_series("subscribe", "deny_rule", "audit",
                                                       "secret-reads")) and
                            self.counted(denial_series("deliver", "deny_rule", "audit",
                                                       "secret-reads"))),
                   what="the audited SUBSCRIBE and delivery")

    def test_reload_brings_new_rule_ids_and_keeps_the_old_counts(self):
        watcher = self.watcher()
        device = self.client(self.port, "plc")
        device.send(publish_packet("plant/legacy/a", b"1", qos=1, packet_id=1))
        self.assertEqual(device.read_packet(), (PUBACK, b"\x00\x01"))
        self.assertEqual(publish_of(watcher.read_packet()[1]), ("plant/legacy/a", b"1"))
        with open(self.policy, "a") as f:
            f.write("  - {id: late-watch, effect: deny, actions: [publish],\n"
                    "     topics: [plant/late/#], everyone: true, mode: audit}\n")
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.counted('moat_reloads_total{result="success"}'),
                   what="the reload")
        device.send(publish_packet("plant/late/b", b"2", qos=1, packet_id=2))
        self.assertEqual(device.read_packet(), (PUBACK, b"\x00\x02"))
        self.assertEqual(publish_of(watcher.read_packet()[1]), ("plant/late/b", b"2"))
        wait_until(lambda: (self.counted(denial_series("publish", "deny_rule", "audit",
                                                       "late-watch")) and
                            self.counted(denial_series("publish", "deny_rule", "audit",
                                                       "legacy-watch"))),
                   what="the new rule id after the reload, and the old one's count")

    def test_policy_explain_says_the_rule_would_deny_and_exits_zero(self):
        explain = subprocess.run(
            [MOAT_BIN, "policy", "explain", "--config", self.moat.config_path, "--user", "x",
             "publish", "plant/legacy/temp"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(explain.returncode, 0, explain.stderr)
        self.assertEqual(explain.stdout,
                         "allow (audit: would be denied by rule legacy-watch at "
                         f"{self.policy}:7, deny_rule)\n")
        enforced = subprocess.run(
            [MOAT_BIN, "policy", "explain", "--config", self.moat.config_path, "--user", "x",
             "publish", "plant/valves/1"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(enforced.returncode, 3)
        self.assertEqual(enforced.stdout,
                         f"deny rule no-valves at {self.policy}:13 (deny_rule)\n")
