"""ACL enforcement through moat (issue 6): what is not about one protocol version. Each
publish/subscribe/delivery/Will/reload semantic is tested in 3.1, 3.1.1 and 5.0, with an
acl_file and with a native policy file, in test_acl_versions.py."""

import os
import signal
import subprocess
import urllib.request

from harness import (MqttClient, ProxyTestCase, RawClient, connect_packet, free_port,
                     password_file, password_of, plain_listener, publish_packet, wait_until)

CONNACK, PUBACK = 0x20, 0x40

ACL = """\
# alice may use a/#, but never a/secret
user alice
topic readwrite a/#
topic deny a/secret
topic write will/alice

# everyone: their own folder, as a literal level
pattern readwrite users/%u/#
pattern read shared/%c
"""


USERS = ["alice", "bob"]


class Acl(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port = free_port()
        self.acl = os.path.join(self.workdir, "acl")
        with open(self.acl, "w") as f:
            f.write(ACL)
        self.passwd = password_file(self.workdir, USERS)
        self.moat = self.start_moat(self.broker.port, [plain_listener(self.port)],
                                    auth=f"auth:\n  allow_anonymous: true\n"
                                    f"  password_file: {self.passwd}\n",
                                    policy=f"policy:\n  acl_file: {self.acl}\n")
        self.moat.wait_listening(self.port)

    def client(self, user, version=4, client_id=None, will=None):
        c = RawClient(self.port)
        self.addCleanup(c.close)
        c.send(connect_packet(client_id or f"{user}-c", version=version, username=user,
                              password=password_of(user) if user else None, will=will))
        first, body = c.read_packet()
        self.assertEqual(first, CONNACK)
        return c, body

    def test_broken_policy_reload_keeps_the_old_policy_and_says_where(self):
        alice, _ = self.client("alice")
        with open(self.acl, "a") as f:
            f.write("topic sometimes a/x\n")
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in self.moat.process.log(), what="the refusal")
        self.assertIn(f"{self.acl}:10:", self.moat.process.log())
        alice.send(publish_packet("a/x", b"still allowed", qos=1, packet_id=5))
        self.assertEqual(alice.read_packet(), (PUBACK, b"\x00\x05"))

    def test_policy_explain_names_the_rule(self):
        explain = subprocess.run(
            [os.environ.get("MOAT_BIN", ""), "policy", "explain", "--config",
             self.moat.config_path, "--user", "alice", "publish", "a/secret"],
            capture_output=True, text=True)
        self.assertEqual(explain.returncode, 3)
        self.assertIn(f"{self.acl}:4", explain.stdout)


class AuditMode(ProxyTestCase):
    def test_audit_mode_lets_denials_through_but_counts_them(self):
        broker = self.start_broker()
        port, metrics_port = free_port(), free_port()
        acl = os.path.join(self.workdir, "acl")
        with open(acl, "w") as f:
            f.write("user alice\ntopic read a/#\n")
        moat = self.start_moat(broker.port, [plain_listener(port)],
                               auth=("auth:\n  password_file: "
                                     f"{password_file(self.workdir, ['alice'])}\n"),
                               policy=f"policy:\n  acl_file: {acl}\n  mode: audit\n",
                               extra=f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n')
        moat.wait_listening(port)
        watcher = MqttClient(broker.port, 5, "watcher")
        self.addCleanup(watcher.close)
        self.assertEqual(watcher.connack()[1], 0)
        self.assertEqual(watcher.subscribe(1, [("b/#", 0)]), [0])
        c = RawClient(port)
        self.addCleanup(c.close)
        c.send(connect_packet("auditor", username="alice", password=password_of("alice")))
        self.assertEqual(c.read_packet()[0], CONNACK)
        c.send(publish_packet("b/x", b"would be denied"))
        landed = watcher.next_publish()
        self.assertEqual((landed.topic, landed.payload), ("b/x", b"would be denied"))

        def audited():
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read()
            return (b'moat_denials_total{action="publish",reason="no_rule",mode="audit",'
                    b'rule="default"} 1') in text
        wait_until(audited, what="the audit-mode denial to be counted")
