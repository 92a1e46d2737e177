"""A mosquitto bridge through moat (issue 13): an edge broker bridges to a central one,
and moat stands in front of the central broker with TLS, a password file and a policy.

    edge mosquitto ──bridge (TLS, try_private)──► moat ──► central mosquitto
      plant/# out, cmd/# and vault/# in, loop/# both

The bridge may publish plant/# but not plant/secret/#, subscribe to cmd/# but not
vault/#, and both under loop/#, in a mosquitto acl_file or moat's native policy.

The bridge sets the CONNECT protocol level's top bit (0x84 for 3.1.1, 0x83 for 3.1).
moat accepts it and keeps it towards the central broker, which then never sends the
bridge its own messages back: a message published on the edge under loop/# must reach
the edge's subscribers once, not a second time as an echo from the central broker.
What must not arrive is proved absent by a marker sent after it (a connection keeps
order), so no test sleeps to show that nothing came.

One stack serves a whole class; the classes differ in policy form, protocol version and
how moat forwards the CONNECT (as received, or re-encoded without the credentials)."""

import itertools
import os
import re
import shutil
import tempfile
import unittest

from harness import (Broker, Certs, LogsOnFailure, Moat, MqttClient, free_port, metric,
                     password_file, password_of, tls_listener, wait_for_metric, wait_until)

BRIDGE_USER = "edge"
BRIDGE_ID = "edge-bridge"

# The same rights in both policy forms.
ACL = f"""\
user {BRIDGE_USER}
topic write plant/#
topic deny plant/secret/#
topic read cmd/#
topic deny vault/#
topic readwrite loop/#
topic write bridges/edge/#
"""

NATIVE = f"""\
rules:
  - id: plant-out
    effect: allow
    actions: [publish]
    topics: ["plant/#", "bridges/edge/#"]
    users: [{BRIDGE_USER}]
  - id: plant-secret
    effect: deny
    actions: [publish]
    topics: ["plant/secret/#"]
    users: [{BRIDGE_USER}]
  - id: cmd-in
    effect: allow
    actions: [subscribe]
    topics: ["cmd/#"]
    users: [{BRIDGE_USER}]
  - id: no-vault
    effect: deny
    actions: [subscribe]
    topics: ["vault/#"]
    users: [{BRIDGE_USER}]
  - id: loop
    effect: allow
    actions: [publish, subscribe]
    topics: ["loop/#"]
    users: [{BRIDGE_USER}]
"""

_ids = itertools.count(1)


def bridge_conf(moat_port, protocol, notifications):
    """The edge's bridge section: TLS to moat, logged in as BRIDGE_USER."""
    return [f"connection {BRIDGE_ID}", f"address 127.0.0.1:{moat_port}",
            f"bridge_protocol_version {protocol}", "try_private true",
            f"remote_clientid {BRIDGE_ID}", f"remote_username {BRIDGE_USER}",
            f"remote_password {password_of(BRIDGE_USER)}",
            f"bridge_cafile {Certs.path('ca.crt')}", *notifications, "restart_timeout 1",
            "topic plant/# out 1", "topic cmd/# in 1", "topic vault/# in 1",
            "topic loop/# both 1"]


class BridgeStack(LogsOnFailure):
    """central broker, moat in front of it, and the edge broker bridging to moat."""

    log_tail_lines = 200
    policy_key, policy = "acl_file", ACL
    protocol = "mqttv311"
    credentials = "passthrough"
    # The bridge's state notifications, its Will included, go to a topic the policy
    # grants: the default, $SYS/broker/connection/<id>/state, is granted to no one.
    notifications = ["notification_topic bridges/edge/state"]

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="moat-bridge-")
        cls.processes = []
        try:
            cls.start_stack()
        except BaseException:
            for process in cls.processes:
                process.stop()
                print(f"\n----- {process.name} -----\n" + process.log())
            cls.tearDownClass()
            raise

    @classmethod
    def start_stack(cls):
        cls.central = Broker(cls.workdir, extra_conf=["log_type subscribe"])
        cls.processes.append(cls.central.process)
        policy_path = os.path.join(cls.workdir, "policy")
        with open(policy_path, "w") as f:
            f.write(cls.policy)
        port, cls.metrics_port = free_port(), free_port()
        moat = Moat(cls.workdir, cls.central.port, [tls_listener(port)],
                    auth=("auth:\n  allow_anonymous: false\n  password_file: "
                          f"{password_file(cls.workdir, [BRIDGE_USER])}\n"),
                    upstream_extra=f"  credentials: {cls.credentials}\n",
                    policy=f"policy:\n  {cls.policy_key}: {policy_path}\n",
                    extra=f'metrics:\n  bind: "127.0.0.1:{cls.metrics_port}"\n')
        cls.processes.append(moat.process)
        moat.wait_listening(port)
        cls.edge = Broker(cls.workdir,
                          extra_conf=bridge_conf(port, cls.protocol, cls.notifications))
        cls.processes.append(cls.edge.process)
        cls.wait_for_bridge()

    @classmethod
    def wait_for_bridge(cls):
        # The bridge subscribes once its CONNECT is accepted: from then on both ways work.
        wait_until(lambda: {"cmd/#", "loop/#"} <= set(cls.central_subscriptions()),
                   timeout=20, what="the bridge's subscriptions at the central broker")

    @classmethod
    def central_subscriptions(cls):
        pattern = re.compile(rf"^\d+: {re.escape(BRIDGE_ID)} \d (\S+)$", re.M)
        return pattern.findall(cls.central.process.log())

    @classmethod
    def tearDownClass(cls):
        for process in cls.processes:
            process.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def client(self, broker):
        c = MqttClient(broker.port, 4, f"client-{next(_ids)}", timeout=10)
        self.addCleanup(c.close)
        self.assertEqual(c.connack()[1], 0)
        return c

    def watch(self, broker, *filters):
        """A subscriber on `broker`, returned once the broker holds its subscriptions."""
        w = self.client(broker)
        self.assertEqual(w.subscribe(1, [(f, 0) for f in filters]), [0] * len(filters))
        return w

    def payload(self, what):
        return f"{what}-{next(_ids)}".encode()


