"""moat as an invisible proxy (issue 4): real mosquitto behind, real TLS, real clients."""

import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import termios
import time
import unittest

from harness import (Certs, ProxyTestCase, RawClient, collect, connect_packet, free_port,
                     packet, plain_listener, publish, publish_packet, raise_fd_limit,
                     subscribe, tls_listener, wait_until, watcher)

raise_fd_limit()  # this test process itself holds a thousand sockets

CONNACK = 0x20
DISCONNECT = 0xE0


class PlainAndTls(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.plain_port, self.tls_port = free_port(), free_port()
        self.moat = self.start_moat(self.broker.port, [plain_listener(self.plain_port),
                                                       tls_listener(self.tls_port)])
        self.moat.wait_listening(self.plain_port)
        self.moat.wait_listening(self.tls_port)

    def roundtrip(self, port, tls, version, qos):
        topic = f"it/{version}/{qos}/{port}"
        sub = subscribe(port, topic, 1, tls=tls, version=version, qos=qos)
        # The subscriber is ready once its SUBSCRIBE reached the broker; retry the publish
        # until it arrives rather than guessing how long that takes.
        deadline = time.monotonic() + 10
        while sub.poll() is None and time.monotonic() < deadline:
            result = publish(port, topic, "hello", tls=tls, version=version, qos=qos)
            self.assertEqual(result.returncode, 0, result.stderr)
            try:
                sub.wait(0.3)
            except subprocess.TimeoutExpired:
                pass
        code, out, err = collect(sub)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), f"{topic} hello")

    def test_every_version_and_qos_over_plain_tcp(self):
        for version in ("mqttv31", "mqttv311", "mqttv5"):
            for qos in (0, 1, 2):
                with self.subTest(version=version, qos=qos):
                    self.roundtrip(self.plain_port, False, version, qos)

    def test_every_version_and_qos_over_tls(self):
        for version in ("mqttv31", "mqttv311", "mqttv5"):
            for qos in (0, 1, 2):
                with self.subTest(version=version, qos=qos):
                    self.roundtrip(self.tls_port, True, version, qos)

    def test_retained_message_reaches_a_later_subscriber(self):
        result = publish(self.tls_port, "it/retained", "kept", tls=True, qos=1, extra=["-r"])
        self.assertEqual(result.returncode, 0, result.stderr)
        code, out, err = collect(subscribe(self.tls_port, "it/retained", 1, tls=True))
        self.assertEqual((code, out.strip()), (0, "it/retained kept"), err)

    def test_one_mebibyte_payload(self):
        payload_path = os.path.join(self.workdir, "payload.bin")
        payload = os.urandom(1024 * 1024)
        with open(payload_path, "wb") as f:
            f.write(payload)
        received_path = os.path.join(self.workdir, "received.bin")
        sub = subprocess.Popen(["mosquitto_sub", "-h", "localhost", "-p", str(self.tls_port),
                                "--cafile", Certs.path("ca.crt"), "-t", "it/big", "-C", "1",
                                "-W", "20", "-N"], stdout=open(received_path, "wb"))
        deadline = time.monotonic() + 15
        while sub.poll() is None and time.monotonic() < deadline:
            publish(self.tls_port, "it/big", tls=True, file=payload_path, qos=1)
            try:
                sub.wait(1)
            except subprocess.TimeoutExpired:
                pass
        self.assertEqual(sub.wait(20), 0)
        with open(received_path, "rb") as f:
            self.assertEqual(f.read(), payload)

    def test_will_is_published_when_client_vanishes(self):
        seen = watcher(self.broker.port, "it/will")  # directly at the broker
        client = RawClient(self.plain_port)
        client.send(connect_packet("will-client", will=("it/will", b"gone", 0, False)))
        first, body = client.read_packet()
        self.assertEqual((first, body), (CONNACK, b"\x00\x00"))
        client.abort()
        will = seen.next_publish()
        self.assertEqual((will.topic, will.payload), ("it/will", b"gone"))

    def test_a_client_that_sends_and_closes_at_once_ends_its_session(self):
        # The last packet and the FIN arrive together, so moat's read of the packet is
        # short and the FIN needs a read of its own (proxy/session/short_read_sweep.h).
        # Keep-alive 0: nothing else would ever end these sessions or publish their Wills.
        seen = watcher(self.broker.port, "it/gone/#")
        for port, tls in ((self.plain_port, False), (self.tls_port, True)):
            for i in range(5):
                name = f"{port}-{i}"
                client = RawClient(port, tls=tls)
                client.send(connect_packet(name, keep_alive=0,
                                           will=(f"it/gone/{name}", b"will", 0, False)))
                self.assertEqual(client.read_packet(), (CONNACK, b"\x00\x00"))
                client.send(publish_packet(f"it/gone/last/{name}", b"last"))
                client.close()  # FIN right behind the PUBLISH
                received = {seen.next_publish().topic for _ in range(2)}
                self.assertEqual(received, {f"it/gone/last/{name}", f"it/gone/{name}"})

    def test_packets_split_into_single_bytes_and_many_packets_in_one_segment(self):
        seen = watcher(self.broker.port, "it/split/#")
        client = RawClient(self.plain_port)
        for byte in connect_packet("byte-by-byte"):
            client.send(bytes([byte]))
            time.sleep(0.002)
        self.assertEqual(client.read_packet(), (CONNACK, b"\x00\x00"))
        for byte in publish_packet("it/split/one", b"1"):
            client.send(bytes([byte]))
            time.sleep(0.002)
        client.send(publish_packet("it/split/two", b"2") + publish_packet("it/split/three", b"3"))
        received = [(d.topic, d.payload) for d in (seen.next_publish() for _ in range(3))]
        self.assertEqual(received, [("it/split/one", b"1"), ("it/split/two", b"2"),
                                    ("it/split/three", b"3")])
        client.close()

    def test_malformed_packet_closes_after_forwarding_what_came_before(self):
        seen = watcher(self.broker.port, "it/before")
        client = RawClient(self.plain_port)
        client.send(connect_packet("malformed", version=5))
        first, _ = client.read_packet()
        self.assertEqual(first, CONNACK)
        # A good PUBLISH, then one with a wildcard in its topic, in one segment.
        client.send(publish_packet("it/before", b"ok", version=5) +
                    publish_packet("it/+", b"bad", version=5))
        first, body = client.read_packet()
        self.assertEqual((first, body[:1]), (DISCONNECT, b"\x81"))
        self.assertTrue(client.closed_by_peer())
        before = seen.next_publish()
        self.assertEqual((before.topic, before.payload), ("it/before", b"ok"))

    def test_packet_before_connect_closes_the_connection(self):
        client = RawClient(self.plain_port)
        client.send(packet(0xC0, b""))  # PINGREQ
        self.assertTrue(client.closed_by_peer())

    def test_second_connect_closes_with_protocol_error(self):
        client = RawClient(self.plain_port)
        client.send(connect_packet("twice", version=5))
        self.assertEqual(client.read_packet()[0], CONNACK)
        client.send(connect_packet("twice", version=5))
        first, body = client.read_packet()
        self.assertEqual((first, body[:1]), (DISCONNECT, b"\x82"))
        self.assertTrue(client.closed_by_peer())

    def test_unsupported_protocol_level_gets_connack_1(self):
        client = RawClient(self.plain_port)
        body = b"\x00\x04MQTT\x06\x02\x00\x3c\x00\x01x"
        client.send(packet(0x10, body))
        self.assertEqual(client.read_packet(), (CONNACK, b"\x00\x01"))

    def test_keep_alive_is_enforced_at_one_and_a_half_times(self):
        client = RawClient(self.plain_port)
        # The clock starts before the CONNECT leaves, so it cannot start after moat's: the
        # lower bound holds on any machine, however slow (an upper one would not).
        started = time.monotonic()
        client.send(connect_packet("sleepy", version=5, keep_alive=1))
        self.assertEqual(client.read_packet()[0], CONNACK)
        first, body = client.read_packet()
        elapsed = time.monotonic() - started
        self.assertEqual((first, body[:1]), (DISCONNECT, b"\x8d"))
        self.assertGreaterEqual(elapsed, 1.5)

    def test_sigterm_sends_mqtt5_clients_server_shutting_down_and_exits_zero(self):
        client = RawClient(self.tls_port, tls=True)
        client.send(connect_packet("drained", version=5))
        self.assertEqual(client.read_packet()[0], CONNACK)
        self.moat.process.proc.send_signal(signal.SIGTERM)
        first, body = client.read_packet()
        self.assertEqual((first, body[:1]), (DISCONNECT, b"\x8b"))
        self.assertEqual(self.moat.process.proc.wait(10), 0)


