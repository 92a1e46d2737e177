"""Issue 16, item 2: revocation reaches live sessions. A reload (SIGHUP) ends the session
of a client certificate the new CRL revokes (MQTT 5: DISCONNECT 0x87 first; 3.1.1:
closed) and refuses its next handshake, while an unrevoked certificate's session goes
on; a certificate-only session whose identity the new policy no longer names ends too,
for an acl_file and for a native policy, while one that only catch-all rules ever
applied to stays; a reload that brings a CRL past its nextUpdate ends the sessions it
covers unless `on_stale_crl: accept`; the CRL's nextUpdate is exported as a gauge."""

import os
import signal
import subprocess
import time
import unittest
from datetime import datetime, timezone

from harness import (Certs, MqttClient, ProxyTestCase, audit_lines, free_port, metric,
                     wait_for_metric, wait_until)
from test_crl import TestCa, client_context, logs_in

DISCONNECT = 0xE0
PINGREQ = bytes([0xC0, 0])
PINGRESP = (0xD0, b"")


class Revocation(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.ca = TestCa(os.path.join(self.workdir, "ca"), ["good", "bad", "old"])
        self.crl = self.ca.crl("ca.crl")
        self.broker = self.start_broker()
        self.audit = os.path.join(self.workdir, "audit.log")

    def start(self, policy, tls_extra=""):
        self.port, self.metrics_port = free_port(), free_port()
        listener = (f'  - bind: "127.0.0.1:{self.port}"\n    tls:\n'
                    f'      cert: {Certs.path("server.crt")}\n      key: {Certs.path("server.key")}\n'
                    f'      client_ca: {self.ca.path("ca.crt")}\n'
                    f'      require_client_cert: true\n      crl_file: {self.crl}\n' + tls_extra)
        self.moat = self.start_moat(
            self.broker.port, [listener],
            auth="auth:\n  require: certificate\n  certificate_identity: cn\n",
            policy=policy,
            extra=(f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n'
                   f'audit:\n  file: {self.audit}\n'))
        self.moat.wait_listening(self.port)

    def tls(self, name):
        return client_context(self.ca, name)

    def session(self, name, version):
        client = MqttClient(self.port, version, f"{name}-live", tls=self.tls(name))
        self.addCleanup(client.close)
        client.connack()
        return client

    def alive(self, client):
        client.send(PINGREQ)
        return client.read_packet() == PINGRESP

    def reload(self, successes):
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_for_metric(self.metrics_port, "moat_reloads_total", successes, result="success")

    def revoked_ends(self):
        return metric(self.metrics_port, "moat_sessions_ended_total", reason="revoked")

    def handshake_succeeds(self, name):
        return logs_in(self.port, self.ca, name)

    def revocation_details(self, count):
        """The `detail` of the audit log's session_ended lines for reason revoked, once
        there are `count` of them."""
        def lines():
            return audit_lines(self.audit, event="session_ended", reason="revoked")
        wait_until(lambda: len(lines()) >= count, what=f"{count} session_ended lines")
        return [line.get("detail") for line in lines()]

    def assert_ended_with_0x87(self, client):
        first, body = client.read_packet()
        self.assertEqual((first, body[:1]), (DISCONNECT, b"\x87"))
        self.assertTrue(client.closed_by_peer())

    def test_a_newly_revoked_certificate_ends_its_sessions_and_is_refused(self):
        self.start("policy:\n  allow_all: true\n")
        bad5 = self.session("bad", 5)
        bad4 = MqttClient(self.port, 4, "bad-311", tls=self.tls("bad"))
        self.addCleanup(bad4.close)
        bad4.connack()
        good = self.session("good", 5)
        self.assertEqual(metric(self.metrics_port, "moat_crl_next_update_timestamp_seconds",
                                file=self.crl), self.next_update(self.crl))

        before = self.next_update(self.crl)
        self.ca.revoke("bad")
        self.ca.crl("ca.crl", "-crldays", "2")  # a nextUpdate the gauge must move to
        self.assertGreater(self.next_update(self.crl), before)
        self.reload(1)
        self.assert_ended_with_0x87(bad5)
        self.assertTrue(bad4.closed_by_peer(), "a 3.1.1 client is closed")
        self.assertTrue(self.alive(good), "an unrevoked certificate's session goes on")
        self.assertFalse(self.handshake_succeeds("bad"))
        self.assertTrue(self.handshake_succeeds("good"))
        self.assertEqual(wait_for_metric(self.metrics_port, "moat_sessions_ended_total", 2,
                                         reason="revoked"), 2)
        wait_for_metric(self.metrics_port, "moat_tls_handshake_failures_total", 1,
                        reason="revoked")
        self.assertEqual(self.revocation_details(2),
                         ["client certificate: certificate revoked"] * 2)
        # The gauge follows the CRL the reload brought in.
        self.assertEqual(metric(self.metrics_port, "moat_crl_next_update_timestamp_seconds",
                                file=self.crl), self.next_update(self.crl))

    def test_a_reload_that_revokes_nothing_new_ends_nothing(self):
        self.start("policy:\n  allow_all: true\n")
        good = self.session("good", 5)
        self.reload(1)
        self.assertTrue(self.alive(good))
        self.assertEqual(self.revoked_ends(), 0)

    def test_a_reload_bringing_a_stale_crl_behaves_as_on_stale_crl_says(self):
        for setting, ends in (("refuse", True), ("accept", False)):
            with self.subTest(on_stale_crl=setting):
                self.crl = self.ca.crl(f"{setting}.crl")
                self.start("policy:\n  allow_all: true\n",
                           tls_extra=f"      on_stale_crl: {setting}\n")
                good = self.session("good", 5)
                self.ca.crl(f"{setting}.crl", "-crlsec", "1")
                time.sleep(2.1)  # past its nextUpdate
                self.reload(1)
                if ends:
                    self.assert_ended_with_0x87(good)
                    self.assertEqual(self.revocation_details(1),
                                     ["client certificate: CRL has expired"])
                else:
                    self.assertTrue(self.alive(good))
                    self.assertEqual(self.revoked_ends(), 0)
                self.assertEqual(self.handshake_succeeds("good"), not ends)
                self.moat.process.stop()
                os.remove(self.audit)

    def next_update(self, path):
        text = subprocess.run(["openssl", "crl", "-in", path, "-noout", "-nextupdate",
                               "-dateopt", "iso_8601"], capture_output=True, text=True,
                              check=True).stdout
        # nextUpdate=2026-12-08 00:29:32Z
        stamp = text.strip().split("=", 1)[1]
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%SZ").replace(
            tzinfo=timezone.utc).timestamp()

    def test_an_identity_removed_from_the_acl_file_ends_its_session(self):
        acl = os.path.join(self.workdir, "acl")
        with open(acl, "w") as f:
            f.write("pattern read devices/%u/#\nuser good\ntopic readwrite plant/#\n"
                    "user bad\ntopic readwrite plant/#\n")
        self.start(f"policy:\n  acl_file: {acl}\n")
        self.run_removal(acl, "pattern read devices/%u/#\nuser good\ntopic readwrite plant/#\n")

    def test_an_identity_removed_from_the_native_policy_ends_its_session(self):
        policy = os.path.join(self.workdir, "policy.yaml")
        rules = ("groups:\n  plant: [good, bad]\nrules:\n"
                 "  - id: everyone\n    effect: allow\n    actions: [subscribe]\n"
                 "    topics: [\"public/#\"]\n    everyone: true\n"
                 "  - id: plant\n    effect: allow\n    actions: [publish]\n"
                 "    topics: [\"plant/#\"]\n    groups: [plant]\n")
        with open(policy, "w") as f:
            f.write(rules)
        self.start(f"policy:\n  file: {policy}\n")
        self.run_removal(policy, rules.replace("[good, bad]", "[good]"))

    def run_removal(self, path, after):
        kept = self.session("good", 5)
        removed5 = self.session("bad", 5)
        catch_all = self.session("old", 4)  # only the pattern / everyone rule applies
        with open(path, "w") as f:
            f.write(after)
        self.reload(1)
        self.assert_ended_with_0x87(removed5)
        self.assertTrue(self.alive(kept), "a certificate the new policy names stays")
        self.assertTrue(self.alive(catch_all), "one only catch-all rules apply to stays")
        self.assertEqual(wait_for_metric(self.metrics_port, "moat_sessions_ended_total", 1,
                                         reason="revoked"), 1)
        self.assertEqual(self.revocation_details(1),
                         ["certificate identity removed from the policy"])


if __name__ == "__main__":
    unittest.main()
