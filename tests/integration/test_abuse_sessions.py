"""Issue 14, around the login and after it: a config without a policy grants nothing, a
stranger's guesses never lock the owner out, a client id stays its identity's, and no
session lives for ever. Real mosquitto behind, real clients; each test checks what the
hostile client sees, the metric and the audit line, and that the honest client still
gets through."""

import socket
import subprocess
import time
import unittest

from harness import (audit_lines, MOAT_BIN, MqttClient, ProxyTestCase, RawClient, connect_packet,
                     free_port, metric, password_file, password_of, plain_listener,
                     wait_for_metric, wait_until)

CONNACK = 0x20
DENIED_V311, DENIED_V5 = 0x80, 0x87


class SessionAbuseTestCase(ProxyTestCase):
    def start(self, auth=None, policy=None, limits="", users=("alice", "bob")):
        self.broker = self.start_broker()
        self.port, self.metrics_port = free_port(), free_port()
        self.audit_path = f"{self.workdir}/audit.log"
        self.passwd = password_file(self.workdir, users)
        auth = auth if auth is not None else (f"auth:\n  password_file: {self.passwd}\n"
                                              "  allow_anonymous: false\n")
        kwargs = {} if policy is None else {"policy": policy}
        self.moat = self.start_moat(
            self.broker.port, [plain_listener(self.port)], auth=auth,
            extra=(f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n'
                   f"audit:\n  file: {self.audit_path}\n" +
                   (f"limits:\n{limits}" if limits else "")), **kwargs)
        self.moat.wait_listening(self.port)

    def client(self, user, version=5, client_id=None, source="127.0.0.1", code=0, **kwargs):
        c = MqttClient(self.port, version, client_id or f"{user or 'anon'}-c", source=source,
                       username=user, password=password_of(user) if user else None, **kwargs)
        self.addCleanup(c.close)
        self.assertEqual(c.connack()[1], code, f"CONNACK for {user} from {source}")
        return c

    def audit(self, **fields):
        return audit_lines(self.audit_path, **fields)

    def wait_audited(self, **fields):
        wait_until(lambda: self.audit(**fields), what=f"an audit line {fields}")
        return self.audit(**fields)[0]


