"""Every authorization semantic of issue 6 in MQTT 3.1, 3.1.1 and 5.0, with the policy
written both as a mosquitto acl_file and as moat's native policy.file.

A real mosquitto sits behind moat; what must not land at the broker is watched by a
client connected to the broker directly, and what must not reach a client is proved
absent by a marker message sent after it (a connection keeps order), so no test sleeps
to show that nothing came. The broker logs every filter it is asked to subscribe or
unsubscribe and, at debug level, every packet it receives and sends: that shows what
moat forwarded and what it answered itself. Its max_inflight_messages is 1 (and 5.0
clients ask for a Receive Maximum of 1): a withheld QoS 1/2 delivery that moat fails to
acknowledge stalls the next one, visibly.

One broker and its moats serve a whole class; each test uses its own client ids."""

import itertools
import os
import re
import shutil
import signal
import ssl
import tempfile
import threading
import unittest

from harness import (MQTT_PUBACK, MQTT_PUBREC, Broker, Certs, LogsOnFailure, Moat, MqttClient,
                     free_port, metric, password_file, password_of, plain_listener,
                     tls_listener, wait_for_metric, wait_until)

VERSIONS = (3, 4, 5)  # 3.1 (MQIsdp), 3.1.1, 5.0
# The named clients log in with password_of(name): without a password file a user name
# proves nothing, and moat treats such a client as anonymous.
WILDCARD_USERS = ["+", "a#", "a/b", "+/#"]
USERS = ["alice", "bob", "carol", "dave", "erin", "zed", "dev-client"] + WILDCARD_USERS
NAMES = {3: "3.1", 4: "3.1.1", 5: "5.0"}


def denied_subscription(version):
    return 0x87 if version == 5 else 0x80


def denied_publish(version):
    """The PUBACK/PUBREC reason code a denied QoS 1/2 PUBLISH gets (none before 5.0)."""
    return 0x87 if version == 5 else 0


def refused_will(version):
    return 0x87 if version == 5 else 5  # 3.1/3.1.1 return code 5: not authorized


SESSION_EXPIRY = b"\x11\x00\x00\x0e\x10"  # 5.0 Session Expiry Interval: one hour
RECEIVE_MAXIMUM_1 = b"\x21\x00\x01"  # 5.0: one QoS 1/2 delivery in flight at a time
NO_RETAINED = 0x20  # 5.0 subscription option: send no retained messages


def resume_properties(version):
    """CONNECT properties to take over a persistent session, one delivery in flight."""
    return SESSION_EXPIRY + RECEIVE_MAXIMUM_1 if version == 5 else b""


ACL = """\
# Every client may use marks/#: the tests' markers, which prove absence.
pattern readwrite marks/#
pattern readwrite users/%u/#
pattern read shared/%c

user alice
topic readwrite {grant}
topic deny a/secret
topic write will/alice
"""

NATIVE = """\
groups:
  staff: [alice]
rules:
  - id: marks
    effect: allow
    actions: [publish, subscribe]
    topics: ["marks/#"]
    everyone: true
  - id: own-folder
    effect: allow
    actions: [publish, subscribe]
    topics: ["users/%u/#"]
    everyone: true
  - id: shared-by-client-id
    effect: allow
    actions: [subscribe]
    topics: ["shared/%c"]
    everyone: true
  - id: staff-area
    effect: allow
    actions: [publish, subscribe]
    topics: ["{grant}"]
    groups: [staff]
  - id: no-secret
    effect: deny
    actions: [publish, subscribe]
    topics: ["a/secret"]
    users: [alice]
  - id: alice-will
    effect: allow
    actions: [publish]
    topics: ["will/alice"]
    users: [alice]
"""

_ids = itertools.count(1)


