"""Issue 15's session quotas and per-rule payload limits against a real mosquitto, in
MQTT 3.1.1 and 5.0: each limit is hit and refused with its version's code, counted in
moat_denials_total, while the same session keeps working for what is within its limits.
Each test has its own broker and moat, so counters start at zero.

What must not land at the broker is watched by a client of the broker itself, and proved
absent by a marker published after it (a connection keeps order), so no test sleeps to
show that nothing came."""

import itertools
import os
import unittest

from harness import (MQTT_DISCONNECT, MQTT_PUBCOMP, MQTT_PUBREC, MQTT_UNSUBACK, MqttClient,
                     ProxyTestCase, free_port, metric, packet, plain_listener, read_varint,
                     subscribe_packet, unsubscribe_packet, wait_for_metric, wait_until)

POLICY = """\
rules:
  - id: readings
    effect: allow
    actions: [publish, subscribe]
    topics: ["sensors/#"]
    everyone: true
    max_payload: 16
  - id: open
    effect: allow
    actions: [publish, subscribe]
    topics: ["q/#", "marks/#"]
    everyone: true
"""

LIMITS = """\
limits:
  max_subscriptions: 3
  max_topic_length: 40
  max_topic_levels: 5
  max_filters_per_subscribe: 4
  max_inflight: 3
"""

NAMES = {4: "3.1.1", 5: "5.0"}
_ids = itertools.count(1)


