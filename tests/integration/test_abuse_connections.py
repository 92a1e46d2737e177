"""Issue 14, before a client logs in: one hostile address cannot exhaust moat's memory or
connections, pretend to be another address, or hold a connection open by dribbling. Each
attack goes through the real data path (real mosquitto behind, real TLS where the item
involves it), and each test checks the refusal (what the client sees, the metric, the
audit line) and that an honest client from another address still gets in.

Clients pick their loopback source address (127.0.0.2, .3, ...): per-address limits and
bans are the subject here."""

import socket
import ssl
import time
import unittest

from harness import (audit_lines, Certs, ProxyTestCase, RawClient, connect_packet, free_port, metric,
                     plain_listener, tls_listener, wait_for_metric, wait_until)

CONNACK = 0x20
CONNACK_OK = (CONNACK, b"\x00\x00")


class AbuseTestCase(ProxyTestCase):
    """moat with metrics and an audit file, in front of a real broker."""

    def start(self, listeners=None, limits="", auth="auth:\n  allow_anonymous: true\n",
              extra=""):
        self.broker = self.start_broker()
        self.metrics_port = free_port()
        self.audit_path = f"{self.workdir}/audit.log"
        if listeners is None:
            self.port = free_port()
            listeners = [plain_listener(self.port)]
        self.moat = self.start_moat(
            self.broker.port, listeners, auth=auth,
            extra=(f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n'
                   f"audit:\n  file: {self.audit_path}\n" +
                   (f"limits:\n{limits}" if limits else "") + extra))
        self.moat.wait_listening(self.port)

    def audit(self, **fields):
        return audit_lines(self.audit_path, **fields)

    def wait_audited(self, **fields):
        wait_until(lambda: self.audit(**fields), what=f"an audit line {fields}")
        return self.audit(**fields)[0]

    def refused(self, reason):
        return metric(self.metrics_port, "moat_connections_refused_total", reason=reason)

    def logs_in(self, source, port=None, tls=False, client_id=None):
        """An honest client from `source` gets its CONNACK 0."""
        client = RawClient(port or self.port, tls=tls, source=source)
        self.addCleanup(client.close)
        client.send(connect_packet(client_id or f"honest-{source}"))
        self.assertEqual(client.read_packet(), CONNACK_OK)
        return client

    def assert_closed_unanswered(self, client):
        self.assertTrue(client.closed_by_peer(), "still open")


class ProxyHeaderSenders(AbuseTestCase):
    """Item 2: a PROXY header is believed only from the load balancers."""

    def setUp(self):
        super().setUp()
        self.port, self.plain = free_port(), free_port()
        from_lb = "    proxy_protocol: v1\n    proxy_protocol_from: [127.0.0.1]\n"
        self.start([tls_listener(self.port, from_lb), plain_listener(self.plain, from_lb)])

    def test_a_header_from_anyone_else_is_refused_before_tls(self):
        raw = socket.create_connection(("127.0.0.1", self.port), source_address=("127.0.0.2", 0))
        self.addCleanup(raw.close)
        raw.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 8883\r\n")
        raw.settimeout(10)
        try:  # closed with the header unread: a reset, or a plain end
            self.assertEqual(raw.recv(1024), b"", "moat answered instead of closing")
        except ConnectionResetError:
            pass
        wait_for_metric(self.metrics_port, "moat_connections_refused_total", 1,
                        reason="proxy_untrusted")
        # The audit line names who really sent it, never the claimed address.
        line = self.wait_audited(event="refused_connection", reason="proxy_untrusted")
        self.assertEqual(line["address"], "127.0.0.2")
        self.assertNotIn("198.51.100.7", open(self.audit_path).read())
        # No TLS was attempted for it.
        self.assertEqual(metric(self.metrics_port, "moat_tls_handshake_failures_total"), 0)

    def test_the_load_balancers_header_gives_the_real_client_address(self):
        client = RawClient(self.plain, source="127.0.0.1")
        self.addCleanup(client.close)
        client.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 1883\r\n" +
                    connect_packet("behind-lb"))
        self.assertEqual(client.read_packet(), CONNACK_OK)
        client.send(b"\x30\x03\x00\x01#")  # a malformed PUBLISH: audited with its address
        self.assertTrue(client.closed_by_peer())
        self.assertEqual(self.wait_audited(event="malformed")["address"], "192.0.2.7")


