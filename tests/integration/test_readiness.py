"""/readyz never stalls the metrics endpoint (issue 14, item 8): with a broker that drops
SYNs, /metrics, /healthz and /readyz are answered while moat's own check of the broker
is still waiting for an answer, /readyz says why moat is not ready, and once a real
mosquitto listens there /readyz turns ready and clients get through."""

import socket
import struct
import unittest
import urllib.error
import urllib.request

from harness import (ProxyTestCase, RawClient, free_port, plain_listener, publish_through,
                     wait_until)


def get(port, path):
    """(status, body) of a GET on moat's metrics endpoint."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class SynDroppingListener:
    """A listener on `port` that never accepts, its queue filled: Linux drops every
    further SYN, so a connect to it hangs (the client retransmits) instead of being
    refused, as with a broker behind a firewall that drops packets."""

    def __init__(self, port):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(1)
        # A backlog of 1 holds two connections: the queue counts as full past the backlog.
        self.fillers = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        wait_until(self.full, what="the listen queue to fill")

    def full(self):
        # For a listening socket the kernel reports the accept queue's length as
        # tcpi_unacked and its limit as tcpi_sacked (struct tcp_info, bytes 24 and 28).
        info = self.listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        unacked, sacked = struct.unpack_from("II", info, 24)
        return unacked > sacked

    def close(self):
        self.listener.close()
        for filler in self.fillers:
            filler.close()


def connects_in_flight(port):
    """Local ports of the loopback connections to `port` still in SYN_SENT: connects sent
    and not yet answered."""
    pending = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "02" and int(remote.split(":")[1], 16) == port:
                pending.add(int(local.split(":")[1], 16))
    return pending


class Readiness(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker_port, self.port, self.metrics_port = free_port(), free_port(), free_port()
        self.black_hole = SynDroppingListener(self.broker_port)
        self.addCleanup(self.black_hole.close)
        self.moat = self.start_moat(self.broker_port, [plain_listener(self.port)],
                                    extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        self.moat.wait_listening(self.metrics_port)

    def test_probes_answer_while_the_broker_drops_syns_then_ready_with_a_broker(self):
        unreachable = (f"upstream 127.0.0.1:{self.broker_port} unreachable: "
                       "no answer within 2.0s")
        # Until the first check gives up, /readyz says none has finished.
        wait_until(lambda: unreachable in get(self.metrics_port, "/readyz")[1], timeout=20,
                   what="/readyz to report the unanswered check")
        status, body = get(self.metrics_port, "/readyz")
        self.assertEqual(status, 503)
        self.assertRegex(body, "^" + unreachable + r"\nupstream checked [0-9.]+s ago\n$")

        # Every endpoint answers while moat's check is still waiting on the broker: the
        # same connect is in SYN_SENT before the first request and after the last.
        answered = []

        def answered_during_one_check():
            before = connects_in_flight(self.broker_port)
            if not before:
                return False
            answers = [get(self.metrics_port, path)[0]
                       for path in ("/metrics", "/healthz", "/readyz")]
            if before & connects_in_flight(self.broker_port):
                answered.append(answers)
                return True
            return False

        wait_until(answered_during_one_check, timeout=30,
                   what="three answers within one pending check of the broker")
        self.assertEqual(answered, [[200, 200, 503]])

        # A real broker where the black hole was: ready, and clients get through.
        self.black_hole.close()
        broker = self.start_broker(port=self.broker_port)
        wait_until(lambda: get(self.metrics_port, "/readyz")[0] == 200, timeout=20,
                   what="/readyz to turn ready")
        self.assertRegex(get(self.metrics_port, "/readyz")[1],
                         r"^ready\nupstream checked [0-9.]+s ago\n$")
        self.moat.wait_listening(self.port)
        delivery = publish_through(RawClient(self.port), broker.port, "ready/in",
                                   b"through moat", "after-ready")
        self.assertEqual((delivery.topic, delivery.payload), ("ready/in", b"through moat"))


if __name__ == "__main__":
    unittest.main()
