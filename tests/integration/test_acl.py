"""ACL enforcement through moat (issue 6): a real mosquitto behind, real clients, in 3.1.1
and 5.0. What a client may not read never reaches it; what it may not write never
reaches the broker (watched by a subscriber connected to the broker directly)."""

import os
import signal
import subprocess
import time

from harness import (ProxyTestCase, RawClient, collect, connect_packet, free_port, packet,
                     plain_listener, publish, publish_packet, subscribe, wait_until)

CONNACK, SUBACK, PUBACK, DISCONNECT = 0x20, 0x90, 0x40, 0xE0

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


def subscribe_packet(packet_id, filters, version=4):
    body = packet_id.to_bytes(2, "big") + (b"\x00" if version == 5 else b"")
    for topic, qos in filters:
        body += len(topic).to_bytes(2, "big") + topic.encode() + bytes([qos])
    return packet(0x82, body)


class Acl(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port = free_port()
        self.acl = os.path.join(self.workdir, "acl")
        with open(self.acl, "w") as f:
            f.write(ACL)
        self.moat = self.start_moat(self.broker.port, [plain_listener(self.port)],
                                    extra=f"policy:\n  acl_file: {self.acl}\n")
        self.moat.wait_listening(self.port)

    def client(self, user, version=4, client_id=None, will=None):
        c = RawClient(self.port)
        c.send(connect_packet(client_id or f"{user}-c", version=version, username=user,
                              will=will))
        first, body = c.read_packet()
        self.assertEqual(first, CONNACK)
        return c, body

    def watch(self, topic, count=1):
        sub = subscribe(self.broker.port, topic, count, extra=["-W", "3"])
        time.sleep(0.3)
        return sub

    def test_forbidden_publish_never_reaches_the_broker(self):
        for version in (4, 5):
            with self.subTest(version=version):
                watcher = self.watch("a/#", 2)
                alice, _ = self.client("alice", version=version)
                alice.send(publish_packet("a/secret", b"leak", qos=1, packet_id=3,
                                          version=version))
                first, body = alice.read_packet()
                self.assertEqual(first, PUBACK)
                self.assertEqual(body[2:3], b"\x87" if version == 5 else b"")
                alice.send(publish_packet("a/ok", b"fine", version=version))
                _, out, _ = collect(watcher)
                self.assertEqual(out.split("\n")[0], "a/ok fine")
                self.assertNotIn("leak", out)

    def test_forbidden_subscribe_is_refused_and_leaks_nothing(self):
        for version, code in ((4, 0x80), (5, 0x87)):
            with self.subTest(version=version):
                bob, _ = self.client("bob", version=version)
                bob.send(subscribe_packet(7, [("a/#", 0)], version))
                first, body = bob.read_packet()
                self.assertEqual(first, SUBACK)
                self.assertEqual(body[:2], b"\x00\x07")
                self.assertEqual(body[-1], code)
                publish(self.broker.port, "a/x", "not for bob")
                bob.sock.settimeout(0.5)
                with self.assertRaises(OSError):
                    bob.read_packet()

    def test_mixed_subscribe_gets_one_suback_in_order(self):
        alice, _ = self.client("alice", version=5)
        # a/open is granted; b/# is not; users/alice/# is alice's own folder.
        alice.send(subscribe_packet(9, [("a/open", 1), ("b/#", 0), ("users/alice/#", 2)], 5))
        first, body = alice.read_packet()
        self.assertEqual(first, SUBACK)
        self.assertEqual(body[:2], b"\x00\x09")
        props_len = body[2]
        self.assertEqual(list(body[3 + props_len:]), [0x01, 0x87, 0x02])

    def test_deny_inside_allow_holds_for_retained_messages(self):
        publish(self.broker.port, "a/secret", "retained secret", extra=["-r"])
        publish(self.broker.port, "a/open", "retained open", extra=["-r"])
        # a/+ covers a/secret, which alice may not read: moat refuses the whole filter.
        alice, _ = self.client("alice")
        alice.send(subscribe_packet(2, [("a/+", 0)]))
        self.assertEqual(alice.read_packet(), (SUBACK, b"\x00\x02\x80"))
        # a/open alone is granted, and only its retained message arrives.
        alice.send(subscribe_packet(3, [("a/open", 0)]))
        self.assertEqual(alice.read_packet(), (SUBACK, b"\x00\x03\x00"))
        first, body = alice.read_packet()
        self.assertIn(b"retained open", body)

    def test_delivery_is_checked_even_when_the_broker_sends_it(self):
        # A subscription the policy grants today may match a topic it denies after a
        # reload; the delivery check is the last line. Grant a/#, then deny a/later.
        alice, _ = self.client("alice")
        alice.send(subscribe_packet(4, [("a/later", 1)]))
        self.assertEqual(alice.read_packet(), (SUBACK, b"\x00\x04\x01"))
        with open(self.acl, "a") as f:
            f.write("user alice\ntopic deny a/later\n")
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in self.moat.process.log(), what="the reload")
        publish(self.broker.port, "a/later", "withheld", qos=1)
        alice.sock.settimeout(0.7)
        with self.assertRaises(OSError):
            alice.read_packet()
        # moat completed the broker's QoS 1 flow itself, so the session is not stuck: the
        # next allowed message still arrives.
        with open(self.acl, "a") as f:
            f.write("user alice\ntopic read a/next\n")
        alice.send(subscribe_packet(5, [("a/next", 1)]))
        alice.sock.settimeout(5)
        self.assertEqual(alice.read_packet(), (SUBACK, b"\x00\x05\x01"))
        publish(self.broker.port, "a/next", "delivered", qos=1)
        first, body = alice.read_packet()
        self.assertEqual(first & 0xF0, 0x30)
        self.assertIn(b"delivered", body)
    def test_forbidden_will_refuses_the_connect(self):
        for version, code in ((4, 5), (5, 0x87)):
            with self.subTest(version=version):
                c = RawClient(self.port)
                c.send(connect_packet("w", version=version, username="alice",
                                      will=("a/secret", b"x", 0, False)))
                first, body = c.read_packet()
                self.assertEqual((first, body[1]), (CONNACK, code))
        _, body = self.client("alice", will=("will/alice", b"bye", 0, False))
        self.assertEqual(body, b"\x00\x00")

    def test_identities_with_wildcards_gain_nothing(self):
        for user in ("+", "#", "a/b"):
            with self.subTest(user=user):
                c, _ = self.client(user)
                # users/%u/# with %u = "+" must not become users/+/#
                c.send(publish_packet("users/other/x", b"x", qos=1, packet_id=1))
                self.assertEqual(c.read_packet(), (PUBACK, b"\x00\x01"))
                c.send(subscribe_packet(2, [("users/other/#", 0)]))
                self.assertEqual(c.read_packet(), (SUBACK, b"\x00\x02\x80"))

    def test_shared_subscriptions_are_judged_on_their_inner_filter(self):
        alice, _ = self.client("alice", version=5)
        alice.send(subscribe_packet(5, [("$share/g/a/open", 0), ("$share/g/b/x", 0)], 5))
        first, body = alice.read_packet()
        self.assertEqual(first, SUBACK)
        self.assertEqual(list(body[3 + body[2]:]), [0x00, 0x87])

    def test_topic_aliases_are_judged_on_the_topic_they_stand_for(self):
        alice, body = self.client("alice", version=5)
        watcher = self.watch("a/#", 1)
        alias = b"\x03\x23\x00\x01"  # properties: Topic Alias 1
        secret = packet(0x32, (8).to_bytes(2, "big") + b"a/secret" + b"\x00\x01" + alias + b"x")
        alice.send(secret)
        first, ack = alice.read_packet()
        self.assertEqual((first, ack[2:3]), (PUBACK, b"\x87"))
        only_alias = packet(0x32, b"\x00\x00" + b"\x00\x02" + alias + b"again")
        alice.send(only_alias)
        first, ack = alice.read_packet()
        self.assertEqual((first, ack[2:3]), (PUBACK, b"\x87"))
        _, out, _ = collect(watcher)
        self.assertNotIn("again", out)

    def test_reload_under_live_traffic_takes_effect_at_once(self):
        alice, _ = self.client("alice")
        alice.send(subscribe_packet(1, [("a/feed", 0)]))
        self.assertEqual(alice.read_packet(), (SUBACK, b"\x00\x01\x00"))
        publish(self.broker.port, "a/feed", "before")
        self.assertIn(b"before", alice.read_packet()[1])
        with open(self.acl, "w") as f:
            f.write(ACL.replace("topic readwrite a/#", "topic readwrite b/#"))
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in self.moat.process.log(), what="the reload")
        # Publishing is refused at once, and the subscription is removed at the broker.
        alice.send(publish_packet("a/feed", b"after", qos=1, packet_id=2))
        self.assertEqual(alice.read_packet(), (PUBACK, b"\x00\x02"))
        publish(self.broker.port, "a/feed", "after reload")
        alice.sock.settimeout(0.7)
        with self.assertRaises(OSError):
            alice.read_packet()

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
                               extra=(f"policy:\n  acl_file: {acl}\n  mode: audit\n"
                                      f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n'))
        moat.wait_listening(port)
        watcher = subscribe(broker.port, "b/#", 1)
        time.sleep(0.3)
        c = RawClient(port)
        c.send(connect_packet("auditor", username="alice"))
        self.assertEqual(c.read_packet()[0], CONNACK)
        c.send(publish_packet("b/x", b"would be denied"))
        _, out, _ = collect(watcher)
        self.assertEqual(out.strip(), "b/x would be denied")
        import urllib.request

        def audited():
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read()
            return b'moat_denials_total{action="publish",reason="no_rule",mode="audit"} 1' in text
        wait_until(audited, what="the audit-mode denial to be counted")