class Timeouts(ProxyTestCase):
    def test_client_that_sends_no_connect_is_closed(self):
        broker = self.start_broker()
        port = free_port()
        moat = self.start_moat(broker.port, [plain_listener(port)],
                               extra="limits:\n  connect_timeout: 500ms\n")
        moat.wait_listening(port)
        # Closed after the configured 500 ms, and well before the 10 s default would.
        started = time.monotonic()
        client = RawClient(port)
        self.assertTrue(client.closed_by_peer(timeout=5))
        self.assertGreaterEqual(time.monotonic() - started, 0.5)


# A broker moat cannot reach answered at once with CONNACK 3 / 0x88, not held.
CONNACK_AT_ONCE = "  on_unavailable: connack\n  unavailable_wait: 0s\n"


class BrokerFailures(ProxyTestCase):
    def test_broker_down_at_connect_gets_server_unavailable(self):
        dead_port = free_port()
        port = free_port()
        # The CONNACK 3 / 0x88 answer is the option (test_upstream_outage covers the
        # default, a close without CONNACK after upstream.unavailable_wait).
        moat = self.start_moat(dead_port, [plain_listener(port)], upstream_extra=CONNACK_AT_ONCE)
        moat.wait_listening(port)
        for version, expected in ((4, b"\x00\x03"), (3, b"\x00\x03"), (5, b"\x00\x88")):
            with self.subTest(version=version):
                client = RawClient(port)
                client.send(connect_packet("nobroker", version=version))
                first, body = client.read_packet()
                self.assertEqual((first, body[:2]), (CONNACK, expected))

    def test_broker_dying_mid_session_closes_the_client(self):
        broker = self.start_broker()
        port = free_port()
        moat = self.start_moat(broker.port, [plain_listener(port)])
        moat.wait_listening(port)
        client = RawClient(port)
        client.send(connect_packet("orphan"))
        self.assertEqual(client.read_packet()[0], CONNACK)
        broker.process.stop(signal.SIGKILL)
        self.assertTrue(client.closed_by_peer())


