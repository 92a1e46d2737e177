"""The README's promises that a program can check: its metric list is the one moat
exports, and its test command is what CI runs."""

import os
import subprocess
import unittest

from harness import MOAT_BIN, REPO


class Readme(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(REPO, "README.md")) as f:
            self.readme = f.read()

    def test_metric_list_is_generated_from_the_table(self):
        table = subprocess.run([MOAT_BIN, "metrics-table"], capture_output=True, text=True,
                               check=True).stdout
        self.assertGreater(table.count("\n| `moat_"), 10)
        self.assertIn(table, self.readme)

    def test_ci_runs_the_readme_test_command(self):
        with open(os.path.join(REPO, ".ci", "run")) as f:
            ci = f.read()
        self.assertIn("exec tests/run_all.sh", ci)
        self.assertIn("exec tests/run_all.sh", self.readme)


if __name__ == "__main__":
    unittest.main()
