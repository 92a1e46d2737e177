"""The audit trail of sessions (issue 17): a session_admitted line when a client gets in
(who, how it proved it, from where, over which TLS version and cipher) and a
session_ended line when it leaves (why, after how long, what went each way), never a
password; and every audit line as RFC 5424 to a local syslog socket the test binds."""

import json
import os
import re
import socket
import ssl
import subprocess
import time
import unittest

from harness import (REPO, Certs, MqttClient, ProxyTestCase, audit_lines, connect_packet,
                     WebSocketClient, free_port, password_file, password_of, publish_packet,
                     tls_listener, wait_for_metric, wait_until)

DISCONNECT = b"\xe0\x00"
# daemon (3) is the default facility; the test asks for local0 (16).
LOCAL0 = 16
INFORMATIONAL, NOTICE = 6, 5
RFC5424 = re.compile(r"<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) ([!-~]+) moat (\d+) "
                     r"([!-~]{1,32}) - (\{.*\})\Z", re.S)


def openssl_fingerprint(cert_path):
    """`openssl x509 -fingerprint -sha256` of the file, as moat writes it (hex, no colons)."""
    out = subprocess.run(["openssl", "x509", "-in", cert_path, "-noout", "-fingerprint",
                          "-sha256"], check=True, capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1].replace(":", "").lower()


EVENTS = {"session_admitted", "session_ended", "refused_connect", "refused_connection",
          "denial", "rate_limited", "ban", "malformed", "reload"}


def readme_audit_section():
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    return text[text.index("### Audit log\n"):text.index("### Hardening\n")]


def readme_schema_fields():
    """The field names of the README's audit schema table."""
    fields = set()
    for cell in re.findall(r"^\| ((?:`\w+`(?:, )?)+) \| (?:string|integer) \|",
                           readme_audit_section(), re.M):
        fields.update(re.findall(r"`(\w+)`", cell))
    return fields


class ReadmeSchema(unittest.TestCase):
    def test_the_examples_are_one_json_line_per_event_in_the_schemas_fields(self):
        section = readme_audit_section()
        block = section[section.index("```json\n") + 8:]
        examples = [json.loads(line) for line in block[:block.index("```")].splitlines()]
        self.assertEqual(sorted(e["event"] for e in examples), sorted(EVENTS))
        fields = readme_schema_fields()
        for example in examples:
            self.assertLessEqual(set(example), fields, example)