class Quotas(ProxyTestCase):
    log_tail_lines = 200

    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        policy = os.path.join(self.workdir, "policy.yaml")
        with open(policy, "w") as f:
            f.write(POLICY)
        self.port, self.metrics_port = free_port(), free_port()
        self.moat = moat = self.start_moat(self.broker.port, [plain_listener(self.port)],
                               policy=f"policy:\n  file: {policy}\n",
                               extra=LIMITS + f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        moat.wait_listening(self.port)

    def client(self, version, port=None, code=0, **connect):
        c = MqttClient(port or self.port, version, f"quota-{next(_ids)}", **connect)
        self.addCleanup(c.close)
        self.assertEqual(c.connack()[1], code, f"CONNACK in {NAMES[version]}")
        return c

    def watch(self, filters):
        """A client of the broker itself, subscribed to `filters` and marks/#."""
        watcher = self.client(5, port=self.broker.port)
        wanted = [*filters, "marks/#"]
        self.assertEqual(watcher.subscribe(1, [(f, 0) for f in wanted]), [0] * len(wanted))
        return watcher

    def landed(self, watcher, sender):
        """Topics and payloads that reached the broker from now until a marker `sender`
        publishes."""
        marker = f"marker-{next(_ids)}".encode()
        sender.publish_flow("marks/x", marker, qos=1, packet_id=999)
        return [(d.topic, d.payload) for d in watcher.publishes_until(marker)]

    def denials(self, reason, **labels):
        return dict(name="moat_denials_total", reason=reason, mode="enforce", **labels)

    def count(self, reason, **labels):
        return metric(self.metrics_port, **self.denials(reason, **labels))

    def wait_count(self, value, reason, **labels):
        wait_for_metric(self.metrics_port, value=value, **self.denials(reason, **labels))

    def assert_closed(self, client, version, reason):
        """MQTT 5 clients hear DISCONNECT `reason` first; earlier ones are just closed."""
        if version == 5:
            first, body = client.expect(MQTT_DISCONNECT)
            self.assertEqual(body[0], reason)
        self.assertTrue(client.closed_by_peer(), "the session was not closed")

    # ---- counts ------------------------------------------------------------------------

    def test_max_subscriptions(self):
        for version in (4, 5):
            with self.subTest(version=NAMES[version]):
                before = self.count("subscription_limit", action="subscribe")
                c = self.client(version)
                self.assertEqual(c.subscribe(1, [("q/1", 1), ("q/2", 1), ("q/3", 1)]), [1, 1, 1])
                refused = 0x97 if version == 5 else 0x80
                self.assertEqual(c.subscribe(2, [("q/4", 1)]), [refused])
                # A filter granted again replaces its subscription; it takes no new one.
                self.assertEqual(c.subscribe(3, [("q/1", 0)]), [0])
                c.unsubscribe(4, ["q/1"])
                self.assertEqual(c.subscribe(5, [("q/4", 1)]), [1])
                self.wait_count(before + 1, "subscription_limit", action="subscribe")
                # The audit line names the client and the setting it ran into.
                wait_until(lambda: any(
                    '"detail":"limits.max_subscriptions"' in line and c.client_id in line
                    for line in self.moat.process.log().splitlines()), what="the audit line")
                # The session keeps working: q/4 is delivered.
                self.client(5, port=self.broker.port).publish_flow("q/4", b"hello", qos=1)
                self.assertEqual(c.next_publish().payload, b"hello")
                c.ping()

    def test_topic_length_and_levels(self):
        long_topic = "q/" + "x" * 39  # 41 bytes
        deep_topic = "q/a/b/c/d/e"  # 6 levels
        for version in (4, 5):
            with self.subTest(version=NAMES[version]):
                before = self.count("topic_length", action="publish")
                watcher = self.watch(["q/#"])
                c = self.client(version)
                refused = 0x90 if version == 5 else 0
                self.assertEqual(c.publish_flow(long_topic, b"1", qos=1, packet_id=1), refused)
                self.assertEqual(c.publish_flow(deep_topic, b"2", qos=1, packet_id=2), refused)
                self.assertEqual(c.publish_flow("q/a/b/c/d", b"3", qos=1, packet_id=3), 0)
                self.assertEqual(self.landed(watcher, c), [("q/a/b/c/d", b"3")])
                self.wait_count(before + 1, "topic_length", action="publish")
                filter_refused = 0x8F if version == 5 else 0x80
                self.assertEqual(c.subscribe(4, [("q/+/+/+/+/#", 0), ("q/+/+/+/#", 0)]),
                                 [filter_refused, 0])
                c.ping()

    def test_will_topic_over_the_limits_is_refused_at_connect(self):
        for version in (4, 5):
            with self.subTest(version=NAMES[version]):
                before = self.count("topic_levels", action="will")
                self.client(version, code=0x90 if version == 5 else 5,
                            will=("q/a/b/c/d/e", b"gone", 0, False))
                self.wait_count(before + 1, "topic_levels", action="will")
                self.client(version, will=("q/a/b/c/d", b"gone", 0, False)).ping()

    def test_too_many_filters_in_one_packet_end_the_session(self):
        for version in (4, 5):
            with self.subTest(version=NAMES[version]):
                before = self.count("subscribe_filters", action="subscribe")
                bystander = self.client(version)
                c = self.client(version)
                c.send(subscribe_packet(1, [(f"q/{i}", 0) for i in range(5)], version))
                self.assert_closed(c, version, 0x97)
                c = self.client(version)
                c.send(unsubscribe_packet(2, [f"q/{i}" for i in range(5)], version))
                self.assert_closed(c, version, 0x97)
                self.wait_count(before + 2, "subscribe_filters", action="subscribe")
                # Four filters are within the limit, and other sessions never noticed.
                self.assertEqual(bystander.subscribe(3, [(f"q/{i}", 0) for i in range(3)]),
                                 [0, 0, 0])
                bystander.ping()

    def test_unsubscribe_filters_over_the_limits_are_answered_by_moat(self):
        c = self.client(5)
        self.assertEqual(c.subscribe(1, [("q/1", 0)]), [0])
        c.send(unsubscribe_packet(2, ["q/1", "q/a/b/c/d/e"], 5))
        _, body = c.expect(MQTT_UNSUBACK)
        size, offset = read_varint(body, 2)
        # The broker's answer for q/1, moat's for the filter it kept from the broker.
        self.assertEqual(list(body[offset + size:]), [0x00, 0x8F])

    def test_inflight(self):
        for version in (4, 5):
            with self.subTest(version=NAMES[version]):
                before = self.count("inflight_limit", action="publish")
                c = MqttClient(self.port, version, f"quota-{next(_ids)}")
                self.addCleanup(c.close)
                first, body = c.expect(0x20)
                self.assertEqual(body[1], 0)
                if version == 5:
                    # Told in the CONNACK: mosquitto's own Receive Maximum is larger.
                    self.assertIn(b"\x21\x00\x03", body[2:])
                # QoS 2 flows stay open until PUBCOMP, however fast the broker is.
                for packet_id in (1, 2, 3):
                    c.publish("q/inflight", b"x", qos=2, packet_id=packet_id)
                for packet_id in (1, 2, 3):
                    self.assertEqual(c.ack(MQTT_PUBREC, packet_id), 0)
                c.send(packet(0x62, (1).to_bytes(2, "big")))
                self.assertEqual(c.ack(MQTT_PUBCOMP, 1), 0)
                # One flow ended, so one more may begin.
                # (MQTT 5: 0x10, no matching subscribers, is a success too.)
                self.assertLess(c.publish_flow("q/inflight", b"x", qos=1, packet_id=4), 0x80)
                c.publish("q/inflight", b"x", qos=2, packet_id=5)
                self.assertEqual(c.ack(MQTT_PUBREC, 5), 0)
                c.publish("q/inflight", b"x", qos=1, packet_id=6)
                self.assert_closed(c, version, 0x93)
                self.wait_count(before + 1, "inflight_limit", action="publish")

    # ---- max_payload -------------------------------------------------------------------

    def test_max_payload(self):
        for version in (4, 5):
            with self.subTest(version=NAMES[version]):
                before = self.count("payload_limit", action="publish", rule="readings")
                watcher = self.watch(["sensors/#"])
                c = self.client(version)
                refused = 0x97 if version == 5 else 0
                self.assertEqual(c.publish_flow("sensors/t", b"x" * 17, qos=1, packet_id=1),
                                 refused)
                self.assertEqual(c.publish_flow("sensors/t", b"y" * 17, qos=2, packet_id=2),
                                 refused)
                c.publish("sensors/t", b"z" * 17)
                self.assertEqual(c.publish_flow("sensors/t", b"s" * 16, qos=1, packet_id=3), 0)
                # Other rules grant other topics any size.
                self.assertLess(c.publish_flow("q/big", b"b" * 1000, qos=1, packet_id=4), 0x80)
                self.assertEqual(self.landed(watcher, c), [("sensors/t", b"s" * 16)])
                self.wait_count(before + 3, "payload_limit", action="publish", rule="readings")

    def test_a_will_over_max_payload_is_refused_at_connect(self):
        for version in (4, 5):
            with self.subTest(version=NAMES[version]):
                before = self.count("payload_limit", action="will", rule="readings")
                self.client(version, code=0x97 if version == 5 else 5,
                            will=("sensors/w", b"w" * 17, 0, False))
                self.wait_count(before + 1, "payload_limit", action="will", rule="readings")
                self.client(version, will=("sensors/w", b"w" * 16, 0, False)).ping()


if __name__ == "__main__":
    unittest.main()
