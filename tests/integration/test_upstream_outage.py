"""Broker outages as clients see them through moat (issue 19): a CONNECT that arrives
while no broker answers is held for upstream.unavailable_wait, so a restart shorter than
that is never seen; past it the connection closes without a CONNACK (or, with
on_unavailable: connack, gets CONNACK 3), counted and audited. mosquitto_sub and a
paho-mqtt client ride through a broker restart through moat as they do connected
straight to mosquitto."""

import os
import subprocess
import threading
import time
import unittest

from harness import (Certs, ProxyTestCase, RawClient, audit_lines, client_args, connect_packet,
                     free_port,
                     metric, publish, tls_listener, wait_until)

CONNACK = 0x20

PAHO_SUBSCRIBER = r"""
import ssl, sys
import paho.mqtt.client as mqtt
port, tls, cafile = int(sys.argv[1]), sys.argv[2] == "tls", sys.argv[3]

def on_connect(client, userdata, flags, rc):
    print("connack", rc, flush=True)
    if rc == 0:
        client.subscribe("outage/next", 0)

def on_message(client, userdata, message):
    print("message", message.payload.decode(), flush=True)
    client.disconnect()

client = mqtt.Client(client_id="paho-" + sys.argv[2], clean_session=True)
if tls:
    client.tls_set(ca_certs=cafile)
client.on_connect = on_connect
client.on_message = on_message
client.reconnect_delay_set(1, 2)
client.connect("localhost" if tls else "127.0.0.1", port, 30)
client.loop_forever()
"""


class Outage(ProxyTestCase):
    def start(self, upstream_extra=""):
        self.broker = self.start_broker()
        self.port, self.metrics_port = free_port(), free_port()
        self.audit = os.path.join(self.workdir, "audit.log")
        self.moat = self.start_moat(self.broker.port, [tls_listener(self.port)],
                                    upstream_extra=upstream_extra,
                                    extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n'
                                          f"audit:\n  file: {self.audit}\n")
        self.moat.wait_listening(self.port)

    def restart_broker_after(self, seconds):
        """Starts mosquitto again on its port `seconds` from now, in the background."""
        port = self.broker.port

        def start():
            time.sleep(seconds)
            self.broker = self.start_broker(port=port)

        thread = threading.Thread(target=start)
        thread.start()
        self.addCleanup(thread.join)
        return thread

    def test_a_restart_shorter_than_the_wait_is_not_seen(self):
        self.start()  # the default wait, 5 s
        self.broker.process.stop()
        client = RawClient(self.port, tls=True, timeout=15)
        started = time.monotonic()
        client.send(connect_packet("held", version=5))
        self.restart_broker_after(2).join()
        first, body = client.read_packet()
        elapsed = time.monotonic() - started
        self.assertEqual((first, body[:2]), (CONNACK, b"\x00\x00"))
        self.assertGreater(elapsed, 1.9)
        self.assertLess(elapsed, 5.5)
        self.assertEqual(metric(self.metrics_port, "moat_connect_total",
                                result="upstream_unavailable"), 0)

    def test_a_longer_outage_closes_without_connack_counted_and_audited(self):
        self.start("  unavailable_wait: 1s\n")
        self.broker.process.stop()
        client = RawClient(self.port, tls=True)
        started = time.monotonic()
        client.send(connect_packet("gives-up"))
        self.assertEqual(client.sock.recv(16), b"")  # no CONNACK, just the end
        self.assertGreater(time.monotonic() - started, 0.9)
        self.assertEqual(metric(self.metrics_port, "moat_connect_total",
                                result="upstream_unavailable"), 1)
        self.assertEqual(metric(self.metrics_port, "moat_sessions_ended_total",
                                reason="upstream_unavailable"), 1)
        wait_until(lambda: audit_lines(self.audit, event="refused_connect",
                                       reason="upstream_unavailable", client_id="gives-up"),
                   what="the audit line")

    def test_on_unavailable_connack_answers_3_after_the_wait(self):
        self.start("  unavailable_wait: 1s\n  on_unavailable: connack\n")
        self.broker.process.stop()
        for version, expected in ((4, b"\x00\x03"), (5, b"\x00\x88")):
            with self.subTest(version=version):
                client = RawClient(self.port, tls=True)
                started = time.monotonic()
                client.send(connect_packet("told", version=version))
                first, body = client.read_packet()
                self.assertEqual((first, body[:2]), (CONNACK, expected))
                self.assertGreater(time.monotonic() - started, 0.9)

    def test_clients_keep_their_subscriptions_across_a_broker_restart(self):
        self.start()
        targets = {"direct": (self.broker.port, "plain"), "moat": (self.port, "tls")}
        subscribers = {}
        for name, (port, tls) in targets.items():
            subscribers[f"mosquitto_sub-{name}"] = subprocess.Popen(
                ["mosquitto_sub", *client_args(port, tls == "tls"), "-i", f"sub-{name}",
                 "-t", "outage/next", "-C", "1", "-W", "40"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # Debian's python3-paho-mqtt is installed for Debian's interpreter.
            subscribers[f"paho-{name}"] = subprocess.Popen(
                ["/usr/bin/python3", "-c", PAHO_SUBSCRIBER, str(port), tls,
                 Certs.path("ca.crt")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for client_id in ("sub-direct", "sub-moat", "paho-plain", "paho-tls"):
            wait_until(lambda: f" as {client_id} (" in self.broker.process.log(),
                       what=f"{client_id} to connect")
        time.sleep(0.5)  # their SUBSCRIBEs follow the CONNACK
        self.broker.process.stop()
        self.restart_broker_after(2).join()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(p.poll() is None for p in subscribers.values()):
            publish(self.broker.port, "outage/next", "after-restart")
            time.sleep(0.5)
        for name, process in subscribers.items():
            if process.poll() is None:
                process.kill()
            out, err = process.communicate()
            with self.subTest(client=name):
                self.assertEqual(process.returncode, 0, f"{name}: {out!r} {err!r}")
                self.assertIn(b"after-restart", out, f"{name}: {out!r} {err!r}")
                self.assertNotIn(b"connack 3", out)


if __name__ == "__main__":
    unittest.main()
