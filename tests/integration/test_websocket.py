"""MQTT over WebSocket and secure WebSocket listeners (issue 4)."""

import unittest

from harness import (CONNACK_PACKET, ProxyTestCase, WebSocketClient, connect_packet, free_port,
                     publish, publish_packet, tls_listener, watcher)


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


if __name__ == "__main__":
    unittest.main()