class Stack(LogsOnFailure):
    """One broker per class, and the moats a subclass starts in front of it. Their logs
    are printed when a test fails."""

    # The logs span the whole class (the broker's at debug level): the end is enough.
    log_tail_lines = 300

    broker_conf = ["log_type subscribe", "log_type unsubscribe", "log_type debug",
                   "max_inflight_messages 1"]

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="moat-acl-")
        cls.processes = []
        try:
            cls.broker = Broker(cls.workdir, extra_conf=cls.broker_conf)
            cls.processes.append(cls.broker.process)
            cls.start_moats()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_moats(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        for process in cls.processes:
            process.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def start_moat(cls, policy_key, policy_text, extra_policy="", tls=False, auth=""):
        """A moat with the listeners `inside` (moat.port) and `outside`, and with `tls`
        a TLS listener `tls` that asks for client certificates."""
        path = os.path.join(cls.workdir, f"policy-{free_port()}")
        with open(path, "w") as f:
            f.write(policy_text)
        ports = {"inside": free_port(), "outside": free_port()}
        listeners = [plain_listener(ports[name], f"    name: {name}\n") for name in ports]
        if tls:
            ports["tls"] = free_port()
            listeners.append(tls_listener(ports["tls"], f"      client_ca: {Certs.path('ca.crt')}\n"
                                                        "    name: tls\n"))
        passwd = password_file(cls.workdir, USERS)
        metrics_port = free_port()
        moat = Moat(cls.workdir, cls.broker.port, listeners,
                    auth=f"auth:\n  allow_anonymous: true\n  password_file: {passwd}\n{auth}",
                    policy=f"policy:\n  {policy_key}: {path}\n{extra_policy}",
                    extra=f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n')
        moat.metrics_port = metrics_port
        cls.processes.append(moat.process)
        for port in ports.values():
            moat.wait_listening(port)
        moat.port, moat.outside_port, moat.policy_path = ports["inside"], ports["outside"], path
        moat.tls_port = ports.get("tls")
        return moat

    # Clients

    def cid(self, prefix):
        return f"{prefix[:8]}-{next(_ids)}"

    def marker(self):
        return f"marker-{next(_ids)}".encode()

    def connect(self, user, version, client_id=None, moat=None, port=None, code=0, **kwargs):
        """A client through moat whose CONNACK must carry `code`."""
        c = MqttClient(port or (moat or self.moat).port, version,
                       client_id or self.cid(user or "anon"), username=user,
                       password=password_of(user) if user else None, **kwargs)
        self.addCleanup(c.close)
        session_present, got = c.connack()
        self.assertEqual(got, code, f"CONNACK code for {user!r} in {NAMES[version]}")
        if code:
            self.assertEqual(session_present, 0, "a refused CONNACK with session present")
        return c

    def direct(self, version=5, client_id=None, **kwargs):
        """A client of the broker itself, behind moat's back."""
        c = MqttClient(self.broker.port, version, client_id or self.cid("direct"), **kwargs)
        self.addCleanup(c.close)
        self.assertEqual(c.connack()[1], 0)
        return c

    def watch(self, filters):
        """A direct subscriber to `filters` and marks/#, seeing only what lands from now."""
        watcher = self.direct()
        wanted = [*filters, "marks/#"]
        self.assertEqual(watcher.subscribe(1, [(f, NO_RETAINED) for f in wanted]),
                         [0] * len(wanted))
        return watcher

    def landed(self, watcher, sender):
        """What landed at the broker for `watcher` from `sender`'s PUBLISHes so far, as
        (topic, payload) pairs: `sender` sends a marker after them."""
        marker = self.marker()
        sender.publish("marks/m", marker)
        return [(d.topic, d.payload) for d in watcher.publishes_until(marker)]

    def arrived(self, client, marks_topic):
        """What reached `client` through moat before a marker published at the broker
        to `marks_topic`, which the client has subscribed to."""
        marker = self.marker()
        self.direct().publish_flow(marks_topic, marker, qos=1)
        return [(d.topic, d.payload) for d in client.publishes_until(marker)]

    def assert_closed_without_answer(self, client, what):
        client.sock.settimeout(5)
        try:
            data = client.sock.recv(4096)
        except ConnectionResetError:
            data = b""
        except OSError:
            self.fail(f"{what}: the connection stayed open")
        self.assertEqual(data, b"", f"{what}: expected a close without an answer")

    # The broker's log: every filter it was asked for, per client id

    def broker_log(self):
        return self.broker.process.log()

    def broker_subscribed(self, client_id):
        """(QoS, filter) for every filter the broker was asked to subscribe client_id to."""
        pattern = re.compile(rf"^\d+: {re.escape(client_id)} (\d) (\S+)$", re.M)
        return [(int(q), f) for q, f in pattern.findall(self.broker_log())]

    def broker_unsubscribed(self, client_id):
        pattern = re.compile(rf"^\d+: {re.escape(client_id)} (\S+)$", re.M)
        return pattern.findall(self.broker_log())

    def broker_received(self, kind, client_id, mid=None):
        """The broker's debug lines for packets of `kind` (PUBLISH, PUBREL, ...) it got
        from client_id, for message id `mid` if given."""
        detail = rf"Mid: {mid}[,)]" if mid is not None else ""
        pattern = re.compile(rf"^\d+: Received {kind} from {re.escape(client_id)} "
                             rf"\({detail}.*$", re.M)
        return pattern.findall(self.broker_log())


class Semantics:
    """The tests, run once per policy form by the classes at the end of the file."""

    policy_key = None
    policy = None

    @classmethod
    def start_moats(cls):
        cls.moat = cls.start_moat(cls.policy_key, cls.policy.format(grant="a/#"))
        cls.strict = cls.start_moat(cls.policy_key, cls.policy.format(grant="a/#"),
                                    extra_policy="  on_denied_publish: disconnect\n")
        cls.all_readable = cls.start_moat(cls.policy_key, cls.policy.format(grant="a/#"),
                                          extra_policy="  subscription_grant: all_readable\n")

    def test_forbidden_publish_never_lands_at_the_broker(self):
        watcher = self.watch(["a/#"])
        for version in VERSIONS:
            for qos in (0, 1, 2):
                with self.subTest(version=NAMES[version], qos=qos):
                    alice = self.connect("alice", version)
                    # 3.1/3.1.1: PUBACK, or PUBREC then PUBCOMP for the client's PUBREL,
                    # as if accepted; 5.0: the reason code says why (and ends a QoS 2 flow).
                    code = alice.publish_flow("a/secret", b"leak", qos=qos, packet_id=0x0102)
                    self.assertEqual(code, None if qos == 0 else denied_publish(version))
                    ok = alice.publish_flow("a/ok", b"fine", qos=qos, packet_id=0x0203)
                    self.assertEqual(ok, None if qos == 0 else 0)
                    self.assertEqual(self.landed(watcher, alice), [("a/ok", b"fine")])
                    alice.ping()
                    alice.disconnect()
                    received = "\n".join(self.broker_received("PUBLISH", alice.client_id))
                    self.assertIn("'a/ok'", received)
                    self.assertNotIn("'a/secret'", received)
                    if qos == 2:
                        # The PUBREL of the denied flow stays with moat too.
                        self.assertEqual(
                            [len(self.broker_received("PUBREL", alice.client_id, m))
                             for m in (0x0102, 0x0203)], [0, 1])

    def test_on_denied_publish_disconnect_closes_3_1_and_3_1_1_clients(self):
        watcher = self.watch(["a/#"])
        for version in VERSIONS:
            for qos in (0, 1, 2):
                with self.subTest(version=NAMES[version], qos=qos):
                    alice = self.connect("alice", version, moat=self.strict)
                    alice.publish("a/secret", b"leak", qos=qos, packet_id=9)
                    if version == 5:
                        # 5.0 has a reason code to say it: no need to disconnect.
                        if qos:
                            kind = MQTT_PUBACK if qos == 1 else MQTT_PUBREC
                            self.assertEqual(alice.ack(kind, 9), 0x87)
                        alice.ping()
                        self.assertEqual(self.landed(watcher, alice), [])
                    else:
                        self.assert_closed_without_answer(
                            alice, f"denied QoS {qos} PUBLISH with on_denied_publish: disconnect")
                        other = self.connect("alice", version, moat=self.strict)
                        self.assertEqual(self.landed(watcher, other), [])
                        self.assertEqual(self.broker_received("PUBLISH", alice.client_id), [])

    def test_forbidden_subscribe_is_answered_by_moat_and_leaks_nothing(self):
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                bob = self.connect("bob", version)
                marks = f"marks/{bob.client_id}"
                self.assertEqual(bob.subscribe(0x0A0B, [("a/#", 1)]),
                                 [denied_subscription(version)])
                # Filters that can match nothing bob may read.
                self.assertEqual(bob.subscribe(0x0A0C, [("zz/#", 0), ("a/secret", 2)]),
                                 [denied_subscription(version)] * 2)
                # alice may read a/#, but not a/secret: that filter delivers nothing.
                alice = self.connect("alice", version)
                self.assertEqual(alice.subscribe(0x0A0D, [("a/secret", 0)]),
                                 [denied_subscription(version)])
                # The broker answers this one; had it seen the refused ones, it would
                # have logged them first.
                self.assertEqual(bob.subscribe(0x0A0E, [(marks, 0)]), [0])
                self.assertEqual(self.broker_subscribed(bob.client_id), [(0, marks)])
                self.assertEqual(self.broker_subscribed(alice.client_id), [])
                self.direct().publish_flow("a/x", b"not for bob", qos=1)
                self.assertEqual(self.arrived(bob, marks), [])
                bob.disconnect()

    def test_mixed_subscribe_gets_one_suback_in_order_under_the_clients_id(self):
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                alice = self.connect("alice", version)
                marks = f"marks/{alice.client_id}"
                no = denied_subscription(version)
                codes = alice.subscribe(0xBEEF, [("a/open", 1), ("b/#", 0), ("users/alice/#", 2),
                                                 ("a/secret", 1), ("c/+", 0), (marks, 0)])
                self.assertEqual(codes, [1, no, 2, no, no, 0])
                self.assertEqual(self.broker_subscribed(alice.client_id),
                                 [(1, "a/open"), (2, "users/alice/#"), (0, marks)])
                sender = self.direct()
                sender.publish_flow("b/x", b"not granted", qos=1)
                sender.publish_flow("a/open", b"granted", qos=1)
                self.assertEqual(self.arrived(alice, marks), [("a/open", b"granted")])
                alice.disconnect()

    def test_a_partly_denied_subscription_is_granted_and_withholds_the_rest(self):
        # As against mosquitto: alice's a/# is granted, and a/secret (retained or live)
        # never reaches her, each withheld delivery counted.
        keeper = self.direct(4)
        self.assertEqual(keeper.publish_flow("a/secret", b"retained secret", qos=1, retain=True), 0)
        self.assertEqual(keeper.publish_flow("a/kept", b"retained kept", qos=1, retain=True), 0)
        self.addCleanup(lambda: [self.direct().publish_flow(t, b"", qos=1, retain=True)
                                 for t in ("a/secret", "a/kept")])
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                port = self.moat.metrics_port
                partial_before = metric(port, "moat_partial_subscriptions_total")
                withheld_before = metric(port, "moat_denials_total", action="deliver")
                alice = self.connect("alice", version)
                marks = f"marks/{alice.client_id}"
                # The marker at QoS 1 like a/open: MQTT orders deliveries within a QoS only,
                # and mosquitto lets a QoS 0 marker overtake a QoS 1 message when busy.
                self.assertEqual(alice.subscribe(3, [("a/#", 1), (marks, 1)]), [1, 1])
                self.assertEqual(self.broker_subscribed(alice.client_id), [(1, "a/#"), (1, marks)])
                kept = alice.next_publish()
                self.assertEqual((kept.topic, kept.payload, kept.retain),
                                 ("a/kept", b"retained kept", True))
                sender = self.direct()
                sender.publish_flow("a/secret", b"live secret", qos=1)
                sender.publish_flow("a/open", b"live open", qos=1)
                self.assertEqual(self.arrived(alice, marks), [("a/open", b"live open")])
                self.assertEqual(wait_for_metric(port, "moat_partial_subscriptions_total",
                                                 partial_before + 1), partial_before + 1)
                # The retained and the live a/secret.
                self.assertEqual(wait_for_metric(port, "moat_denials_total", withheld_before + 2,
                                                 action="deliver"), withheld_before + 2)
                alice.disconnect()

    def test_all_readable_refuses_a_partly_denied_subscription(self):
        # policy.subscription_grant: all_readable, moat's stricter rule for operators
        # who want a client told up front.
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                alice = self.connect("alice", version, moat=self.all_readable)
                no = denied_subscription(version)
                filters = ["a/+", "a/#", "+/secret", "#", "a/secret", "a/open"]
                self.assertEqual(alice.subscribe(3, [(f, 0) for f in filters]),
                                 [no, no, no, no, no, 0])
                alice.disconnect()

    def test_withheld_deliveries_are_completed_with_the_broker(self):
        # A broker session subscribed to a/#, made behind moat's back, then taken over
        # through moat: the broker sends alice what she may
        # not read, and only moat's delivery check stands in the way.
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                cid = self.cid("alice")
                session = SESSION_EXPIRY if version == 5 else b""
                setup = self.direct(version, cid, clean=False, properties=session)
                self.assertEqual(setup.subscribe(1, [("a/#", 2)]), [2])
                setup.disconnect()
                alice = self.connect("alice", version, client_id=cid, clean=False,
                                     properties=resume_properties(version))
                sender = self.direct(4)
                sender.publish_flow("a/secret", b"withheld q1", qos=1, packet_id=1)
                sender.publish_flow("a/secret", b"withheld q2", qos=2, packet_id=2)
                sender.publish_flow("a/open", b"allowed q2", qos=2, packet_id=3)
                sender.publish_flow("a/secret", b"withheld q2 again", qos=2, packet_id=4)
                sender.publish_flow("a/open", b"allowed q1", qos=1, packet_id=5)
                got = []
                for _ in range(2):
                    try:
                        d = alice.next_publish()
                    except AssertionError as e:
                        self.fail(f"after {got}: {e}; the broker's session is stalled on a "
                                  "withheld QoS 1/2 delivery moat did not complete")
                    got.append((d.topic, d.payload, d.qos))
                self.assertEqual(got, [("a/open", b"allowed q2", 2), ("a/open", b"allowed q1", 1)])
                alice.ping()
                alice.disconnect()
                # Each withheld delivery was acknowledged to the broker by moat: PUBACK,
                # or PUBREC then PUBCOMP for the broker's PUBREL.
                sent = re.findall(rf"Sending PUBLISH to {re.escape(cid)} \(d0, q(\d), r0, "
                                  rf"m(\d+), 'a/secret'", self.broker_log())
                self.assertEqual([q for q, _ in sent], ["1", "2", "2"])
                for qos, mid in sent:
                    answers = ["PUBACK"] if qos == "1" else ["PUBREC", "PUBCOMP"]
                    for answer in answers:
                        self.assertEqual(len(self.broker_received(answer, cid, mid)), 1,
                                         f"{answer} for withheld QoS {qos} delivery m{mid}")
                # Taken back directly, the session has nothing left in flight to resend.
                resumed = self.direct(version, cid, clean=False, properties=session)
                marker = self.marker()
                sender.publish_flow("a/open", marker, qos=1, packet_id=6)
                self.assertEqual(resumed.publishes_until(marker), [])
                resumed.disconnect()
                self.direct(version, cid).disconnect()  # clean: the session is dropped

    def test_forbidden_will_refuses_the_connect_and_never_reaches_the_broker(self):
        watcher = self.watch(["will/#", "a/#"])
        for version in VERSIONS:
            for will in (("a/secret", b"bad will", 0, False), ("will/bob", b"bad will", 1, False)):
                with self.subTest(version=NAMES[version], topic=will[0]):
                    refused = self.cid("willbad")
                    c = self.connect("alice", version, client_id=refused, will=will,
                                     code=refused_will(version))
                    self.assert_closed_without_answer(c, "after a refused CONNECT")
                    allowed = self.cid("willok")
                    good_will = self.marker()
                    ok = self.connect("alice", version, client_id=allowed,
                                      will=("will/alice", good_will, 1, False))
                    wait_until(lambda: f" as {allowed} (" in self.broker_log(),
                               what="the broker to log the allowed client")
                    self.assertNotIn(f" as {refused} (", self.broker_log())
                    ok.abort()  # vanishing: the broker publishes the allowed Will
                    self.assertEqual(watcher.publishes_until(good_will), [])

    def test_identities_with_wildcards_gain_nothing(self):
        watcher = self.watch(["users/#"])
        for version in VERSIONS:
            # "a#", not "#": a password file cannot hold a user name starting with '#'.
            for user in WILDCARD_USERS:
                with self.subTest(version=NAMES[version], user=user):
                    c = self.connect(user, version)
                    # users/%u/# must not become users/+/# or users/#/#: no wildcard power.
                    for qos in (0, 1):
                        code = c.publish_flow("users/other/x", b"x", qos=qos, packet_id=5)
                        self.assertEqual(code, None if qos == 0 else denied_publish(version))
                    self.assertEqual(self.landed(watcher, c), [])
                    filters = ["users/+/#", "users/#", "users/other/#"]
                    if "#" not in user:  # else not a valid filter at all
                        filters.append(f"users/{user}/x")
                    self.assertEqual(c.subscribe(6, [(f, 0) for f in filters]),
                                     [denied_subscription(version)] * len(filters))
                    c.disconnect()
            for client_id in ("+", "#", "c/d"):
                with self.subTest(version=NAMES[version], client_id=client_id):
                    # shared/%c must not become shared/+ or shared/#.
                    c = self.connect("carol", version, client_id=client_id)
                    filters = list(dict.fromkeys(
                        ["shared/+", "shared/#", "shared/other", f"shared/{client_id}"]))
                    self.assertEqual(c.subscribe(7, [(f, 0) for f in filters]),
                                     [denied_subscription(version)] * len(filters))
                    c.disconnect()
            with self.subTest(version=NAMES[version], user="carol"):
                # Plain identities keep what the patterns grant them.
                carol = self.connect("carol", version, client_id="carol")
                self.assertEqual(carol.subscribe(8, [("users/carol/in/#", 0), ("shared/carol", 0)]),
                                 [0, 0])
                self.assertEqual(carol.publish_flow("users/carol/x", b"mine", qos=1), 0)
                self.assertEqual(self.landed(watcher, carol), [("users/carol/x", b"mine")])
                carol.disconnect()

    def test_shared_subscriptions_are_judged_on_their_inner_filter(self):
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                alice = self.connect("alice", version)
                marks = f"marks/{alice.client_id}"
                no = denied_subscription(version)
                g = f"$share/g{version}"  # a group per version: no earlier member shares it
                self.assertEqual(alice.subscribe(1, [(f"{g}/b/#", 0), ("$queue/a/secret", 0)]),
                                 [no, no])
                codes = alice.subscribe(2, [(f"{g}/a/open", 1), (f"{g}/b/x", 0), (f"{g}/c/#", 0),
                                            (f"{g}/a/secret", 0), ("$queue/a/open", 0),
                                            ("$queue/b/x", 0), (marks, 0)])
                self.assertEqual(codes, [1, no, no, no, 0, no, 0])  # c/#: nothing to read
                self.assertEqual(self.broker_subscribed(alice.client_id),
                                 [(1, f"{g}/a/open"), (0, "$queue/a/open"), (0, marks)])
                sender = self.direct()
                sender.publish_flow("b/x", b"not granted", qos=1)
                sender.publish_flow("a/open", b"shared", qos=1)
                self.assertEqual(self.arrived(alice, marks), [("a/open", b"shared")])
                alice.unsubscribe(3, [f"{g}/a/open"])
                alice.disconnect()

    def test_topic_aliases_are_judged_on_the_topic_they_stand_for(self):
        # 5.0 only: earlier versions have no topic aliases.
        watcher = self.watch(["a/#"])
        alice = self.connect("alice", 5)

        def publish(alias, topic, payload, packet_id):
            body = (len(topic).to_bytes(2, "big") + topic.encode() + packet_id.to_bytes(2, "big")
                    + b"\x03\x23" + alias.to_bytes(2, "big") + payload)
            alice.send(bytes([0x32, len(body)]) + body)
            return alice.ack(MQTT_PUBACK, packet_id)

        self.assertEqual(publish(1, "a/secret", b"set denied", 1), 0x87)
        self.assertEqual(publish(1, "", b"alias of denied", 2), 0x87)
        self.assertEqual(publish(2, "a/ok", b"set allowed", 3), 0)
        self.assertEqual(publish(2, "", b"alias of allowed", 4), 0)
        # The broker still maps alias 2 to a/ok; moat must judge it as a/secret now.
        self.assertEqual(publish(2, "a/secret", b"reset to denied", 5), 0x87)
        self.assertEqual(publish(2, "", b"stale alias", 6), 0x87)
        self.assertEqual(publish(1, "a/ok2", b"set after denial", 7), 0)
        self.assertEqual(publish(1, "", b"alias after denial", 8), 0)
        self.assertEqual(self.landed(watcher, alice),
                         [("a/ok", b"set allowed"), ("a/ok", b"alias of allowed"),
                          ("a/ok2", b"set after denial"), ("a/ok2", b"alias after denial")])


class Reload:
    """Policy reloads (SIGHUP) with live sessions, once per policy form, on a moat of
    its own whose policy file the tests rewrite."""

    policy_key = None
    policy = None

    @classmethod
    def start_moats(cls):
        cls.moat = cls.start_moat(cls.policy_key, cls.policy.format(grant="a/#"))

    def reload(self, grant):
        with open(self.moat.policy_path, "w") as f:
            f.write(self.policy.format(grant=grant))
        before = self.moat.process.log().count(": reloaded")
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.moat.process.log().count(": reloaded") > before,
                   what="the reload")

    def test_reload_under_live_traffic_takes_effect_at_once(self):
        watcher = self.watch(["a/#", "b/#"])
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                self.reload("a/#")
                self.live_reload(version, watcher)

    def test_after_a_reload_the_delivery_check_stops_what_moat_cannot_unsubscribe(self):
        # A broker session subscribed behind moat's back: moat never granted the filter,
        # so it cannot remove it at reload; only the delivery check stands in the way.
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                self.reload("a/#")
                cid = self.cid("alice")
                marks = f"marks/{cid}"
                session = SESSION_EXPIRY if version == 5 else b""
                setup = self.direct(version, cid, clean=False, properties=session)
                # The marker at QoS 1 too, so that it queues behind a stalled delivery.
                self.assertEqual(setup.subscribe(1, [("a/behind", 1), (marks, 1)]), [1, 1])
                setup.disconnect()
                alice = self.connect("alice", version, client_id=cid, clean=False,
                                     properties=resume_properties(version))
                sender = self.direct(4)
                sender.publish_flow("a/behind", b"granted", qos=1)
                self.assertEqual(alice.next_publish().payload, b"granted")
                self.reload("b/#")
                # Two in a row: the second would stall behind the first if moat did not
                # acknowledge the withheld one to the broker.
                sender.publish_flow("a/behind", b"revoked", qos=1)
                sender.publish_flow("a/behind", b"revoked again", qos=1)
                self.assertEqual(self.arrived(alice, marks), [])
                alice.ping()
                alice.disconnect()
                self.direct(version, cid).disconnect()  # clean: the session is dropped

    def live_reload(self, version, watcher):
        alice = self.connect("alice", version, interleaved=True)
        cid = alice.client_id
        marks = f"marks/{cid}"
        self.assertEqual(alice.subscribe(1, [("a/feed", 1), ("$share/g/a/pool", 0), (marks, 0)]),
                         [1, 0, 0])
        published = [0]
        stop = threading.Event()
        feeder = self.direct(4)

        def feed():
            while not stop.is_set() and published[0] < 5000:
                published[0] += 1
                feeder.publish("a/feed", f"live {published[0]}".encode(), qos=1,
                               packet_id=published[0] % 65535 + 1)
                stop.wait(0.002)

        thread = threading.Thread(target=feed)
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(stop.set)
        for _ in range(3):
            self.assertEqual(alice.next_publish().topic, "a/feed")

        self.reload("b/#")
        # Granted filters the new policy refuses are removed at the broker on alice's
        # behalf; nothing else is.
        wait_until(lambda: len(self.broker_unsubscribed(cid)) == 2,
                   what=f"the broker to be asked to unsubscribe {cid}")
        self.assertEqual(sorted(self.broker_unsubscribed(cid)), ["$share/g/a/pool", "a/feed"])
        cut = published[0]
        # Publishing under the old grant is refused at once.
        self.assertEqual(alice.publish_flow("a/feed", b"from alice", qos=1, packet_id=2),
                         denied_publish(version))
        self.assertNotIn(("a/feed", b"from alice"), self.landed(watcher, alice))
        wait_until(lambda: published[0] > cut + 20, what="more live traffic")
        stop.set()
        # Deliveries withheld between the reload and the UNSUBSCRIBE were acknowledged
        # to the broker by moat, or the QoS 1 ones below would queue behind them.
        # Some deliveries were on their way before the reload; none published after
        # the broker dropped the subscription may arrive, and moat's own UNSUBACK never
        # reaches alice (publishes_until would fail on it).
        late = [p for t, p in self.arrived(alice, marks)
                if int(p.decode().split()[1]) > cut]
        self.assertEqual(late, [], "deliveries after the subscription was revoked")
        # The new grant holds at once too.
        self.assertEqual(alice.subscribe(3, [("b/x", 1)]), [1])
        self.assertEqual(alice.publish_flow("b/y", b"new grant", qos=1, packet_id=4), 0)
        self.direct().publish_flow("b/x", b"new grant", qos=1)
        self.assertEqual(alice.next_publish().payload, b"new grant")
        # Granting a/# again does not bring the revoked subscription back: it is gone
        # at the broker, not merely filtered by moat.
        self.reload("a/#")
        self.direct().publish_flow("a/feed", b"after the grant came back", qos=1)
        self.direct().publish_flow("a/pool", b"after the grant came back", qos=1)
        self.assertEqual(self.arrived(alice, marks), [])
        alice.ping()
        alice.disconnect()


class AclFileSemantics(Semantics, Stack):
    policy_key, policy = "acl_file", ACL


class NativePolicySemantics(Semantics, Stack):
    policy_key, policy = "file", NATIVE


class AclFileReload(Reload, Stack):
    policy_key, policy = "acl_file", ACL


class NativePolicyReload(Reload, Stack):
    policy_key, policy = "file", NATIVE


RULE_FORMS = """\
groups:
  plant: [dave]
rules:
  - id: marks
    effect: allow
    actions: [publish, subscribe]
    topics: ["marks/#"]
    everyone: true
  - id: plant-group
    effect: allow
    actions: [publish, subscribe]
    topics: ["plant/#"]
    groups: [plant]
  - id: no-guests
    effect: deny
    actions: [publish]
    topics: ["plant/secret"]
    client_ids: ["*-guest"]
  - id: devices
    effect: allow
    actions: [publish]
    topics: ["dev/#"]
    client_ids: ["dev-*"]
  - id: loopback
    effect: allow
    actions: [publish]
    topics: ["net/local/#"]
    everyone: true
    addresses: ["127.0.0.0/8"]
  - id: far-away
    effect: allow
    actions: [publish]
    topics: ["net/far/#"]
    everyone: true
    addresses: ["10.0.0.0/8", "2001:db8::/32"]
  - id: inside-only
    effect: allow
    actions: [publish]
    topics: ["lst/#"]
    everyone: true
    listeners: [inside]
  - id: limited
    effect: allow
    actions: [publish, subscribe]
    topics: ["lim/#", "will/erin"]
    users: [erin]
    max_qos: 1
    retain: false
  - id: anonymous-only
    effect: allow
    actions: [publish]
    topics: ["anon/#"]
    anonymous: true
  - id: certified
    effect: allow
    actions: [publish]
    topics: ["cert/#"]
    cert_identities: [dev-client]
"""


class NativeRuleForms(Stack):
    """The native policy's rule forms: who (users, groups, anonymous, everyone), the
    conditions (client id globs, certificate identities, addresses, listeners) and the
    limits (max_qos, retain), each seen allowing and denying, in every version."""

    @classmethod
    def start_moats(cls):
        cls.moat = cls.start_moat("file", RULE_FORMS, tls=True,
                                  auth="  certificate_identity: cn\n")

    def via(self, listener):
        """The port and TLS context for a listener name; `tls+cert` presents the client
        certificate (CN=dev-client)."""
        if listener in ("inside", "outside"):
            return (self.moat.port if listener == "inside" else self.moat.outside_port), None
        context = ssl.create_default_context(cafile=Certs.path("ca.crt"))
        if listener == "tls+cert":
            context.load_cert_chain(Certs.path("client.crt"), Certs.path("client.key"))
        return self.moat.tls_port, context

    def verdict(self, version, user, topic, qos=1, retain=False, client_id=None,
                listener="inside"):
        """Whether the PUBLISH landed at the broker; for 5.0 the reason code must agree."""
        watcher = self.watch([topic])
        port, context = self.via(listener)
        c = self.connect(user, version, client_id=client_id, port=port, tls=context)
        payload = self.marker()
        code = c.publish_flow(topic, payload, qos=qos, packet_id=3, retain=retain)
        landed = self.landed(watcher, c)
        self.assertIn(landed, ([], [(topic, payload)]))
        if qos:
            expected = (0 if landed else 0x87) if version == 5 else 0
            self.assertEqual(code, expected, "reason code disagrees with what landed")
        c.disconnect()
        watcher.close()
        return bool(landed)

    def test_who_conditions_and_limits(self):
        cases = [
            # (user, client id glob or None, listener, topic, qos, retain, allowed)
            ("dave", None, "inside", "plant/x", 1, False, True),       # group member
            ("erin", None, "inside", "plant/x", 1, False, False),      # not in the group
            ("dave", "d-1", "inside", "plant/secret", 1, False, True),
            ("dave", "d-guest", "inside", "plant/secret", 1, False, False),  # deny by glob
            ("zed", "dev-7", "inside", "dev/x", 1, False, True),       # client id glob
            ("zed", "prod-7", "inside", "dev/x", 1, False, False),
            ("zed", None, "inside", "net/local/x", 1, False, True),    # CIDR 127.0.0.0/8
            ("zed", None, "inside", "net/far/x", 1, False, False),     # other CIDRs
            ("zed", None, "inside", "lst/x", 1, False, True),          # listener
            ("zed", None, "outside", "lst/x", 1, False, False),
            ("erin", None, "inside", "lim/x", 0, False, True),         # max_qos 1
            ("erin", None, "inside", "lim/x", 1, False, True),
            ("erin", None, "inside", "lim/x", 2, False, False),
            ("erin", None, "inside", "lim/x", 1, True, False),         # retain: false
            (None, None, "inside", "anon/x", 1, False, True),          # anonymous
            ("zed", None, "inside", "anon/x", 1, False, False),
            (None, None, "tls+cert", "cert/x", 1, False, True),        # certificate CN
            ("dev-client", None, "tls", "cert/x", 1, False, False),    # the name, no cert
            ("dev-client", None, "inside", "cert/x", 1, False, False),
        ]
        for version in VERSIONS:
            for user, client_id, listener, topic, qos, retain, allowed in cases:
                with self.subTest(version=NAMES[version], user=user, client_id=client_id,
                                  listener=listener, topic=topic, qos=qos, retain=retain):
                    self.assertEqual(self.verdict(version, user, topic, qos, retain,
                                                  client_id=client_id, listener=listener),
                                     allowed)

    def test_subscription_qos_limit(self):
        for version in VERSIONS:
            with self.subTest(version=NAMES[version]):
                erin = self.connect("erin", version)
                # lim/x is granted at the rule's max_qos: the broker is asked for QoS 1.
                self.assertEqual(erin.subscribe(1, [("lim/#", 1), ("lim/x", 2), ("plant/#", 0)]),
                                 [1, 1, denied_subscription(version)])
                self.assertEqual(self.broker_subscribed(erin.client_id),
                                 [(1, "lim/#"), (1, "lim/x")])
                dave = self.connect("dave", version)
                self.assertEqual(dave.subscribe(2, [("plant/#", 2)]), [2])

    def test_will_qos_and_retain_are_checked(self):
        for version in VERSIONS:
            for qos, retain, allowed in ((1, False, True), (2, False, False), (0, True, False)):
                with self.subTest(version=NAMES[version], qos=qos, retain=retain):
                    c = self.connect("erin", version, will=("will/erin", b"bye", qos, retain),
                                     code=0 if allowed else refused_will(version))
                    if not allowed:
                        self.assert_closed_without_answer(c, "after a refused Will")

    def test_alias_set_by_a_denied_publish_is_sent_with_its_topic(self):
        # 5.0 only. A QoS 2 PUBLISH over erin's max_qos sets alias 5 and is withheld: the
        # broker never learns the alias, so the allowed alias-only QoS 1 PUBLISH that
        # follows must reach it with its topic spelled out.
        watcher = self.watch(["lim/#"])
        erin = self.connect("erin", 5)

        def publish(qos, topic, payload, packet_id):
            body = (len(topic).to_bytes(2, "big") + topic.encode() + packet_id.to_bytes(2, "big")
                    + b"\x03\x23\x00\x05" + payload)
            erin.send(bytes([0x30 | qos << 1, len(body)]) + body)
            return erin.ack(MQTT_PUBACK if qos == 1 else MQTT_PUBREC, packet_id)

        self.assertEqual(publish(2, "lim/a", b"over the limit", 1), 0x87)
        self.assertEqual(publish(1, "", b"within the limit", 2), 0)
        erin.ping()
        self.assertEqual(self.landed(watcher, erin), [("lim/a", b"within the limit")])


if __name__ == "__main__":
    unittest.main()
