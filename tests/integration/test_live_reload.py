"""Live changes to moat.yaml (issue 17): SIGHUP re-reads the config file itself. The
policy mode switches for sessions already connected, listeners come and go while their
sessions stay, limits apply to new connections, and what cannot change while moat runs is
refused with FILE:LINE while the running config stays whole."""

import re
import signal
import socket
import urllib.request

from harness import (ProxyTestCase, RawClient, connect_packet, free_port, plain_listener,
                     publish_packet, wait_until)

CONNACK, PUBACK, PINGRESP = 0x20, 0x40, 0xD0
# What the broker answers a PUBLISH moat let through: success or no matching subscribers.
FORWARDED = (0x00, 0x10)
PINGREQ = b"\xc0\x00"

# Anonymous clients (lines before any "user") may use ok/#; nothing else is granted.
ACL = "topic readwrite ok/#\n"


class LiveReload(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port, self.metrics_port = free_port(), free_port()
        acl = f"{self.workdir}/acl"
        with open(acl, "w") as f:
            f.write(ACL)
        self.moat = self.start_moat(
            self.broker.port, [plain_listener(self.port)],
            policy=f"policy:\n  acl_file: {acl}\n  mode: audit\n",
            extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\nthreads: 2\n')
        self.moat.wait_listening(self.port)
        self.reloads = 0

    def client(self, client_id, port=None, version=5):
        c = RawClient(port or self.port)
        self.addCleanup(c.close)
        c.send(connect_packet(client_id, version=version))
        first, body = c.read_packet()
        self.assertEqual(first, CONNACK)
        self.assertEqual(body[-1] if version == 4 else body[1], 0, body)
        return c

    def assert_alive(self, c):
        c.send(PINGREQ)
        self.assertEqual(c.read_packet(), (PINGRESP, b""))

    def rewrite(self, old, new):
        with open(self.moat.config_path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.moat.config_path, "w") as f:
            f.write(text.replace(old, new))

    def reload(self, expect="reloaded"):
        """SIGHUP; waits for this reload's outcome line and returns the log."""
        self.reloads += 1
        self.moat.process.proc.send_signal(signal.SIGHUP)
        outcome = re.compile(r"SIGHUP: (reloaded|reload refused)")
        wait_until(lambda: len(outcome.findall(self.moat.process.log())) >= self.reloads,
                   what="the reload's outcome")
        log = self.moat.process.log()
        self.assertEqual(outcome.findall(log)[self.reloads - 1],
                         "reloaded" if expect == "reloaded" else "reload refused", log)
        return log

    def denied_publish_answer(self, c, packet_id):
        c.send(publish_packet("secret/x", b"not granted", qos=1, packet_id=packet_id, version=5))
        first, body = c.read_packet()
        self.assertEqual(first, PUBACK)
        self.assertEqual(body[:2], packet_id.to_bytes(2, "big"))
        return body[2] if len(body) > 2 else 0

    def metric_text(self):
        return urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics").read()

    def test_audit_to_enforce_keeps_fifty_clients_and_refuses_their_next_denied_publish(self):
        clients = [self.client(f"plant-{i}", version=5 if i % 2 else 4) for i in range(50)]
        self.assertIn(self.denied_publish_answer(clients[1], 1), FORWARDED)  # audit
        self.rewrite("  mode: audit\n", "  mode: enforce\n")
        self.reload()
        for c in clients:
            self.assert_alive(c)
        # The same session, connected before the reload, is now refused (0x87).
        self.assertEqual(self.denied_publish_answer(clients[1], 2), 0x87)
        self.assertIn(b'moat_denials_total{action="publish",reason="no_rule",mode="enforce",'
                      b'rule="default"} 1', self.metric_text())
        self.assertIn(b"moat_connections_active", self.metric_text())
        for c in clients:
            self.assert_alive(c)

    def test_on_denied_publish_changes_for_live_sessions_with_the_policy(self):
        old_client = self.client("v311", version=4)
        self.rewrite("  mode: audit\n", "  mode: enforce\n  on_denied_publish: disconnect\n")
        self.reload()
        old_client.send(publish_packet("secret/x", b"not granted", qos=1, packet_id=9))
        self.assertTrue(old_client.closed_by_peer(), "the 3.1.1 client is disconnected now")

    def test_a_listener_added_by_reload_accepts_and_a_removed_one_stops_while_its_clients_stay(
            self):
        first = self.client("on-the-first")
        second_port = free_port()
        self.rewrite("upstream:\n",
                     f'  - bind: "127.0.0.1:{second_port}"\n    name: second\nupstream:\n')
        self.reload()
        on_second = self.client("on-the-second", port=second_port)
        self.assert_alive(first)
        self.assertIn(b'moat_connections_accepted_total{listener="second"} 1', self.metric_text())
        # Now the first listener goes: nothing new is accepted there, its session goes on.
        self.rewrite(f'  - bind: "127.0.0.1:{self.port}"\n', "")
        self.reload()
        wait_until(lambda: not _accepts(self.port), what="the removed listener to close")
        self.assert_alive(first)
        self.assert_alive(on_second)
        self.client("still-on-the-second", port=second_port)

    def test_new_limits_apply_to_new_connections_only(self):
        held = [self.client(f"held-{i}") for i in range(3)]
        self.rewrite("threads: 2\n", "threads: 2\nlimits:\n  max_connections_per_address: 3\n")
        self.reload()
        late = RawClient(self.port)
        self.addCleanup(late.close)
        self.assertTrue(late.closed_by_peer(), "a fourth connection from the address is refused")
        for c in held:
            self.assert_alive(c)
        self.assertIn(b'reason="address_connections"} 1', self.metric_text())

    def test_a_new_upstream_takes_new_connections_while_old_sessions_stay_on_theirs(self):
        before = self.client("before-the-move")
        other = self.start_broker()
        self.rewrite(f'address: "127.0.0.1:{self.broker.port}"',
                     f'address: "127.0.0.1:{other.port}"')
        self.reload()
        self.client("after-the-move")
        wait_until(lambda: "after-the-move" in other.process.log(),
                   what="the new client at the new broker")
        self.assertNotIn("before-the-move", other.process.log())
        self.assertNotIn("after-the-move", self.broker.process.log())
        self.assert_alive(before)

    def test_login_rules_change_for_new_connections(self):
        anonymous = self.client("anonymous-before")
        self.rewrite("auth:\n  allow_anonymous: true\n", "auth:\n  allow_anonymous: false\n")
        self.reload()
        late = RawClient(self.port)
        self.addCleanup(late.close)
        late.send(connect_packet("anonymous-after", version=5))
        first, body = late.read_packet()
        self.assertEqual((first, body[1]), (CONNACK, 0x87))  # not authorized
        self.assert_alive(anonymous)

    def test_what_cannot_change_live_is_refused_with_its_line_and_nothing_changes(self):
        c = self.client("watching")
        self.rewrite("  mode: audit\n", "  mode: enforce\n")
        self.rewrite("threads: 2\n", "threads: 1\n")
        log = self.reload(expect="refused")
        line = _line_of(self.moat.config_path, "threads: 1")
        self.assertIn(f"{self.moat.config_path}:{line}: threads cannot change while moat runs",
                      log)
        # Nothing of the new file is in force: still audit mode.
        self.assertIn(self.denied_publish_answer(c, 3), FORWARDED)
        self.assert_alive(c)

    def test_a_broken_config_is_refused_with_its_line(self):
        c = self.client("watching")
        self.rewrite("  mode: audit\n", "  mode: enforce\n  colour: blue\n")
        log = self.reload(expect="refused")
        line = _line_of(self.moat.config_path, "colour: blue")
        self.assertIn(f"{self.moat.config_path}:{line}:", log)
        self.assertIn(self.denied_publish_answer(c, 4), FORWARDED)


def _accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _line_of(path, text):
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if text in line:
                return number
    raise AssertionError(f"{text!r} not in {path}")
