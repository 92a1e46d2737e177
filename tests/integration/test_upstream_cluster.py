"""upstream.servers with three real mosquitto processes as the cluster (issue 19): client
ids spread over every node and come back to the same one; a node that stops, whether it
refuses connections or takes TCP and never answers CONNECT, moves only its own clients,
and the others never wait on it; once it answers again it is back in the rotation."""

import socket
import threading
import time
import unittest

from harness import (Broker, ProxyTestCase, RawClient, connect_packet, free_port, metric,
                     tls_listener, wait_for_metric, wait_until)

CONNACK = 0x20
DISCONNECT = b"\xe0\x00"
IDS = [f"sensor-{i}" for i in range(24)]
# Clients of the nodes that are up must get their CONNACK this fast while one is down.
FAST = 0.1


class SilentServer:
    """Takes TCP connections on `port` and never says a word: a broker hung after accept."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.sock.close()
        self.thread.join(5)
        for connection in self.held:
            connection.close()


class Cluster(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.brokers = [self.start_broker() for _ in range(3)]
        self.port, self.metrics_port = free_port(), free_port()
        self.moat = self.start_moat(
            [broker.port for broker in self.brokers], [tls_listener(self.port)],
            upstream_extra="  balance: client_id\n  connect_timeout: 1s\n",
            extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        self.moat.wait_listening(self.port)

    def server(self, node):
        return f"127.0.0.1:{self.brokers[node].port}"

    def logins(self, node, client_id):
        """How often node's mosquitto logged `client_id` connecting (connection_messages)."""
        return self.brokers[node].process.log().count(f" as {client_id} (")

    def land(self, client_id):
        """Connects `client_id` through moat; returns (node it reached, seconds from
        CONNECT to CONNACK)."""
        before = [self.logins(node, client_id) for node in range(3)]
        client = RawClient(self.port, tls=True)
        started = time.monotonic()
        client.send(connect_packet(client_id))
        first, body = client.read_packet()
        elapsed = time.monotonic() - started
        self.assertEqual((first, body), (CONNACK, b"\x00\x00"), client_id)
        client.send(DISCONNECT)
        client.close()
        reached = []

        def logged():
            reached[:] = [n for n in range(3) if self.logins(n, client_id) > before[n]]
            return reached

        wait_until(logged, what=f"a broker to log {client_id}")
        self.assertEqual(len(reached), 1, f"{client_id} reached {reached}")
        return reached[0], elapsed

    def restart(self, node):
        self.brokers[node] = self.start_broker(port=self.brokers[node].port)
        wait_for_metric(self.metrics_port, "moat_upstream_server_up", 1, timeout=15,
                        server=self.server(node))

    def assert_only_the_dead_nodes_clients_move(self, home, dead):
        for client_id in IDS:
            node, elapsed = self.land(client_id)
            if home[client_id] == dead:
                self.assertNotEqual(node, dead, client_id)
            else:
                self.assertEqual(node, home[client_id], client_id)
                self.assertLess(elapsed, FAST, f"{client_id} waited {elapsed:.3f}s for a CONNACK")
        self.assertEqual(metric(self.metrics_port, "moat_upstream_server_up",
                                server=self.server(dead)), 0)

    def spread(self):
        home = {client_id: self.land(client_id)[0] for client_id in IDS}
        self.assertEqual(set(home.values()), {0, 1, 2}, home)
        # The same id comes back to the same node.
        for client_id in IDS[:6]:
            self.assertEqual(self.land(client_id)[0], home[client_id], client_id)
        return home

    def test_a_node_that_refuses_moves_only_its_clients_and_comes_back(self):
        home = self.spread()
        self.brokers[1].process.stop()
        self.assert_only_the_dead_nodes_clients_move(home, dead=1)
        self.assertGreaterEqual(metric(self.metrics_port, "moat_upstream_server_connect_errors_total",
                                       server=self.server(1)), 1)
        self.restart(1)
        for client_id in IDS:
            self.assertEqual(self.land(client_id)[0], home[client_id], client_id)

    def test_a_node_that_never_answers_connect_moves_only_its_clients_and_comes_back(self):
        home = self.spread()
        self.brokers[1].process.stop()
        silent = SilentServer(self.brokers[1].port)
        try:
            self.assert_only_the_dead_nodes_clients_move(home, dead=1)
            # The probes (an MQTT CONNECT, not just TCP) keep it out of the rotation.
            time.sleep(1.5)
            self.assertEqual(metric(self.metrics_port, "moat_upstream_server_up",
                                    server=self.server(1)), 0)
        finally:
            silent.close()
        self.restart(1)
        for client_id in IDS:
            self.assertEqual(self.land(client_id)[0], home[client_id], client_id)

    def test_links_are_counted_per_server(self):
        clients = []
        for client_id in IDS[:9]:
            client = RawClient(self.port, tls=True)
            client.send(connect_packet(client_id))
            self.assertEqual(client.read_packet()[0], CONNACK)
            clients.append(client)
        wait_until(lambda: metric(self.metrics_port, "moat_upstream_server_connections") == 9,
                   what="nine links counted")
        for client in clients:
            client.send(DISCONNECT)
            client.close()
        wait_until(lambda: metric(self.metrics_port, "moat_upstream_server_connections") == 0,
                   what="every link counted down")


class Balancing(ProxyTestCase):
    def start(self, balance):
        self.brokers = [self.start_broker() for _ in range(3)]
        self.port, self.metrics_port = free_port(), free_port()
        self.moat = self.start_moat(
            [broker.port for broker in self.brokers], [tls_listener(self.port)],
            upstream_extra=f"  balance: {balance}\n",
            extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        self.moat.wait_listening(self.port)

    def connect_all(self, count):
        clients = []
        for i in range(count):
            client = RawClient(self.port, tls=True)
            client.send(connect_packet(f"same-{i}"))
            self.assertEqual(client.read_packet()[0], CONNACK)
            clients.append(client)
        return clients

    def links(self):
        return [metric(self.metrics_port, "moat_upstream_server_connections",
                       server=f"127.0.0.1:{broker.port}") for broker in self.brokers]

    def test_round_robin_takes_turns(self):
        self.start("round_robin")
        clients = self.connect_all(9)
        wait_until(lambda: self.links() == [3, 3, 3], what="three links per server")
        for client in clients:
            client.close()

    def test_least_connections_fills_the_emptiest(self):
        self.start("least_connections")
        clients = self.connect_all(6)
        wait_until(lambda: self.links() == [2, 2, 2], what="two links per server")
        # Two leave the first server: the next two go there.
        for client in clients[0::3][:2]:
            client.send(DISCONNECT)
            client.close()
        wait_until(lambda: sum(self.links()) == 4, what="two links closed")
        emptiest = self.links()
        clients += self.connect_all(2)
        wait_until(lambda: sum(self.links()) == 6, what="six links")
        self.assertEqual(self.links(), [2, 2, 2], f"was {emptiest}")


if __name__ == "__main__":
    unittest.main()
