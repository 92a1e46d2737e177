"""Issue 19's default thread counts: with `threads: 0` and `auth.hash_threads: 0` (the
defaults) moat sizes its workers and its password-hashing pool by the CPUs it may use,
not by the machine's: started under `taskset -c 0` it runs one of each, says so at start,
and really starts that many threads; given every CPU, one of each per CPU."""

import os
import unittest

from harness import (ProxyTestCase, free_port, password_file, plain_listener, wait_until)


class DefaultThreads(ProxyTestCase):
    def moat_under(self, cpus):
        broker = self.start_broker()
        port = free_port()
        auth = f"auth:\n  password_file: {password_file(self.workdir, ['alice'])}\n"
        moat = self.start_moat(broker.port, [plain_listener(port)], auth=auth,
                               wrapper=("taskset", "-c", ",".join(map(str, cpus))))
        moat.wait_listening(port)
        return moat

    @staticmethod
    def threads_of(moat):
        return len(os.listdir(f"/proc/{moat.process.proc.pid}/task"))

    def test_workers_and_hash_threads_follow_the_cpus_moat_may_use(self):
        everything = sorted(os.sched_getaffinity(0))
        pinned = self.moat_under(everything[:1])
        wait_until(lambda: "workers: 1, password hashing threads: 1;" in pinned.process.log(),
                   what="the start-up line of the pinned moat")
        self.assertIn("may use 1 CPU (affinity 1", pinned.process.log())

        n = len(everything)
        free = self.moat_under(everything)
        wait_until(lambda: f"workers: {n}, password hashing threads: {n};" in
                   free.process.log(), what="the start-up line of the unpinned moat")
        # The threads really are there: one worker and one hasher more per CPU, whatever
        # else moat runs. Waited for: the start-up line can come before the last thread
        # has started, which a loaded machine (ctest -j2 in CI) shows.
        seen = []

        def difference_reached():
            seen.append(self.threads_of(free) - self.threads_of(pinned))
            return seen[-1] == 2 * (n - 1)

        try:
            wait_until(difference_reached, what=f"{2 * (n - 1)} more threads unpinned")
        except AssertionError as e:
            raise AssertionError(f"{e}; differences seen last: {seen[-5:]}") from None


if __name__ == "__main__":
    unittest.main()
