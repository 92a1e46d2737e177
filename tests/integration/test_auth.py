"""Identity and authentication (issue 5): clients over TLS to moat, a real mosquitto behind
it, real password files made by mosquitto_passwd and `moat passwd`, real TLS client
certificates."""

import base64
import hashlib
import os
import select
import signal
import ssl
import subprocess
import time
import unittest

from harness import (MOAT_BIN, Certs, ProxyTestCase, RawClient, connect_packet, free_port,
                     plain_listener, tls_listener, wait_until)

CONNACK = 0x20
DISCONNECT = 0xE0


def connack_code(client, version):
    first, body = client.read_packet()
    assert first == CONNACK, (first, body)
    return body[1] if version != 3 else body[1]


def moat_passwd(path, user, password, delete=False):
    argv = [MOAT_BIN, "passwd"] + (["-D"] if delete else []) + [path, user]
    result = subprocess.run(argv, input=(password or "") + "\n", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def sha512_entry(user, password, salt=b"0123456789ab"):
    """A $6$ line as mosquitto 1.x wrote them: SHA-512 over password then salt."""
    digest = hashlib.sha512(password.encode() + salt).digest()
    return f"{user}:$6${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n"


class AuthTestCase(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.passwd = os.path.join(self.workdir, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", self.passwd, "alice", "alice-pw"],
                       check=True, capture_output=True)
        with open(self.passwd, "a") as f:
            f.write(sha512_entry("sixer", "six-pw"))
        moat_passwd(self.passwd, "carol", "carol-pw")
        os.chmod(self.passwd, 0o600)

    def start(self, auth_extra="", listener=None, anonymous=False, broker_conf=(),
              upstream_extra="", ban="  ban: off\n"):
        self.broker = self.start_broker(extra_conf=broker_conf)
        if listener is None:
            self.port = free_port()
            listener = tls_listener(self.port)
        auth = (f"auth:\n  password_file: {self.passwd}\n"
                f"  allow_anonymous: {'true' if anonymous else 'false'}\n"
                "  failure_delay: 0s\n" + ban + auth_extra)
        self.moat = self.start_moat(self.broker.port, [listener],
                                    auth=auth, upstream_extra=upstream_extra)
        self.moat.wait_listening(self.port)

    def connect(self, version=4, tls=True, **kwargs):
        client = RawClient(self.port, tls=tls)
        kwargs.setdefault("client_id", "auth-test")
        client.send(connect_packet(kwargs.pop("client_id"), version=version, **kwargs))
        return client

    def code(self, version=4, **kwargs):
        client = self.connect(version=version, **kwargs)
        first, body = client.read_packet()
        self.assertEqual(first, CONNACK)
        return body[1]


class Passwords(AuthTestCase):
    def test_mosquitto_passwd_pbkdf2_entry(self):
        self.start()
        self.assertEqual(self.code(username="alice", password="alice-pw"), 0)
        self.assertEqual(self.code(username="alice", password="wrong"), 4)

    def test_sha512_entry(self):
        self.start()
        self.assertEqual(self.code(username="sixer", password="six-pw"), 0)
        self.assertEqual(self.code(username="sixer", password="wrong"), 4)

    def test_moat_passwd_entry(self):
        self.start()
        self.assertEqual(self.code(username="carol", password="carol-pw"), 0)

    def test_refusal_codes_for_each_version(self):
        self.start()
        self.assertEqual(self.code(version=3, username="alice", password="wrong"), 4)
        self.assertEqual(self.code(version=4, username="alice", password="wrong"), 4)
        self.assertEqual(self.code(version=5, username="alice", password="wrong"), 0x86)
        self.assertEqual(self.code(version=4, username="nobody", password="x"), 4)
        self.assertEqual(self.code(version=4), 5)  # anonymous, not allowed
        self.assertEqual(self.code(version=5), 0x87)

    def test_refused_connect_never_reaches_the_broker(self):
        self.start()
        self.assertEqual(self.code(username="alice", password="wrong", client_id="intruder"), 4)
        self.assertEqual(self.code(username="alice", password="alice-pw", client_id="friend"), 0)
        wait_until(lambda: "friend" in self.broker.process.log(), what="the good login")
        self.assertNotIn("intruder", self.broker.process.log())

    def test_enhanced_authentication_is_refused_with_bad_method(self):
        self.start()
        method = b"\x15" + len(b"SCRAM-SHA-1").to_bytes(2, "big") + b"SCRAM-SHA-1"
        self.assertEqual(self.code(version=5, username="alice", password="alice-pw",
                                   properties=method), 0x8C)

    def test_password_never_appears_in_the_log(self):
        self.start()
        self.code(username="alice", password="hunter2-secret")
        wait_until(lambda: "bad_credentials" in self.moat.process.log(), what="the refusal log")
        self.assertNotIn("hunter2-secret", self.moat.process.log())


class Refusals(AuthTestCase):
    def test_failed_login_is_answered_after_the_failure_delay(self):
        # Plain TCP, so that a readable socket means a CONNACK (with TLS 1.3 it could be a
        # session ticket).
        self.broker = self.start_broker()
        self.port = free_port()
        auth = (f"auth:\n  password_file: {self.passwd}\n  failure_delay: 3s\n"
                "  ban: off\n")
        self.moat = self.start_moat(self.broker.port, [plain_listener(self.port)], auth=auth)
        self.moat.wait_listening(self.port)
        started = time.monotonic()  # before the CONNECT leaves, so before moat's delay starts
        refused = self.connect(tls=False, username="alice", password="wrong")
        # A good login meanwhile is answered while the refusal is still held back: the
        # delay holds only the refused client.
        self.assertEqual(self.code(tls=False, username="alice", password="alice-pw"), 0)
        readable, _, _ = select.select([refused.sock], [], [], 0)
        self.assertEqual(readable, [], "the refusal came before the failure delay")
        self.assertEqual(connack_code(refused, 4), 4)
        self.assertGreaterEqual(time.monotonic() - started, 3.0)

    def test_auth_packet_after_connect_is_refused_with_bad_method(self):
        self.start()
        client = self.connect(version=5, username="alice", password="alice-pw")
        self.assertEqual(client.read_packet()[0], CONNACK)
        client.send(bytes([0xF0, 0x00]))  # AUTH, Success, no properties
        first, body = client.read_packet()
        self.assertEqual((first, body[:1]), (DISCONNECT, b"\x8c"))

    def test_check_config_reports_a_broken_password_file_with_its_line(self):
        with open(self.passwd, "a") as f:
            f.write("broken line\n")
        self.broker = self.start_broker()
        port = free_port()
        moat = self.start_moat(self.broker.port, [plain_listener(port)],
                               auth=f"auth:\n  password_file: {self.passwd}\n")
        check = subprocess.run([MOAT_BIN, "--check-config", moat.config_path],
                               capture_output=True, text=True)
        self.assertEqual(check.returncode, 1)
        self.assertIn(f"{self.passwd}:4:", check.stderr)
        self.assertEqual(moat.process.proc.wait(10), 1)


class Anonymous(AuthTestCase):
    def test_anonymous_allowed(self):
        self.start(anonymous=True)
        self.assertEqual(self.code(), 0)
        self.assertEqual(self.code(username="alice", password="wrong"), 4)


class ClientIds(AuthTestCase):
    def test_client_id_must_match_the_user(self):
        self.start('  client_id_pattern: "%u-*"\n')
        self.assertEqual(self.code(username="alice", password="alice-pw",
                                   client_id="alice-sensor"), 0)
        self.assertEqual(self.code(username="alice", password="alice-pw",
                                   client_id="carol-sensor"), 2)
        self.assertEqual(self.code(version=5, username="alice", password="alice-pw",
                                   client_id="carol-sensor"), 0x85)

    def test_empty_client_id_with_persistent_session_is_rejected_in_3_1_1(self):
        self.start()
        self.assertEqual(self.code(username="alice", password="alice-pw", client_id="",
                                   clean=False), 2)


class Certificates(AuthTestCase):
    def tls_listener_with_ca(self):
        return tls_listener(self.port, f"      client_ca: {Certs.path('ca.crt')}\n")

    def connect_tls(self, cert=True, **kwargs):
        import socket
        import ssl
        context = ssl.create_default_context(cafile=Certs.path("ca.crt"))
        if cert:
            context.load_cert_chain(Certs.path("client.crt"), Certs.path("client.key"))
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        tls = context.wrap_socket(sock, server_hostname="localhost")
        kwargs.setdefault("client_id", "cert-test")
        tls.sendall(connect_packet(kwargs.pop("client_id"), **kwargs))
        return tls.recv(4)

    def start_tls(self, auth_extra):
        self.port = free_port()
        self.start(auth_extra, listener=self.tls_listener_with_ca())

    def test_certificate_cn_is_the_identity(self):
        self.start_tls("  require: certificate\n  certificate_identity: cn\n")
        self.assertEqual(self.connect_tls(), b"\x20\x02\x00\x00")
        self.assertEqual(self.connect_tls(cert=False), b"\x20\x02\x00\x05")
        # The CONNECT user name cannot override the certificate.
        self.assertEqual(self.connect_tls(username="alice", password="alice-pw"),
                         b"\x20\x02\x00\x04")

    def test_certificate_and_password(self):
        moat_passwd(self.passwd, "dev-client", "dev-pw")
        self.start_tls("  require: certificate_and_password\n  certificate_identity: cn\n")
        self.assertEqual(self.connect_tls(username="dev-client", password="dev-pw"),
                         b"\x20\x02\x00\x00")
        # MQTT 5 allows a password without a user name: the certificate names the client.
        reply = self.connect_tls(password="dev-pw", version=5)
        self.assertEqual((reply[0], reply[3]), (CONNACK, 0))  # reason code Success
        self.assertEqual(self.connect_tls(username="dev-client", password="wrong"),
                         b"\x20\x02\x00\x04")


class Bans(AuthTestCase):
    def test_repeated_failures_ban_the_address_then_expire(self):
        self.start(ban="  ban:\n    failures: 3\n    window: 1m\n    duration: 2s\n")
        for attempt in range(3):
            if attempt == 2:  # the ban cannot start before the failure that starts it is sent
                ban_earliest_start = time.monotonic()
            self.assertEqual(self.code(username="alice", password="wrong"), 4)
        # Banned: closed on accept, before TLS or hashing, with no CONNACK at all.
        with self.assertRaises((ssl.SSLError, ConnectionError, EOFError)):
            self.connect(username="alice", password="alice-pw").read_packet()

        def logs_in():
            try:
                return self.code(username="alice", password="alice-pw") == 0
            except (ssl.SSLError, OSError, EOFError):
                return False

        # The ban lifts, and not before its duration has passed.
        wait_until(logs_in, timeout=15, what="the ban to end")
        self.assertGreaterEqual(time.monotonic() - ban_earliest_start, 2.0)


class Reload(AuthTestCase):
    def live_session(self, user, password, version=5):
        client = self.connect(version=version, username=user, password=password,
                              client_id=f"{user}-live")
        first, body = client.read_packet()
        self.assertEqual((first, body[1]), (CONNACK, 0))
        return client

    def test_removed_user_is_disconnected_on_sighup(self):
        self.start()
        alice = self.live_session("alice", "alice-pw")
        carol = self.live_session("carol", "carol-pw")
        moat_passwd(self.passwd, "alice", None, delete=True)
        self.moat.process.proc.send_signal(signal.SIGHUP)
        first, body = alice.read_packet()
        self.assertEqual((first, body[:1]), (DISCONNECT, b"\x87"))
        self.assertTrue(alice.closed_by_peer())
        # Carol's entry did not change: her session lives on.
        carol.send(bytes([0xC0, 0]))
        self.assertEqual(carol.read_packet(), (0xD0, b""))

    def test_changed_password_is_disconnected_on_sighup(self):
        self.start()
        carol = self.live_session("carol", "carol-pw", version=4)
        moat_passwd(self.passwd, "carol", "new-pw")
        self.moat.process.proc.send_signal(signal.SIGHUP)
        self.assertTrue(carol.closed_by_peer())
        self.assertEqual(self.code(username="carol", password="new-pw"), 0)

    def test_broken_file_keeps_the_old_credentials_and_says_where(self):
        self.start()
        carol = self.live_session("carol", "carol-pw")
        with open(self.passwd, "a") as f:
            f.write("this line is not an entry\n")
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in self.moat.process.log(), what="the refusal")
        self.assertIn(f"{self.passwd}:4:", self.moat.process.log())
        self.assertEqual(self.code(username="alice", password="alice-pw"), 0)
        carol.send(bytes([0xC0, 0]))
        self.assertEqual(carol.read_packet(), (0xD0, b""))


class UpstreamCredentials(AuthTestCase):
    def test_replace_with_the_service_account(self):
        broker_passwd = os.path.join(self.workdir, "broker-passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", broker_passwd, "moat-svc", "svc-pw"],
                       check=True, capture_output=True)
        service_password = os.path.join(self.workdir, "svc-password")
        with open(service_password, "w") as f:
            f.write("svc-pw\n")
        self.start(broker_conf=(f"password_file {broker_passwd}", "allow_anonymous false"),
                   upstream_extra=("  credentials: replace\n  username: moat-svc\n"
                                   f"  password_file: {service_password}\n"))
        self.assertEqual(self.code(username="alice", password="alice-pw"), 0)
        wait_until(lambda: "u'moat-svc'" in self.broker.process.log(), what="the broker login")
        self.assertNotIn("u'alice'", self.broker.process.log())

    def test_strip_sends_no_credentials(self):
        self.start(upstream_extra="  credentials: strip\n")
        self.assertEqual(self.code(username="alice", password="alice-pw", client_id="stripped"),
                         0)
        wait_until(lambda: "stripped" in self.broker.process.log(), what="the broker login")
        self.assertNotIn("u'alice'", self.broker.process.log())

    def test_passthrough_forwards_the_client_credentials(self):
        self.start()
        self.assertEqual(self.code(username="alice", password="alice-pw"), 0)
        wait_until(lambda: "u'alice'" in self.broker.process.log(), what="the broker login")


if __name__ == "__main__":
    unittest.main()