class TlsUpstream(ProxyTestCase):
    def upstream_tls(self, ca):
        return f"  tls:\n    ca: {ca}\n    server_name: broker.local\n"

    def other_ca(self):
        """A folder of development certificates under a CA the broker's is not."""
        folder = os.path.join(self.workdir, "other-ca")
        os.makedirs(folder)
        subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "..", "..", "certs",
                                             "make-dev-certs.sh"), folder],
                       check=True, stdout=subprocess.DEVNULL)
        return folder

    def test_verified_tls_upstream_carries_traffic(self):
        broker = self.start_broker(tls=True)
        port = free_port()
        moat = self.start_moat(broker.tls_port, [plain_listener(port)],
                               upstream_tls=self.upstream_tls(Certs.path("ca.crt")))
        moat.wait_listening(port)
        client = RawClient(port)
        client.send(connect_packet("tls-upstream"))
        self.assertEqual(client.read_packet(), (CONNACK, b"\x00\x00"))

    def test_ip_upstream_is_checked_against_the_certificate_ip_san(self):
        broker = self.start_broker(tls=True)
        port = free_port()
        moat = self.start_moat(broker.tls_port, [plain_listener(port)],
                               upstream_tls=f"  tls:\n    ca: {Certs.path('ca.crt')}\n")
        moat.wait_listening(port)
        client = RawClient(port)
        client.send(connect_packet("ip-san"))
        self.assertEqual(client.read_packet(), (CONNACK, b"\x00\x00"))

    def test_wrong_ca_fails_closed(self):
        broker = self.start_broker(tls=True)
        other_ca = self.other_ca()
        port = free_port()
        moat = self.start_moat(broker.tls_port, [plain_listener(port)],
                               upstream_tls=self.upstream_tls(os.path.join(other_ca, "ca.crt")),
                               upstream_extra=CONNACK_AT_ONCE)
        moat.wait_listening(port)
        client = RawClient(port)
        client.send(connect_packet("wrong-ca"))
        self.assertEqual(client.read_packet(), (CONNACK, b"\x00\x03"))

    def test_a_reload_brings_in_a_new_upstream_ca(self):
        # The upstream section is unchanged, so the servers' health is kept across the
        # reload; the CA file's new contents must still reach every new link and probe.
        broker = self.start_broker(tls=True)
        other_ca = self.other_ca()
        ca = os.path.join(self.workdir, "upstream-ca.crt")
        shutil.copy(os.path.join(other_ca, "ca.crt"), ca)
        port = free_port()
        moat = self.start_moat(broker.tls_port, [plain_listener(port)],
                               upstream_tls=self.upstream_tls(ca), upstream_extra=CONNACK_AT_ONCE)
        moat.wait_listening(port)

        def connack(client_id):
            client = RawClient(port)
            self.addCleanup(client.close)
            client.send(connect_packet(client_id))
            return client.read_packet()

        self.assertEqual(connack("before"), (CONNACK, b"\x00\x03"))
        shutil.copy(Certs.path("ca.crt"), ca)
        moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP: reloaded" in moat.process.log(), what="the reload")
        # The node is down since the refused link; the next probe, with the new CA, brings
        # it back within its backoff (at most 2 s).
        wait_until(lambda: connack("after") == (CONNACK, b"\x00\x00"),
                   what="a link verified with the reloaded CA")


