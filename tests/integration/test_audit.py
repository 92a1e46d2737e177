"""The JSON audit log (issue 7): one line per security event, rate-limited, reopened on
SIGHUP, never holding a secret."""

import json
import os
import signal
import subprocess

from harness import (ProxyTestCase, RawClient, connect_packet, free_port, plain_listener,
                     publish_packet, wait_until)


class AuditLog(ProxyTestCase):
    def start(self, audit_extra=""):
        self.broker = self.start_broker()
        self.port = free_port()
        self.passwd = os.path.join(self.workdir, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", self.passwd, "alice", "alice-pw"],
                       check=True, capture_output=True)
        self.audit_path = os.path.join(self.workdir, "audit.log")
        auth = (f"auth:\n  password_file: {self.passwd}\n  failure_delay: 0s\n  ban: off\n")
        self.moat = self.start_moat(self.broker.port, [plain_listener(self.port)], auth=auth,
                                    extra=f"audit:\n  file: {self.audit_path}\n" + audit_extra)
        self.moat.wait_listening(self.port)

    def events(self, path=None):
        path = path or self.audit_path
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def refused_login(self, password="wrong"):
        client = RawClient(self.port)
        client.send(connect_packet("audited", username="alice", password=password))
        self.assertEqual(client.read_packet(), (0x20, b"\x00\x04"))

    def test_refused_connect_and_malformed_packet_are_one_json_line_each(self):
        self.start()
        self.refused_login("hunter2-secret")
        client = RawClient(self.port)
        client.send(connect_packet("broken", username="alice", password="alice-pw"))
        self.assertEqual(client.read_packet()[0], 0x20)
        client.send(publish_packet("a/#", b"x"))
        self.assertTrue(client.closed_by_peer())
        wait_until(lambda: len(self.events()) >= 2, what="two audit lines")
        refused, malformed = self.events()[:2]
        self.assertEqual((refused["event"], refused["reason"]),
                         ("refused_connect", "bad_credentials"))
        self.assertEqual(refused["identity"], "alice")
        self.assertEqual(refused["client_id"], "audited")
        self.assertEqual(refused["address"], "127.0.0.1")
        self.assertIn("time", refused)
        self.assertEqual((malformed["event"], malformed["reason"]),
                         ("malformed", "invalid_topic_name"))
        with open(self.audit_path) as f:
            self.assertNotIn("hunter2-secret", f.read())

    def test_a_flood_is_rate_limited_and_the_suppressed_count_reported(self):
        self.start("  rate_per_second: 2\n  burst: 3\n")
        for _ in range(20):
            self.refused_login()
        wait_until(lambda: len(self.events()) >= 3, what="the burst")
        self.assertLessEqual(len(self.events()), 5)
        wait_until(lambda: (self.refused_login() or True) and
                   any(e.get("suppressed", 0) > 0 for e in self.events()),
                   timeout=10, what="a line reporting suppressed events")

    def test_sighup_reopens_the_file_for_logrotate(self):
        self.start()
        self.refused_login()
        wait_until(lambda: len(self.events()) == 1, what="the first line")
        rotated = self.audit_path + ".1"
        os.rename(self.audit_path, rotated)
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: os.path.exists(self.audit_path), what="a new audit file")
        self.refused_login()
        wait_until(lambda: any(e["event"] == "refused_connect" for e in self.events()),
                   what="the next line in the new file")
        self.assertEqual(len(self.events(rotated)), 1)
        self.assertTrue(any(e["event"] == "reload" and e["reason"] == "success"
                            for e in self.events()))
