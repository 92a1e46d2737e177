"""Issue 18: a Sparkplug B session and a Unified Namespace through moat over TLS, with a
real mosquitto behind, under the policy templates moat ships (deploy/examples/sparkplug-b
and deploy/examples/uns, used as they are).

The Sparkplug session is driven by paho-mqtt clients speaking payloads made with the
Python code protoc generates from moat's own sparkplug_b.proto (sparkplug.py): the
primary host's retained STATE, an edge node's NBIRTH with NDEATH as its Will, DBIRTH,
DDATA, an NCMD from the host arriving at the edge, and the NDEATH the broker sends when
the edge's connection drops without a DISCONNECT. Raw clients then show what is refused
and with which code: another node's topic, an NCMD from an edge, a payload that is not
Sparkplug, and a Will that is not.

What must not reach a subscriber is proved absent by a marker published after it on the
same connection (a connection keeps order), never by sleeping."""

import json
import os
import queue
import socket
import ssl
import unittest

import paho.mqtt.client as mqtt

import sparkplug
from harness import (REPO, Certs, MqttClient, ProxyTestCase, free_port, password_file,
                     password_of, tls_listener, wait_for_metric)

EXAMPLES = os.path.join(REPO, "deploy", "examples")
GROUP = "Plant1"  # the group id the shipped template is written for
TIMEOUT = 10


def tls_context():
    return ssl.create_default_context(cafile=Certs.path("ca.crt"))


class Paho:
    """A paho-mqtt 3.1.1 client over TLS whose deliveries queue up for the test."""

    def __init__(self, port, user, will=None):
        self.user = user
        self.dropped = False
        self.client = mqtt.Client(client_id=f"sparkplug-{user}", clean_session=True,
                                  protocol=mqtt.MQTTv311)
        self.client.tls_set(ca_certs=Certs.path("ca.crt"))
        self.client.username_pw_set(user, password_of(user))
        if will:
            self.client.will_set(*will)
        self.messages = queue.Queue()
        self.connected = queue.Queue()
        self.acked = queue.Queue()
        self.client.on_connect = lambda _c, _u, _f, rc: self.connected.put(rc)
        self.client.on_subscribe = lambda _c, _u, mid, granted: self.acked.put(granted)
        self.client.on_message = lambda _c, _u, m: self.messages.put(m)
        self.client.connect("127.0.0.1", port, keepalive=60)
        self.client.loop_start()
        rc = self.connected.get(timeout=TIMEOUT)
        if rc != 0:
            raise AssertionError(f"{user}: CONNACK {rc}")

    def subscribe(self, filters):
        self.client.subscribe([(f, 1) for f in filters])
        granted = self.acked.get(timeout=TIMEOUT)
        if any(g >= 0x80 for g in granted):
            raise AssertionError(f"{self.user}: SUBSCRIBE {filters} refused: {granted}")

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=TIMEOUT)
        if not info.is_published():
            raise AssertionError(f"{self.user}: PUBLISH to {topic} not acknowledged")

    def next(self, topic):
        """The next delivery, which must be on `topic`."""
        try:
            message = self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"{self.user}: nothing arrived, expected {topic}") from None
        if message.topic != topic:
            raise AssertionError(f"{self.user}: got {message.topic}, expected {topic}")
        return message

    def drop(self):
        """Ends the connection as a crash or a cut cable would: no DISCONNECT."""
        self.client.loop_stop()
        sock = self.client.socket()
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        self.dropped = True

    def close(self):
        if not self.dropped:
            self.client.disconnect()
            self.client.loop_stop()


def topic(kind, node, device=None):
    return f"spBv1.0/{GROUP}/{kind}/{node}" + (f"/{device}" if device else "")


