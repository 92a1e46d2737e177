"""`moat policy test` (issue 17, item 5): the shipped example cases hold against the
example policy, and a wrong case fails with the output the README shows."""

import os
import re
import subprocess
import tempfile
import unittest

from harness import MOAT_BIN, REPO

EXAMPLE = os.path.join(REPO, "deploy", "examples", "policy-tests")

# The README's example of failing cases, and what it says moat prints for them.
WRONG_CASES = """\
- {user: hmi, action: subscribe, topic: "plant/#", expect: allow}
- {groups: [engineers], action: publish, topic: plant/safety/valve, expect: deny}
- {client_id: sensor-7, action: publish, topic: sensors/sensor-7/temp, qos: 2, expect: allow}
"""


def policy_test(cases_path):
    return subprocess.run(
        [MOAT_BIN, "policy", "test", "--config", os.path.join(EXAMPLE, "moat.yaml"), cases_path],
        capture_output=True, text=True, timeout=30)


class PolicyCases(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(REPO, "README.md")) as f:
            self.readme = f.read()

    def test_the_shipped_example_cases_hold(self):
        run = policy_test(os.path.join(EXAMPLE, "cases.yaml"))
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertRegex(run.stdout, r"^1\d cases, 0 failed\n$")

    def test_the_shipped_templates_cases_hold(self):
        # Each policy template in deploy/examples ships with the cases it must answer.
        for template, count in (("sparkplug-b", 31), ("uns", 17)):
            with self.subTest(template=template):
                folder = os.path.join(REPO, "deploy", "examples", template)
                run = subprocess.run(
                    [MOAT_BIN, "policy", "test", "--config", os.path.join(folder, "moat.yaml"),
                     os.path.join(folder, "cases.yaml")],
                    capture_output=True, text=True, timeout=30)
                self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
                self.assertEqual(run.stdout, f"{count} cases, 0 failed\n")

    def test_wrong_cases_fail_with_their_lines_as_the_readme_shows(self):
        with tempfile.TemporaryDirectory() as workdir:
            path = os.path.join(workdir, "cases.yaml")
            with open(path, "w") as f:
                f.write(WRONG_CASES)
            run = policy_test(path)
            self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
            # The README shows paths relative to where the command runs.
            shown = run.stdout.replace(workdir + "/", "").replace(EXAMPLE + "/", "")
        self.assertIn(WRONG_CASES, self.readme)
        self.assertIn(shown, self.readme)
        self.assertEqual(re.findall(r"^cases\.yaml:(\d+):", shown, re.M), ["2", "3"])

    def test_a_broken_case_file_is_refused_with_file_and_line(self):
        with tempfile.TemporaryDirectory() as workdir:
            path = os.path.join(workdir, "cases.yaml")
            with open(path, "w") as f:
                f.write("- {user: hmi, action: publish, topic: a, expect: allow}\n"
                        "- {user: hmi, action: pubish, topic: a, expect: allow}\n")
            run = policy_test(path)
        self.assertEqual(run.returncode, 1)
        self.assertIn(f"{path}:2: 'cases[1].action' must be publish or subscribe", run.stderr)
        self.assertEqual(run.stdout, "")


if __name__ == "__main__":
    unittest.main()