class ProxyProtocolListener(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port = free_port()
        self.moat = self.start_moat(self.broker.port,
                                    [plain_listener(self.port, "    proxy_protocol: any\n"
                                                                "    proxy_protocol_from: "
                                                                "[127.0.0.1]\n")])
        self.moat.wait_listening(self.port)

    def test_v1_header_gives_the_real_client_address(self):
        client = RawClient(self.port)
        client.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 1883\r\n" +
                    connect_packet("behind-lb", version=5))
        self.assertEqual(client.read_packet()[0], CONNACK)
        client.send(publish_packet("bad/#", b"x", version=5))  # ends the session, logged
        self.assertTrue(client.closed_by_peer())
        wait_until(lambda: "address=192.0.2.7" in self.moat.process.log(),
                   what="the session log line with the proxied address")

    def test_v2_header_then_tls_free_mqtt_works(self):
        client = RawClient(self.port)
        header = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + (12).to_bytes(2, "big") +
                  bytes([192, 0, 2, 8, 127, 0, 0, 1]) + (40001).to_bytes(2, "big") +
                  (1883).to_bytes(2, "big"))
        client.send(header + connect_packet("v2-client"))
        self.assertEqual(client.read_packet(), (CONNACK, b"\x00\x00"))

    def test_connection_without_header_is_refused(self):
        client = RawClient(self.port)
        client.send(connect_packet("no-header"))
        self.assertTrue(client.closed_by_peer())
        wait_until(lambda: '"reason":"proxy_header"' in self.moat.process.log(),
                   what="the refusal to be audited")


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Backpressure(ProxyTestCase):
    def test_a_subscriber_that_stops_reading_does_not_grow_moat(self):
        broker = self.start_broker()
        port = free_port()
        moat = self.start_moat(broker.port, [plain_listener(port)])
        moat.wait_listening(port)
        stalled = RawClient(port)
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.send(connect_packet("stalled"))
        self.assertEqual(stalled.read_packet(), (CONNACK, b"\x00\x00"))
        # SUBSCRIBE "flood" QoS 0, then never read again.
        stalled.send(packet(0x82, b"\x00\x01" + b"\x00\x05flood" + b"\x00"))
        self.assertEqual(stalled.read_packet()[0], 0x90)
        before = resident_kib(moat.process.proc.pid)
        payload = os.path.join(self.workdir, "64k")
        with open(payload, "wb") as f:
            f.write(os.urandom(64 * 1024))
        # 64 MiB through the broker towards a client that reads nothing.
        flood = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port),
                                "-t", "flood", "-f", payload, "--repeat", "1024",
                                "--repeat-delay", "0"], capture_output=True, timeout=120)
        self.assertEqual(flood.returncode, 0, flood.stderr)
        # The flood did reach the stalled client's socket, so moat did carry traffic...
        queued = struct.unpack("i", fcntl.ioctl(stalled.sock, termios.FIONREAD, b"\0" * 4))[0]
        self.assertGreater(queued, 0)
        # ...and stopped reading from the broker instead of buffering the rest.
        grown = resident_kib(moat.process.proc.pid) - before
        # One read chunk plus one 64 KiB packet in flight; allow for allocator slack.
        self.assertLess(grown, 4 * 1024, f"moat grew by {grown} KiB")
        self.assertTrue(moat.process.alive())


class ManyClients(ProxyTestCase):
    def test_one_thousand_concurrent_clients(self):
        broker = self.start_broker()
        port = free_port()
        moat = self.start_moat(broker.port, [plain_listener(port)])
        moat.wait_listening(port)
        clients = []
        for i in range(1000):
            # From eight addresses: one address may hold 256 connections by default.
            client = RawClient(port, source=f"127.0.{i % 8 + 1}.1")
            client.send(connect_packet(f"many-{i}"))
            clients.append(client)
        for client in clients:
            self.assertEqual(client.read_packet(), (CONNACK, b"\x00\x00"))
        # All of them are live at once: each still answers a PINGREQ.
        for client in clients:
            client.send(packet(0xC0, b""))
        for client in clients:
            self.assertEqual(client.read_packet(), (0xD0, b""))
        for client in clients:
            client.close()


if __name__ == "__main__":
    unittest.main()
