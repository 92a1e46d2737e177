"""Maximum Packet Size towards an MQTT 5 broker (issue 19): moat's CONNECT tells the broker
the largest packet moat takes from it for that client (limits.max_packet_size, or the
client's own smaller value), so the real mosquitto drops a message too large for moat
instead of sending it, and the subscriber stays connected and gets the next one. A
3.1.1 CONNECT has no such property: there moat ends the session (the README says so)."""

import os
import unittest

from harness import MqttClient, ProxyTestCase, free_port, plain_listener, publish

LIMIT = 2048


class BrokerPacketLimitTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port = free_port()
        self.moat = self.start_moat(self.broker.port, [plain_listener(self.port)],
                                    extra=f"limits:\n  max_packet_size: {LIMIT}\n")
        self.moat.wait_listening(self.port)
        self.big = os.path.join(self.workdir, "big")
        with open(self.big, "wb") as f:
            f.write(b"x" * (LIMIT * 2))

    def test_the_broker_keeps_what_moat_could_not_deliver_and_the_session_goes_on(self):
        for asked in (None, LIMIT * 8):  # no limit of its own, or a larger one than moat's
            with self.subTest(client_limit=asked):
                properties = b"" if asked is None else b"\x27" + asked.to_bytes(4, "big")
                client = MqttClient(self.port, 5, f"limited-{asked}", properties=properties)
                self.assertEqual(client.connack()[1], 0)
                self.assertEqual(client.subscribe(1, [("big/#", 0)]), [0])
                # Straight to the broker, as any other client of it would.
                self.assertEqual(publish(self.broker.port, "big/one", file=self.big).returncode, 0)
                self.assertEqual(publish(self.broker.port, "big/two", "small").returncode, 0)
                delivery = client.next_publish()
                self.assertEqual((delivery.topic, delivery.payload), ("big/two", b"small"))
                client.close()

    def test_a_311_client_has_no_limit_to_tell_and_is_ended(self):
        client = MqttClient(self.port, 4, "old")
        self.assertEqual(client.connack()[1], 0)
        self.assertEqual(client.subscribe(1, [("big/#", 0)]), [0])
        self.assertEqual(publish(self.broker.port, "big/one", file=self.big).returncode, 0)
        self.assertTrue(client.closed_by_peer())


if __name__ == "__main__":
    unittest.main()
