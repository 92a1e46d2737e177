"""MQTT over WebSocket and secure WebSocket listeners (issue 4), and the Origin values a
listener accepts (issue 14, item 9)."""

import json
import os
import unittest

from harness import (CONNACK_PACKET, ProxyTestCase, WebSocketClient, connect_packet, free_port,
                     metric, publish, publish_packet, publish_through, tls_listener,
                     wait_for_metric, wait_until, watcher)


def ws_listener(port, path=None):
    text = f'  - bind: "127.0.0.1:{port}"\n    protocol: websocket\n'
    if path:
        text += f"    websocket_path: {path}\n"
    return text


class WebSocketListeners(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.ws_port, self.wss_port = free_port(), free_port()
        self.moat = self.start_moat(self.broker.port, [
            ws_listener(self.ws_port),
            tls_listener(self.wss_port, "    protocol: websocket\n    websocket_path: /secure\n"),
        ])
        self.moat.wait_listening(self.ws_port)
        self.moat.wait_listening(self.wss_port)

    def test_upgrade_answers_with_the_mqtt_subprotocol(self):
        client = WebSocketClient(self.ws_port)
        self.assertEqual(client.status, 101)
        self.assertEqual(client.headers.get("sec-websocket-protocol"), "mqtt")

    def test_publish_over_ws_reaches_the_broker(self):
        seen = watcher(self.broker.port, "ws/in")
        client = WebSocketClient(self.ws_port)
        client.send(connect_packet("ws-publisher"))
        self.assertEqual(client.read_packet(), CONNACK_PACKET)
        client.send(publish_packet("ws/in", b"over websocket"))
        delivery = seen.next_publish()
        self.assertEqual((delivery.topic, delivery.payload), ("ws/in", b"over websocket"))

    def test_subscribe_over_wss_receives_from_the_broker(self):
        client = WebSocketClient(self.wss_port, tls=True, path="/secure")
        self.assertEqual(client.status, 101)
        client.send(connect_packet("wss-subscriber", version=5))
        self.assertEqual(client.read_packet()[0], 0x20)
        # SUBSCRIBE packet id 1, no properties, "ws/out" QoS 0.
        client.send(bytes([0x82, 12, 0, 1, 0, 0, 6]) + b"ws/out" + bytes([0]))
        first, _ = client.read_packet()
        self.assertEqual(first, 0x90)  # SUBACK
        result = publish(self.broker.port, "ws/out", "from the broker")
        self.assertEqual(result.returncode, 0, result.stderr)
        first, body = client.read_packet()
        self.assertEqual(first & 0xF0, 0x30)
        self.assertTrue(body.endswith(b"from the broker"))

    def test_packets_split_across_frames_and_merged_in_one(self):
        seen = watcher(self.broker.port, "ws/split/#")
        client = WebSocketClient(self.ws_port)
        connect = connect_packet("ws-split")
        client.send(connect[:5])
        client.send(connect[5:])
        self.assertEqual(client.read_packet(), CONNACK_PACKET)
        client.send(publish_packet("ws/split/a", b"1") + publish_packet("ws/split/b", b"2"))
        received = [(d.topic, d.payload) for d in (seen.next_publish() for _ in range(2))]
        self.assertEqual(received, [("ws/split/a", b"1"), ("ws/split/b", b"2")])

    def test_wrong_path_is_answered_404(self):
        client = WebSocketClient(self.ws_port, path="/elsewhere")
        self.assertEqual(client.status, 404)

    def test_missing_mqtt_subprotocol_is_answered_400(self):
        client = WebSocketClient(self.ws_port, subprotocol=None)
        self.assertEqual(client.status, 400)

    def test_text_frames_are_refused(self):
        client = WebSocketClient(self.ws_port)
        client.send(connect_packet("ws-text"), opcode=0x1)
        self.assertTrue(client.closed_by_peer())

    def test_any_origin_upgrades_without_websocket_origins(self):
        for port, tls, path in ((self.ws_port, False, "/mqtt"), (self.wss_port, True, "/secure")):
            client = WebSocketClient(port, tls=tls, path=path,
                                     headers=[("Origin", "https://anywhere.example")])
            self.assertEqual(client.status, 101, (port, client.headers))


ALLOWED = "https://hmi.plant.example"


class WebSocketOrigins(ProxyTestCase):
    """Listeners with websocket_origins, over ws and wss, with real TLS and mosquitto."""

    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.ws_port, self.wss_port, self.metrics_port = free_port(), free_port(), free_port()
        self.audit_path = os.path.join(self.workdir, "audit.log")
        origins = f'    websocket_origins: ["{ALLOWED}", "http://localhost:8080"]\n'
        self.moat = self.start_moat(self.broker.port, [
            f'  - bind: "127.0.0.1:{self.ws_port}"\n    name: ws\n    protocol: websocket\n'
            + origins,
            tls_listener(self.wss_port, "    name: wss\n    protocol: websocket\n" + origins),
        ], extra=(f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n'
                  f"audit:\n  file: {self.audit_path}\n"
                  # One I/O thread: a connection that follows another is handled after it.
                  "threads: 1\n"))
        for port in (self.ws_port, self.wss_port, self.metrics_port):
            self.moat.wait_listening(port)

    def listeners(self):
        return (("ws", self.ws_port, False), ("wss", self.wss_port, True))

    def refusals(self):
        """Audit lines for refused connections, each parsed as the JSON it must be."""
        if not os.path.exists(self.audit_path):
            return []
        with open(self.audit_path, "rb") as f:
            lines = [json.loads(line.decode("ascii")) for line in f if line.strip()]
        return [line for line in lines if line["event"] == "refused_connection"]

    def assert_publishes(self, client, name):
        delivery = publish_through(client, self.broker.port, f"origin/{name}", b"from the HMI",
                                   f"origin-{name}")
        self.assertEqual((delivery.topic, delivery.payload), (f"origin/{name}", b"from the HMI"))

    def test_a_listed_origin_connects_and_publishes(self):
        for name, port, tls in self.listeners():
            with self.subTest(listener=name):
                # Browsers send lower case; an upper-case host or the default port means
                # the same origin.
                origin = "https://HMI.plant.example:443" if tls else ALLOWED
                client = WebSocketClient(port, tls=tls, headers=[("Origin", origin)])
                self.assertEqual(client.status, 101)
                self.assert_publishes(client, name)

    def test_a_client_without_origin_connects_and_publishes(self):
        for name, port, tls in self.listeners():
            with self.subTest(listener=name):
                client = WebSocketClient(port, tls=tls)
                self.assertEqual(client.status, 101)
                self.assert_publishes(client, f"{name}-no-origin")

    def test_an_unlisted_origin_is_refused_with_403_counted_and_audited(self):
        for name, port, tls in self.listeners():
            with self.subTest(listener=name):
                client = WebSocketClient(port, tls=tls,
                                         headers=[("Origin", "https://evil.example")])
                self.assertEqual(client.status, 403)
                self.assertTrue(client.closed_by_peer())
                self.assertEqual(wait_for_metric(self.metrics_port,
                                                 "moat_connections_refused_total", 1,
                                                 listener=name, reason="websocket_origin"), 1)
                wait_until(lambda: any(r["listener"] == name for r in self.refusals()),
                           what=f"the audit line for {name}")
                line = next(r for r in self.refusals() if r["listener"] == name)
                self.assertEqual((line["reason"], line["address"]),
                                 ("websocket_origin", "127.0.0.1"))
                self.assertEqual(line["detail"], 'origin "https://evil.example"')
        # Nothing got as far as MQTT.
        self.assertEqual(metric(self.metrics_port, "moat_connect_total"), 0)

    def test_a_second_origin_header_is_refused_even_if_one_is_listed(self):
        client = WebSocketClient(self.ws_port, headers=[("Origin", ALLOWED),
                                                        ("Origin", "https://evil.example")])
        self.assertEqual(client.status, 403)
        wait_until(lambda: self.refusals(), what="the audit line")
        self.assertEqual(self.refusals()[0]["detail"],
                         f'origin "{ALLOWED}, https://evil.example"')

    def test_a_hostile_origin_is_escaped_and_cut_in_the_audit_line(self):
        hostile = b'https://a"b\\c\xff' + b"x" * 500
        client = WebSocketClient(self.ws_port, headers=[("Origin", hostile)])
        self.assertEqual(client.status, 403)
        wait_until(lambda: self.refusals(), what="the audit line")
        detail = self.refusals()[0]["detail"]
        self.assertTrue(detail.startswith('origin "https://a\\x22b\\x5Cc\\xFFxxx'), detail)
        self.assertTrue(detail.endswith('x..."'), detail)
        self.assertLess(len(detail), 160)

    def test_other_failed_upgrades_count_as_websocket_upgrade(self):
        # wait_listening's probe of the wss port, closed before any TLS, is one TLS failure.
        tls_failures = wait_for_metric(self.metrics_port, "moat_tls_handshake_failures_total", 1)
        client = WebSocketClient(self.ws_port, path="/elsewhere",
                                 headers=[("Origin", ALLOWED)])
        self.assertEqual(client.status, 404)
        client = WebSocketClient(self.wss_port, tls=True, subprotocol=None)
        self.assertEqual(client.status, 400)
        for name in ("ws", "wss"):
            self.assertEqual(wait_for_metric(self.metrics_port, "moat_connections_refused_total",
                                             1, listener=name, reason="websocket_upgrade"), 1)
        self.assertEqual(metric(self.metrics_port, "moat_connections_refused_total",
                                reason="websocket_origin"), 0)
        # An upgrade refused after a good TLS handshake is no TLS failure; an honest
        # session after it marks the point by which it would have been counted.
        self.assert_publishes(WebSocketClient(self.wss_port, tls=True), "after-refusal")
        self.assertEqual(metric(self.metrics_port, "moat_tls_handshake_failures_total"),
                         tls_failures)
        wait_until(lambda: len(self.refusals()) == 2, what="two audit lines")
        self.assertEqual({(r["listener"], r["reason"]) for r in self.refusals()},
                         {("ws", "websocket_upgrade"), ("wss", "websocket_upgrade")})


if __name__ == "__main__":
    unittest.main()