class SessionAudit(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port = free_port()
        self.audit_path = os.path.join(self.workdir, "audit.log")
        self.passwd = password_file(self.workdir, ["alice"])

    def start(self, metrics_port=None, more_listeners=()):
        extra = (f"audit:\n  file: {self.audit_path}\n  syslog: true\n"
                 f"  syslog_socket: {self.syslog_path()}\n  syslog_facility: local0\n")
        if metrics_port:
            extra += f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n'
        # A certificate names its holder (cn); without one, the password file decides.
        auth = (f"auth:\n  password_file: {self.passwd}\n  certificate_identity: cn\n"
                "  failure_delay: 0s\n  ban: off\n")
        listener = tls_listener(self.port, f"      client_ca: {Certs.path('ca.crt')}\n")
        self.moat = self.start_moat(self.broker.port, [listener, *more_listeners], auth=auth,
                                    extra=extra)
        self.moat.wait_listening(self.port)

    def syslog_path(self):
        return os.path.join(self.workdir, "log.sock")

    def collector(self):
        """The test's own syslog socket, bound before moat starts, as syslogd's would be."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(self.syslog_path())
        sock.settimeout(10)
        return sock

    def tls_client(self, client_id, cert=False, password=None, accepted=True):
        """A 3.1.1 client over TLS, as alice when given a password; its CONNACK read."""
        context = ssl.create_default_context(cafile=Certs.path("ca.crt"))
        if cert:
            context.load_cert_chain(Certs.path("client.crt"), Certs.path("client.key"))
        client = MqttClient(self.port, 4, client_id, tls=context,
                            username="alice" if password else None, password=password)
        self.addCleanup(client.close)
        self.assertEqual(client.connack(), (0, 0 if accepted else 4))
        return client

    def one_line(self, **fields):
        wait_until(lambda: audit_lines(self.audit_path, **fields), what=f"an audit line {fields}")
        lines = audit_lines(self.audit_path, **fields)
        self.assertEqual(len(lines), 1, lines)
        return lines[0]

    def test_a_password_login_over_tls_is_admitted_and_ended_with_what_it_sent(self):
        self.collector()
        self.start()
        started = time.monotonic()
        client = self.tls_client("meter-7", password=password_of("alice"))
        admitted = self.one_line(event="session_admitted")
        self.assertEqual(admitted["identity"], "alice")
        self.assertEqual(admitted["auth"], "password")
        self.assertEqual(admitted["client_id"], "meter-7")
        self.assertEqual(admitted["address"], "127.0.0.1")
        self.assertEqual(admitted["listener"], f"127.0.0.1:{self.port}")
        self.assertEqual(admitted["mqtt_version"], "3.1.1")
        # What this side of the handshake saw, in OpenSSL's names on both sides.
        self.assertEqual(admitted["tls_version"], client.sock.version())
        self.assertEqual(admitted["tls_cipher"], client.sock.cipher()[0])
        self.assertNotIn("cert_fingerprint", admitted)

        sizes = (10, 200, 3000)
        for packet_id, size in enumerate(sizes, start=1):
            client.publish_flow("meters/7", b"x" * size, qos=1, packet_id=packet_id)
        client.send(DISCONNECT)
        ended = self.one_line(event="session_ended")
        elapsed_ms = (time.monotonic() - started) * 1000
        self.assertEqual(ended["reason"], "client_disconnected")
        self.assertEqual((ended["identity"], ended["client_id"]), ("alice", "meter-7"))
        self.assertIsInstance(ended["duration_ms"], int)
        self.assertTrue(0 <= ended["duration_ms"] <= elapsed_ms, (ended, elapsed_ms))
        self.assertEqual(ended["messages_from_client"], 3)
        connect = connect_packet("meter-7", username="alice", password=password_of("alice"))
        publishes = [publish_packet("meters/7", b"x" * size, qos=1, packet_id=i)
                     for i, size in enumerate(sizes, start=1)]
        self.assertEqual(ended["bytes_from_client"],
                         len(connect) + sum(map(len, publishes)) + len(DISCONNECT))
        self.assertEqual(ended["messages_from_broker"], 0)
        self.assertEqual(ended["bytes_from_broker"], 4 + 3 * 4)  # CONNACK, three PUBACKs
        # What moat writes is what the README documents.
        for line in (admitted, ended):
            self.assertLessEqual(set(line), readme_schema_fields(), line)

    def test_a_certificate_login_carries_the_certificates_fingerprint(self):
        self.collector()
        self.start()
        self.tls_client("dev-1", cert=True)
        admitted = self.one_line(event="session_admitted")
        self.assertEqual(admitted["identity"], "dev-client")  # the certificate's CN
        self.assertEqual(admitted["auth"], "certificate")
        self.assertEqual(admitted["cert_fingerprint"],
                         openssl_fingerprint(Certs.path("client.crt")))
        self.assertLessEqual(set(admitted), readme_schema_fields(), admitted)

    def test_websocket_over_tls_names_its_tls_version_and_cipher_too(self):
        self.collector()
        wss_port = free_port()
        self.start(more_listeners=[tls_listener(wss_port, "    protocol: websocket\n")])
        client = WebSocketClient(wss_port, tls=True)
        self.addCleanup(client.close)
        self.assertEqual(client.status, 101)
        client.send(connect_packet("ws-1", username="alice", password=password_of("alice")))
        self.assertEqual(client.read_packet(), (0x20, b"\x00\x00"))
        admitted = self.one_line(event="session_admitted")
        self.assertEqual(admitted["listener"], f"127.0.0.1:{wss_port}")
        self.assertEqual(admitted["tls_version"], client.sock.version())
        self.assertEqual(admitted["tls_cipher"], client.sock.cipher()[0])

    def test_no_password_reaches_the_log_or_syslog(self):
        collector = self.collector()
        self.start()
        self.tls_client("meter-8", password=password_of("alice")).send(DISCONNECT)
        self.tls_client("meter-9", password="hunter2-not-alices", accepted=False)
        self.one_line(event="session_ended")
        self.one_line(event="refused_connect")
        messages = [collector.recv(65536).decode() for _ in range(3)]
        with open(self.audit_path) as f:
            text = f.read()
        for where in [text] + messages:
            self.assertNotIn(password_of("alice"), where)
            self.assertNotIn("hunter2", where)

    def test_syslog_gets_every_line_in_rfc5424_form(self):
        collector = self.collector()
        self.start()
        self.tls_client("meter-9", password=password_of("alice")).send(DISCONNECT)
        self.one_line(event="session_ended")
        with open(self.audit_path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.assertEqual([line["event"] for line in lines], ["session_admitted", "session_ended"])
        for line in lines:
            message = collector.recv(65536).decode()
            match = RFC5424.match(message)
            self.assertIsNotNone(match, message)
            pri, timestamp, _, pid, msgid, msg = match.groups()
            self.assertEqual(int(pri), LOCAL0 * 8 + INFORMATIONAL)
            self.assertEqual(int(pid), self.moat.process.proc.pid)
            self.assertEqual(msgid, line["event"])
            self.assertEqual(json.loads(msg), line)  # the same line as the file's
            self.assertTrue(timestamp.startswith(line["time"][:-1]), (timestamp, line["time"]))
        # A refusal is notable, not routine.
        self.tls_client("meter-9", password="wrong", accepted=False)
        refused = RFC5424.match(collector.recv(65536).decode())
        self.assertEqual((int(refused.group(1)), refused.group(5)),
                         (LOCAL0 * 8 + NOTICE, "refused_connect"))

    def test_lines_a_missing_syslog_socket_cannot_take_are_counted(self):
        metrics_port = free_port()
        self.start(metrics_port=metrics_port)  # nobody bound the socket
        self.tls_client("meter-10", password=password_of("alice")).send(DISCONNECT)
        self.assertEqual(wait_for_metric(metrics_port, "moat_audit_lines_dropped_total", 2,
                                         sink="syslog"), 2)
        # The file still has them.
        self.one_line(event="session_ended")
        self.assertTrue(self.moat.process.alive())


if __name__ == "__main__":
    unittest.main()