class Bridging:
    """The tests, run by each class at the end of the file."""

    def assert_carried(self, sender, receiver, topic):
        """A message from `sender` to `topic` reaches a subscriber on `receiver`."""
        at_receiver = self.watch(receiver, topic.split("/")[0] + "/#")
        message = self.payload("message")
        self.client(sender).publish_flow(topic, message, qos=1)
        delivery = at_receiver.next_publish()
        self.assertEqual((delivery.topic, delivery.payload), (topic, message))

    def test_edge_publish_reaches_the_central_broker(self):
        self.assert_carried(self.edge, self.central, "plant/x")

    def test_central_publish_reaches_the_edge(self):
        self.assert_carried(self.central, self.edge, "cmd/y")

    def assert_withheld(self, sender, receiver, topic, marker_topic):
        """A message from `sender` to `topic` never reaches a subscriber on `receiver`;
        a marker sent after it over the same path does."""
        at_receiver = self.watch(receiver, topic, marker_topic)
        client = self.client(sender)
        client.publish_flow(topic, self.payload("secret"), qos=1)
        marker = self.payload("marker")
        client.publish_flow(marker_topic, marker, qos=1)
        self.assertEqual(at_receiver.publishes_until(marker), [])

    def test_denied_publish_stops_at_moat(self):
        before = metric(self.metrics_port, "moat_denials_total", action="publish")
        self.assert_withheld(self.edge, self.central, "plant/secret/z", "plant/marker")
        wait_for_metric(self.metrics_port, "moat_denials_total", before + 1, action="publish")

    def test_denied_subscription_brings_nothing_to_the_edge(self):
        # The bridge's SUBSCRIBE to vault/# was refused when it connected.
        self.assertGreaterEqual(
            metric(self.metrics_port, "moat_denials_total", action="subscribe"), 1)
        self.assertNotIn("vault/#", self.central_subscriptions())
        self.assert_withheld(self.central, self.edge, "vault/a", "cmd/marker")

    def test_central_broker_knows_the_bridge(self):
        # mosquitto names a client whose CONNECT carried the bridge bit "bridge".
        self.assertRegex(self.central.process.log(),
                         rf"New bridge connected from \S+ as {BRIDGE_ID} ")

    def test_central_broker_does_not_echo_the_bridge(self):
        # Without the bridge bit the central broker takes the bridge for a client
        # subscribed to loop/# and sends it its own message back: a second copy here.
        at_edge = self.watch(self.edge, "loop/#")
        at_central = self.watch(self.central, "loop/#")
        message = self.payload("loop")
        self.client(self.edge).publish_flow("loop/a", message, qos=1)
        self.assertEqual(at_central.next_publish().payload, message)
        # Sent after the central broker handled the message, so after any echo of it.
        marker = self.payload("marker")
        self.client(self.central).publish_flow("loop/marker", marker, qos=1)
        self.assertEqual([d.payload for d in at_edge.publishes_until(marker)], [message])


class AclFileV311(Bridging, BridgeStack):
    pass


class NativePolicyV311Reencoded(Bridging, BridgeStack):
    # strip makes moat re-encode the CONNECT: the bit must survive the encoder too.
    policy_key, policy = "file", NATIVE
    credentials = "strip"


class AclFileV31(Bridging, BridgeStack):
    protocol = "mqttv31"


class DefaultNotifications(BridgeStack):
    """What the README warns of: left to its default notification topic, the bridge's
    Will is in $SYS and moat refuses its CONNECT."""

    notifications = []

    @classmethod
    def wait_for_bridge(cls):
        pass

    def test_will_in_sys_refuses_the_bridge(self):
        wait_for_metric(self.metrics_port, "moat_denials_total", 1, action="will")
        wait_until(lambda: "Connection Refused: not authorised" in self.edge.process.log(),
                   what="the edge to log the refusal")
        self.assertEqual(self.central_subscriptions(), [])


if __name__ == "__main__":
    unittest.main()