class TemplateProxy(ProxyTestCase):
    """moat over TLS in front of a mosquitto, with one of the shipped policy templates and
    a password for each of `users`."""
    template = None
    users = ()

    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port, self.metrics_port = free_port(), free_port()
        passwd = password_file(self.workdir, self.users)
        policy = os.path.join(EXAMPLES, self.template, "policy.yaml")
        self.moat = self.start_moat(
            self.broker.port, [tls_listener(self.port)],
            auth=f"auth:\n  password_file: {passwd}\n  allow_anonymous: false\n",
            policy=f"policy:\n  file: {policy}\n",
            extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        self.moat.wait_listening(self.port)

    def raw(self, user, code=0, **connect):
        """A raw MQTT 5 client of moat over TLS, logged in as `user`."""
        client = MqttClient(self.port, 5, f"raw-{user}-{free_port()}", tls=tls_context(),
                            timeout=TIMEOUT, username=user, password=password_of(user),
                            **connect)
        self.addCleanup(client.close)
        self.assertEqual(client.connack()[1], code, f"CONNACK for {user}")
        return client

    def paho(self, user, will=None):
        client = Paho(self.port, user, will)
        self.addCleanup(client.close)
        return client

    def assert_denials(self, count, **labels):
        self.assertEqual(wait_for_metric(self.metrics_port, "moat_denials_total", count,
                                         mode="enforce", **labels), count, labels)


class SparkplugSession(TemplateProxy):
    template = "sparkplug-b"
    users = ("scada", "edge1", "edge2", "historian")

    def test_a_complete_session_passes_and_the_ndeath_will_arrives_on_a_dropped_edge(self):
        # The primary host: its STATE Will, then its retained STATE online (JSON in 3.0).
        state_topic = "spBv1.0/STATE/scada"
        offline = json.dumps({"online": False, "timestamp": sparkplug.now_ms()})
        host = self.paho("scada", will=(state_topic, offline, 1, True))
        host.subscribe(["spBv1.0/#"])
        online = json.dumps({"online": True, "timestamp": sparkplug.now_ms()})
        host.publish(state_topic, online, qos=1, retain=True)
        self.assertEqual(host.next(state_topic).payload.decode(), online)

        # The edge node: NDEATH with bdSeq as its Will; it sees the host online (retained).
        bd_seq = [("bdSeq", "Int64", 0)]
        ndeath = sparkplug.payload(metrics=bd_seq)
        edge = self.paho("edge1", will=(topic("NDEATH", "edge1"), ndeath, 1, False))
        edge.subscribe([topic("NCMD", "edge1"), topic("DCMD", "edge1", "+"), "spBv1.0/STATE/+"])
        state = edge.next(state_topic)
        self.assertTrue(state.retain)
        self.assertTrue(json.loads(state.payload)["online"])

        # Births and data, each arriving at the host as the edge sent it.
        nbirth = sparkplug.payload(seq=0, metrics=bd_seq + [("Node Control/Rebirth", "Boolean",
                                                             False)])
        dbirth = sparkplug.payload(seq=1, metrics=[("Pump/Speed", "Double", 0.0)])
        ddata = sparkplug.payload(seq=2, metrics=[("Pump/Speed", "Double", 1480.5)])
        sent = [(topic("NBIRTH", "edge1"), nbirth), (topic("DBIRTH", "edge1", "pump3"), dbirth),
                (topic("DDATA", "edge1", "pump3"), ddata)]
        for where, data in sent:
            edge.publish(where, data, qos=0)
        arrived = [host.next(where).payload for where, _ in sent]
        self.assertEqual(arrived, [data for _, data in sent])
        self.assertEqual(sparkplug.metric_values(arrived[2]), {"Pump/Speed": 1480.5})
        self.assertEqual(sparkplug.decode(arrived[2]).seq, 2)

        # The host's command reaches the edge.
        rebirth = sparkplug.payload(metrics=[("Node Control/Rebirth", "Boolean", True)])
        host.publish(topic("NCMD", "edge1"), rebirth, qos=0)
        self.assertEqual(host.next(topic("NCMD", "edge1")).payload, rebirth)  # spBv1.0/#
        command = edge.next(topic("NCMD", "edge1"))
        self.assertEqual(sparkplug.metric_values(command.payload),
                         {"Node Control/Rebirth": True})

        # The edge drops without a DISCONNECT: the broker sends its NDEATH.
        edge.drop()
        death = host.next(topic("NDEATH", "edge1"))
        self.assertEqual(death.payload, ndeath)
        self.assertEqual(sparkplug.metric_values(death.payload), {"bdSeq": 0})

        # A historian connecting later is handed the host's retained STATE.
        historian = self.raw("historian")
        self.assertEqual(historian.subscribe(1, [("spBv1.0/STATE/+", 1)]), [1])
        retained = historian.next_publish()
        self.assertEqual((retained.topic, retained.retain), (state_topic, True))
        self.assertEqual(retained.payload.decode(), online)

    def test_an_edge_node_is_refused_outside_its_own_node_and_payloads_must_be_sparkplug(self):
        host = self.paho("scada")
        host.subscribe(["spBv1.0/#"])
        edge = self.raw("edge2")
        data = sparkplug.payload(seq=0, metrics=[("Temp", "Double", 21.5)])
        # Another node's data, and a command: not this edge's to send (0x87).
        self.assertEqual(edge.publish_flow(topic("NDATA", "edge1"), data, qos=1, packet_id=1),
                         0x87)
        self.assertEqual(edge.publish_flow(topic("NCMD", "edge1"), data, qos=1, packet_id=2),
                         0x87)
        # Its own topic, but not a Sparkplug payload: 0x99 Payload format invalid, and an
        # empty one is no better.
        for packet_id, garbage in ((3, b'{"temperature": 21.5}'), (4, b"")):
            self.assertEqual(
                edge.publish_flow(topic("NDATA", "edge2"), garbage, qos=1, packet_id=packet_id),
                0x99)
        # QoS 0 is dropped as other denied PUBLISHes are; then a good one, the marker.
        edge.publish(topic("NDATA", "edge2"), b"\xff\xff\xff", qos=0)
        self.assertEqual(edge.publish_flow(topic("NDATA", "edge2"), data, qos=1, packet_id=5),
                         0)
        arrived = host.next(topic("NDATA", "edge2"))
        self.assertEqual(arrived.payload, data)
        self.assertTrue(host.messages.empty())

        self.assert_denials(3, action="publish", reason="payload_format",
                            rule="sparkplug-edge-node")
        self.assert_denials(2, action="publish", reason="no_rule", rule="default")

        # A Will that is not Sparkplug is refused at CONNECT (0x99), before it could be
        # sent on anyone's behalf.
        self.raw("edge2", code=0x99, will=(topic("NDEATH", "edge2"), b"garbage", 1, False))
        self.assert_denials(1, action="will", reason="payload_format",
                            rule="sparkplug-edge-node")


class UnifiedNamespace(TemplateProxy):
    template = "uns"
    users = ("dallas", "lyon", "grafana")

    def test_each_site_writes_its_branch_only_and_a_dashboard_receives_every_site(self):
        dashboard = self.raw("grafana")
        dashboard.interleaved = True
        self.assertEqual(dashboard.subscribe(1, [("acme/#", 1)]), [1])
        received = []
        for site, other in {"dallas": "lyon", "lyon": "dallas"}.items():
            gateway = self.raw(site)
            self.assertEqual(gateway.publish_flow(f"acme/{other}/packaging/line1/speed", b"9",
                                                  qos=1, packet_id=1), 0x87)
            self.assertEqual(gateway.publish_flow("acme/status", b"9", qos=1, packet_id=2), 0x87)
            self.assertEqual(gateway.publish_flow(f"acme/{site}/packaging/line1/speed", b"42",
                                                  qos=1, packet_id=3), 0)
            marker = f"done-{site}".encode()
            self.assertEqual(gateway.publish_flow(f"acme/{site}/done", marker, qos=1,
                                                  packet_id=4), 0)
            received += [(d.topic, d.payload) for d in dashboard.publishes_until(marker)]
        self.assertEqual(received, [("acme/dallas/packaging/line1/speed", b"42"),
                                    ("acme/lyon/packaging/line1/speed", b"42")])
        self.assert_denials(4, action="publish", reason="no_rule", rule="default")


if __name__ == "__main__":
    unittest.main()