class FailClosed(SessionAbuseTestCase):
    """Item 1: no policy means nothing is granted, unless the config says allow_all."""

    def test_without_a_policy_nothing_is_granted(self):
        self.start(policy="")
        for version, denied in ((4, DENIED_V311), (5, DENIED_V5)):
            alice = self.client("alice", version, client_id=f"alice-{version}")
            self.assertEqual(alice.subscribe(1, [("#", 0), ("$SYS/#", 0)]), [denied, denied])
        alice5 = self.client("alice", 5, client_id="alice-pub")
        self.assertEqual(alice5.publish_flow("plant/valve", b"open", qos=1), DENIED_V5)
        wait_for_metric(self.metrics_port, "moat_denials_total", 5, reason="no_rule")
        self.assertEqual(self.wait_audited(event="denial", action="subscribe")["rule"],
                         "no_policy")
        self.assertIn("warning: no policy", self.moat.process.log())

    def test_check_config_says_what_no_policy_means(self):
        self.start(policy="")
        result = subprocess.run([MOAT_BIN, "--check-config", self.moat.config_path],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("warning: no policy: every PUBLISH, SUBSCRIBE and Will is denied",
                      result.stderr)

    def test_allow_all_grants_everything_and_is_named(self):
        self.start(policy="policy:\n  allow_all: true\n")
        alice = self.client("alice")
        self.assertEqual(alice.subscribe(1, [("#", 0)]), [0])
        self.assertIn("warning: policy.allow_all", self.moat.process.log())

    def test_a_user_name_without_a_password_file_gets_no_users_rights(self):
        acl = f"{self.workdir}/acl"
        with open(acl, "w") as f:
            f.write("user alice\ntopic readwrite a/#\n")
        self.start(auth="auth:\n  allow_anonymous: true\n", policy=f"policy:\n  acl_file: {acl}\n")
        claimed = MqttClient(self.port, 5, "claims-alice", username="alice")
        self.addCleanup(claimed.close)
        self.assertEqual(claimed.connack()[1], 0)  # anonymous, whatever name it claims
        self.assertEqual(claimed.publish_flow("a/x", b"x", qos=1), DENIED_V5)


class BruteForce(SessionAbuseTestCase):
    """Item 5: guessing is slowed and banned per source; the owner is never locked out."""

    def test_a_strangers_guesses_do_not_lock_the_owner_out(self):
        self.start(auth=(f"auth:\n  password_file: {self.passwd_path()}\n"
                         "  failure_delay: 0s\n  ban:\n    failures: 3\n"), policy=None)
        for _ in range(3):
            guess = RawClient(self.port, source="127.0.0.10")
            self.addCleanup(guess.close)
            guess.send(connect_packet("guess", username="alice", password="wrong"))
            self.assertEqual(guess.read_packet(), (CONNACK, b"\x00\x04"))
        self.wait_audited(event="ban", reason="user_at_address", address="127.0.0.10")
        # The stranger's address is banned; alice, elsewhere, gets in with her password.
        banned = RawClient(self.port, source="127.0.0.10")
        self.addCleanup(banned.close)
        self.assertTrue(banned.closed_by_peer())
        self.client("alice", source="127.0.0.11")

    def passwd_path(self):
        return password_file(self.workdir, ["alice"])

    def test_guessing_one_user_from_many_addresses_slows_down(self):
        self.start(auth=(f"auth:\n  password_file: {self.passwd_path()}\n"
                         "  failure_delay: 200ms\n  ban:\n    failures: 3\n"), policy=None)
        taken = []
        for i in range(8):  # one guess per address: no address is ever banned
            guess = RawClient(self.port, source=f"127.0.2.{i + 1}")
            self.addCleanup(guess.close)
            sent = time.monotonic()
            guess.send(connect_packet("guess", username="alice", password=f"wrong-{i}"))
            self.assertEqual(guess.read_packet(), (CONNACK, b"\x00\x04"))
            taken.append(time.monotonic() - sent)
        # Three failures double the delay, six double it again: 0.2 s became 0.8 s.
        self.assertGreaterEqual(taken[-1], 0.8, taken)
        self.client("alice", source="127.0.2.100")  # and alice still gets in


class ClientIds(SessionAbuseTestCase):
    """Item 6: a client id belongs to the identity that holds it."""

    def test_a_live_client_id_cannot_be_taken_over_by_another_identity(self):
        self.start(policy="policy:\n  allow_all: true\n")
        alice = self.client("alice", client_id="pump-7")
        self.client("bob", client_id="pump-7", code=0x85)
        self.client("bob", version=4, client_id="pump-7", code=2)
        alice.ping()  # alice's session survived
        self.wait_audited(event="refused_connect", reason="client_id_taken", identity="bob")

    def test_a_persistent_session_stays_its_owners(self):
        self.start(policy="policy:\n  allow_all: true\n")
        alice = self.client("alice", version=4, client_id="hmi", clean=False)
        alice.disconnect()
        wait_until(lambda: self.claim_refused("bob", "hmi"),
                   what="bob to be refused alice's persistent session")
        self.client("alice", version=4, client_id="hmi", clean=False)

    def claim_refused(self, user, client_id):
        c = MqttClient(self.port, 4, client_id, username=user, password=password_of(user))
        try:
            return c.connack()[1] == 2
        finally:
            c.close()

    def test_shared_client_ids_let_any_identity_take_over_as_in_mosquitto(self):
        self.start(auth=(f"auth:\n  password_file: {password_file(self.workdir, ['alice', 'bob'])}\n"
                         "  shared_client_ids: true\n"),
                   policy="policy:\n  allow_all: true\n")
        alice = self.client("alice", client_id="shared-1")
        self.client("bob", client_id="shared-1")
        self.assertTrue(alice.closed_by_peer())  # the broker ended the older session


class NothingLivesForever(SessionAbuseTestCase):
    """Item 7: keep-alive has a ceiling, and a peer that reads nothing is closed."""

    def start(self, **kwargs):
        super().start(auth=f"auth:\n  allow_anonymous: true\n", **kwargs)

    def test_an_mqtt5_client_without_keep_alive_is_told_the_cap_and_held_to_it(self):
        self.start(policy="policy:\n  allow_all: true\n", limits="  max_keepalive: 2s\n")
        sent = time.monotonic()
        raw = RawClient(self.port)
        self.addCleanup(raw.close)
        raw.send(connect_packet("idle-5", version=5, keep_alive=0))
        first, body = raw.read_packet()
        self.assertEqual(first, CONNACK)
        self.assertIn(b"\x13\x00\x02", body)  # Server Keep Alive: 2 s
        first, body = raw.read_packet()  # silent since: DISCONNECT 0x8D after 1.5 x 2 s
        self.assertEqual((first, body[:1]), (0xE0, b"\x8d"))
        self.assertGreaterEqual(time.monotonic() - sent, 3.0)

    def test_an_older_client_without_keep_alive_is_held_to_the_cap(self):
        self.start(policy="policy:\n  allow_all: true\n", limits="  max_keepalive: 2s\n")
        raw = RawClient(self.port)
        self.addCleanup(raw.close)
        sent = time.monotonic()
        raw.send(connect_packet("idle-4", version=4, keep_alive=0))
        self.assertEqual(raw.read_packet(), (CONNACK, b"\x00\x00"))
        self.assertTrue(raw.closed_by_peer(timeout=20))
        self.assertGreaterEqual(time.monotonic() - sent, 3.0)  # 1.5 x the cap
        wait_until(lambda: "reason=keep_alive_timeout" in self.moat.process.log(),
                   what="the keep-alive end to be logged")
        wait_for_metric(self.metrics_port, "moat_sessions_ended_total", 1,
                        reason="keep_alive_timeout")

    def test_a_subscriber_that_reads_nothing_is_closed_at_the_write_timeout(self):
        self.start(policy="policy:\n  allow_all: true\n", limits="  write_timeout: 2s\n")
        stuck = socket.create_connection(("127.0.0.1", self.port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.addCleanup(stuck.close)
        stuck.sendall(connect_packet("stuck") + bytes([0x82, 8, 0, 1, 0, 3]) + b"f/#" + b"\x00")
        publisher = self.client(None, version=4, client_id="flooder")
        payload = b"x" * 60000
        deadline = time.monotonic() + 60
        while "reason=write_timeout" not in self.moat.process.log():
            self.assertLess(time.monotonic(), deadline, "the stuck subscriber was never closed")
            publisher.publish("f/x", payload)
            time.sleep(0.05)
        publisher.ping()  # the publisher is unaffected
        wait_for_metric(self.metrics_port, "moat_sessions_ended_total", 1, reason="write_timeout")

    def test_both_links_have_tcp_keep_alive(self):
        self.start(policy="policy:\n  allow_all: true\n")
        self.client(None)
        shown = subprocess.run(["ss", "-tno", "state", "established"], capture_output=True,
                               text=True, check=True).stdout
        # moat's side of the client link (its local port is the listener's) and of the
        # broker link (its peer is the broker) both run a keepalive timer.
        client_side = [l for l in shown.splitlines() if f"127.0.0.1:{self.port} " in l]
        broker_side = [l for l in shown.splitlines() if f"127.0.0.1:{self.broker.port}" in l]
        self.assertTrue(any("keepalive" in l for l in client_side), shown)
        self.assertTrue(any("keepalive" in l for l in broker_side), shown)


if __name__ == "__main__":
    unittest.main()