class ConnectionLimits(AbuseTestCase):
    """Item 4: per-address limits before any TLS work, and a process-wide cap."""

    def test_one_address_cannot_hold_more_than_its_share(self):
        self.start(limits="  max_connections_per_address: 3\n")
        held = [self.logs_in("127.0.0.2", client_id=f"held-{i}") for i in range(3)]
        over = RawClient(self.port, source="127.0.0.2")
        self.addCleanup(over.close)
        self.assert_closed_unanswered(over)
        self.assertEqual(wait_for_metric(self.metrics_port, "moat_connections_refused_total", 1,
                                         reason="address_connections"), 1)
        self.assertEqual(self.wait_audited(reason="address_connections")["address"],
                         "127.0.0.2")
        self.logs_in("127.0.0.3")
        held[0].close()  # a place is free again
        wait_until(lambda: self.try_login("127.0.0.2"), what="the freed place to be taken")

    def try_login(self, source):
        client = RawClient(self.port, source=source)
        try:
            client.send(connect_packet(f"retry-{time.monotonic_ns()}"))
            return client.read_packet() == CONNACK_OK
        except (OSError, EOFError):
            return False
        finally:
            client.close()

    def test_new_connections_from_one_address_are_rate_limited(self):
        self.start(limits="  connection_rate_per_address: 1\n  connection_burst_per_address: 3\n")
        # Four at once, well within the second that would refill one token.
        clients = [RawClient(self.port, source="127.0.0.4") for _ in range(4)]
        for i, client in enumerate(clients):
            self.addCleanup(client.close)
            client.send(connect_packet(f"burst-{i}"))
        answers = []
        for client in clients:
            try:
                answers.append(client.read_packet())
            except (OSError, EOFError):
                answers.append(None)
        self.assertEqual(answers.count(CONNACK_OK), 3, answers)
        wait_for_metric(self.metrics_port, "moat_connections_refused_total", 1,
                        reason="address_rate")
        self.logs_in("127.0.0.5")

    def test_max_connections_holds_across_worker_threads(self):
        # Two threads: counted per thread, four could become eight.
        self.start(limits="  max_connections: 4\n", extra="threads: 2\n")
        for i in range(4):
            self.logs_in(f"127.0.1.{i + 1}")
        over = RawClient(self.port, source="127.0.1.9")
        self.addCleanup(over.close)
        self.assert_closed_unanswered(over)
        wait_for_metric(self.metrics_port, "moat_connections_refused_total", 1,
                        reason="max_connections")

    def test_failed_handshakes_count_towards_the_address_ban(self):
        self.port = free_port()
        self.start([tls_listener(self.port)],
                   auth="auth:\n  allow_anonymous: true\n  ban:\n    failures: 3\n")
        for _ in range(3):
            garbage = socket.create_connection(("127.0.0.1", self.port),
                                               source_address=("127.0.0.6", 0))
            garbage.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not TLS
            garbage.settimeout(10)
            try:
                while garbage.recv(1024):
                    pass
            except OSError:
                pass
            garbage.close()
        self.wait_audited(event="ban", address="127.0.0.6")
        banned = RawClient(self.port, source="127.0.0.6")
        self.addCleanup(banned.close)
        self.assert_closed_unanswered(banned)
        wait_for_metric(self.metrics_port, "moat_connections_refused_total", 1, reason="banned")
        self.logs_in("127.0.0.7", tls=True)

    def test_a_port_probe_is_not_held_against_the_address(self):
        self.port = free_port()
        self.start([tls_listener(self.port)],
                   auth="auth:\n  allow_anonymous: true\n  ban:\n    failures: 2\n")
        for _ in range(5):  # what a load balancer's TCP health check does
            socket.create_connection(("127.0.0.1", self.port),
                                     source_address=("127.0.0.8", 0)).close()
        wait_for_metric(self.metrics_port, "moat_tls_handshake_failures_total", 5)
        self.logs_in("127.0.0.8", tls=True)


class BeforeLogin(AbuseTestCase):
    """Item 3: what a client that has not logged in may make moat hold, and for how long."""

    def test_an_oversized_connect_is_refused_from_its_fixed_header(self):
        self.start()
        client = RawClient(self.port, source="127.0.0.2")
        self.addCleanup(client.close)
        # MQTT 5, announcing 1 MiB: refused before the body is sent at all.
        client.send(b"\x10\x80\x80\x40\x00\x04MQTT\x05\x02")
        first, body = client.read_packet()
        self.assertEqual((first, body[1]), (CONNACK, 0x95))
        self.assertTrue(client.closed_by_peer())
        wait_for_metric(self.metrics_port, "moat_malformed_packets_total", 1,
                        reason="packet_too_large")
        self.logs_in("127.0.0.3")

    def test_one_deadline_runs_from_accept_through_the_connect(self):
        self.port = free_port()
        self.start([tls_listener(self.port)], limits="  connect_timeout: 1s\n")
        raw = socket.create_connection(("127.0.0.1", self.port), source_address=("127.0.0.2", 0))
        accepted = time.monotonic()
        time.sleep(0.7)  # within the handshake's part of it ...
        context = ssl.create_default_context(cafile=Certs.path("ca.crt"))
        tls = context.wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(tls.close)
        time.sleep(1.5)  # ... but the CONNECT comes after the whole deadline
        try:
            tls.sendall(connect_packet("late"))
            tls.settimeout(10)
            self.assertEqual(tls.recv(1024), b"", "a CONNECT past the deadline was answered")
        except (OSError, ssl.SSLError):
            pass  # closed while we slept
        self.assertGreaterEqual(time.monotonic() - accepted, 1.0)
        wait_for_metric(self.metrics_port, "moat_connect_total", 1, result="timeout")
        self.logs_in("127.0.0.3", tls=True)

    def test_what_unauthenticated_clients_buffer_is_bounded_oldest_first(self):
        # Each worker thread evicts its own oldest: with the default two workers, which
        # trickler is oldest on the thread that goes over depends on how SO_REUSEPORT
        # spread them, so one worker makes "oldest" one order.
        self.start(limits="  max_preauth_memory: 131072\n", extra="threads: 1\n")
        # Each announces a 60 KiB CONNECT and sends a little of it: 16 KiB buffered each.
        tricklers = []
        for i in range(16):
            t = RawClient(self.port, source="127.0.0.2")
            self.addCleanup(t.close)
            t.send(b"\x10\x80\xe0\x03\x00\x04MQTT\x04\x02\x00\x3c" + b"x" * 100)
            tricklers.append(t)
        wait_for_metric(self.metrics_port, "moat_connections_refused_total", 8,
                        reason="preauth_memory")
        self.assertLessEqual(metric(self.metrics_port, "moat_preauth_memory_bytes"), 131072)
        # The oldest went first; the newest still waits for the rest of its CONNECT.
        self.assertTrue(tricklers[0].closed_by_peer(timeout=5))
        self.assertFalse(tricklers[-1].closed_by_peer(timeout=0.2))
        self.logs_in("127.0.0.3")


if __name__ == "__main__":
    unittest.main()
