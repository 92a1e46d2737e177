"""upstream.source_addresses (issue 19, item 5): links to the broker leave from each of the
listed addresses in turn, which mosquitto's connection log shows; an address this host
does not have stops moat at start-up and fails --check-config."""

import re
import subprocess
import unittest

from harness import MOAT_BIN, MqttClient, ProxyTestCase, free_port, plain_listener, wait_until


class SourceAddressesTest(ProxyTestCase):

    def broker_sources(self, broker):
        """client id -> the source address of its link, as mosquitto logged it (the
        harness's own probe of mosquitto's port logs no client)."""
        return dict((client_id, address) for address, client_id in re.findall(
            r"New client connected from ([0-9.]+):\d+ as (\S+) ", broker.process.log()))

    def test_links_alternate_between_the_source_addresses(self):
        broker = self.start_broker()
        port = free_port()
        # One worker: its links take the addresses strictly in turn.
        moat = self.start_moat(broker.port, [plain_listener(port)],
                               upstream_extra='  source_addresses: ["127.0.0.2", "127.0.0.3"]\n',
                               extra="threads: 1\n")
        moat.wait_listening(port)
        for i in range(4):
            client = MqttClient(port, 4, f"source-{i}")
            self.addCleanup(client.close)
            self.assertEqual(client.connack(), (0, 0))
        wait_until(lambda: len(self.broker_sources(broker)) >= 4,
                   what="mosquitto to log 4 connections")
        self.assertEqual(self.broker_sources(broker),
                         {"source-0": "127.0.0.2", "source-1": "127.0.0.3",
                          "source-2": "127.0.0.2", "source-3": "127.0.0.3"})

    def test_an_address_of_another_host_is_refused_before_start(self):
        broker = self.start_broker()
        port = free_port()
        moat = self.start_moat(broker.port, [plain_listener(port)],
                               upstream_extra='  source_addresses: ["127.0.0.2", "192.0.2.1"]\n')
        self.assertEqual(moat.process.proc.wait(10), 1)
        expected = "upstream.source_addresses: cannot bind 192.0.2.1: "
        self.assertIn(expected, moat.process.log())
        check = subprocess.run([MOAT_BIN, "--check-config", moat.config_path],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 1, check)
        self.assertIn(expected, check.stderr)


if __name__ == "__main__":
    unittest.main()
