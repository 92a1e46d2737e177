"""moat_policy_info{sha256} (issue 17, item 4): two moat processes given the same files
report the same hash, under other paths too, and a reload of changed files changes it."""

import os
import re
import shutil
import signal
import urllib.request

from harness import ProxyTestCase, free_port, password_file, plain_listener, wait_until

ACL = "user alice\ntopic readwrite plant/#\n"


def policy_hash(metrics_port):
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = re.findall(r'^moat_policy_info\{sha256="([0-9a-f]*)"\} 1$', text, re.M)
    return found[0] if len(found) == 1 else f"not one series: {found}"


class PolicyIdentity(ProxyTestCase):
    def replica(self, name, broker_port):
        folder = os.path.join(self.workdir, name)
        os.makedirs(folder)
        with open(os.path.join(folder, "acl"), "w") as f:
            f.write(ACL)
        shutil.copy(self.passwd, os.path.join(folder, "passwd"))
        port, metrics_port = free_port(), free_port()
        moat = self.start_moat(
            broker_port, [plain_listener(port)],
            auth=f"auth:\n  password_file: {os.path.join(folder, 'passwd')}\n",
            policy=f"policy:\n  acl_file: {os.path.join(folder, 'acl')}\n",
            extra=f'metrics:\n  bind: "127.0.0.1:{metrics_port}"\n')
        moat.wait_listening(port)
        return moat, metrics_port, folder

    def test_same_files_same_hash_and_a_changed_file_changes_it(self):
        broker = self.start_broker()
        self.passwd = password_file(self.workdir, ["alice"])
        first, first_metrics, _ = self.replica("one", broker.port)
        second, second_metrics, second_folder = self.replica("two", broker.port)
        before = policy_hash(first_metrics)
        self.assertRegex(before, r"^[0-9a-f]{64}$")
        self.assertEqual(policy_hash(second_metrics), before)

        with open(os.path.join(second_folder, "acl"), "a") as f:
            f.write("topic read lines/#\n")
        second.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: policy_hash(second_metrics) != before, what="the new hash")
        self.assertRegex(policy_hash(second_metrics), r"^[0-9a-f]{64}$")
        self.assertEqual(policy_hash(first_metrics), before)

        # A password change is a policy change too: who is who.
        with open(os.path.join(second_folder, "acl"), "w") as f:
            f.write(ACL)
        second.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: policy_hash(second_metrics) == before, what="the old hash back")
        shutil.copy(password_file(self.workdir, ["alice", "bob"]),
                    os.path.join(second_folder, "passwd"))
        second.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: policy_hash(second_metrics) != before, what="a hash for the users")


if __name__ == "__main__":
    import unittest
    unittest.main()
