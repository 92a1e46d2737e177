#!/usr/bin/env python3
"""moat under a hostile mix from one address, next to the same honest load in quiet.

    honest  mqtt_load honest: 100 TLS clients from 127.0.0.2-11, each publishing and
            subscribing at a fixed rate through moat (password file, acl_file)
    attack  mqtt_load attack from 127.0.0.1: 5,000 connections trickling 16 MiB CONNECTs,
            1,000 stalled TLS handshakes, garbage on fresh connections, a reconnect flood

    core 0: mosquitto + moat (default settings: threads 0, bans on, default limits)
    core 1: the honest generator, and the attacker at SCHED_IDLE (it gets only what the
            honest generator leaves, so it can never delay an honest send or receive)

Per repeat and moat binary (--moat, and --baseline if given) it starts a fresh broker
and moat twice: once for the honest load alone (quiet), once with the attack started
when the honest clients are up. It reports honest throughput, latency, dropped sessions
and newcomers that got in, moat's peak RSS (VmHWM), RSS and CPU, against the goals of
issue 14: throughput >= 0.9x quiet, p99 <= 2x quiet, peak RSS < 256 MiB, 0 dropped.
moat is killed if its RSS passes --rss-cap-mib (the machine is shared); that is
reported, as is moat dying by itself. Prints a markdown table and saves the raw
results as JSON. Started by tests/perf/run_hostile_benchmark.sh; standard library only;
never part of tests/run_all.sh.
"""

import argparse
import datetime
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_benchmark as bench  # noqa: E402  (the shared helpers live there)

from hostile_report import build_table  # noqa: E402

ATTACKER_ADDRESS = "127.0.0.1"
HONEST_USER = "honest"
ACL = f"""# The honest clients publish to honest/<n> and subscribe to honest/<n+1>.
user {HONEST_USER}
topic readwrite honest/#
"""


def honest_addresses(count):
    """127.0.0.2 onwards: never the attacker's, so per-address limits and bans that catch
    the attacker leave them alone (all of 127.0.0.0/8 is loopback on Linux)."""
    return [f"127.0.0.{2 + i}" for i in range(count)]


def read_status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class MemoryWatch(threading.Thread):
    """Samples moat's VmRSS and VmHWM every 20 ms, keeps one point a second, and kills
    moat with SIGKILL when its RSS passes the cap: the box is shared, and an unbounded
    process would otherwise wake the kernel's OOM killer for everyone."""

    def __init__(self, pid, cap_kb):
        super().__init__(daemon=True)
        self.pid, self.cap_kb = pid, cap_kb
        self.peak_hwm_kb = self.peak_rss_kb = 0
        self.killed_at_s = None
        self.timeline = []  # (seconds, rss MiB) once a second
        self.started = time.monotonic()
        self._stop_event = threading.Event()

    def run(self):
        next_point = 0.0
        while not self._stop_event.wait(0.02):
            rss = read_status_kb(self.pid, "VmRSS")
            if rss is None:
                return  # gone
            hwm = read_status_kb(self.pid, "VmHWM") or rss
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_hwm_kb = max(self.peak_hwm_kb, hwm)
            now = time.monotonic() - self.started
            if now >= next_point:
                self.timeline.append((round(now, 1), round(rss / 1024, 1)))
                next_point += 1.0
            if rss > self.cap_kb:
                self.killed_at_s = round(now, 1)
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
                return

    def stop(self):
        self._stop_event.set()
        self.join(timeout=5)


def write_moat_files(workdir, port, broker_port, metrics_port, certs, args):
    """moat as users run it: only what a TLS listener with passwords and an ACL needs is
    set; threads, bans and every limit keep their defaults."""
    passwd = os.path.join(workdir, "passwd")
    open(passwd, "w").close()
    subprocess.run([args.moat, "passwd", passwd, HONEST_USER], input=args.password + "\n",
                   text=True, check=True, capture_output=True)
    with open(os.path.join(workdir, "acl"), "w") as f:
        f.write(ACL)
    config = os.path.join(workdir, "moat.yaml")
    with open(config, "w") as f:
        f.write(bench.moat_tls_front(port, broker_port, certs) + f"""auth:
  password_file: passwd
policy:
  acl_file: acl
metrics:
  bind: "127.0.0.1:{metrics_port}"
""")
    return config


def scrape_metrics(port):
    """moat's own counters that moved (connections, timeouts, malformed packets, bans);
    no histograms."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    except OSError as e:
        return {"error": str(e)}
    kept = {}
    for line in text.splitlines():
        if line.startswith("moat_") and "_bucket{" not in line:
            name, _, value = line.rpartition(" ")
            if float(value) != 0:
                kept[name] = float(value)
    return kept


def last_json(child):
    for line in reversed(child.tail(50).splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{child.name} printed no result:\n{child.tail()}")


def wait_for_line(child, prefix, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in child.tail(50).splitlines():
            if line.startswith(prefix):
                return line
        if not child.alive():
            raise RuntimeError(f"{child.name} exited ({child.proc.returncode}):\n{child.tail()}")
        time.sleep(0.05)
    raise RuntimeError(f"{child.name} printed no {prefix} within {timeout:.0f}s:\n{child.tail()}")


def wait_exit(child, timeout):
    try:
        child.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        child.proc.kill()
        child.proc.wait()
        raise RuntimeError(f"{child.name} did not finish within {timeout:.0f}s:\n{child.tail()}")


def moat_status(moat, memory, cap_mib):
    if moat.alive():
        return "alive"
    if memory.killed_at_s is not None:
        return f"killed at the {cap_mib} MiB RSS cap after {memory.killed_at_s:.0f} s"
    code = moat.proc.returncode
    return f"killed by signal {-code}" if code < 0 else f"exited with {code}"


def honest_argv(args, port, certs, watch):
    argv = [args.mqtt_load, "honest", "--host", "127.0.0.1", "--port", port, "--tls",
            "--cafile", os.path.join(certs, "ca.crt"),
            "--bind", ",".join(honest_addresses(args.honest_addresses)),
            "--clients", args.clients, "--rate", args.rate, "--qos", args.qos,
            "--payload", 64, "--username", HONEST_USER, "--password", args.password,
            "--joiners", args.joiners, "--warmup", args.warmup, "--seconds", args.seconds,
            "--drain-seconds", 2, "--setup-timeout", 30]
    for name, pid in watch.items():
        argv += ["--watch", f"{name}={pid}"]
    return [str(a) for a in argv]


def attack_argv(args, port):
    seconds = args.warmup + args.seconds + 3  # outlasts the honest window and its drain
    argv = ["chrt", "--idle", "0", args.mqtt_load, "attack", "--host", "127.0.0.1",
            "--port", port, "--bind", ATTACKER_ADDRESS, "--seconds", seconds,
            "--trickle", args.trickle, "--trickle-bytes", args.trickle_bytes,
            "--trickle-interval", args.trickle_interval, "--stall", args.stall,
            "--garbage", args.garbage, "--flood", args.flood,
            "--flood-packet", args.flood_packet, "--concurrency", args.attack_concurrency]
    return [str(a) for a in argv]


def run_one(args, binary, attacked, certs, workdir):
    """One fresh broker and moat, the honest load, and the attack if `attacked`."""
    os.makedirs(workdir, exist_ok=True)
    broker_port, port, metrics_port = bench.free_port(), bench.free_port(), bench.free_port()
    config = write_moat_files(workdir, port, broker_port, metrics_port, certs, args)
    children, memory, run = [], None, {}
    try:
        broker = bench.start_broker(workdir, broker_port)
        children.append(broker)
        broker.wait_port(broker_port)
        moat = bench.Child("moat", [binary, "--config", config], workdir, bench.BROKER_CORE)
        children.append(moat)
        moat.wait_port(port)
        memory = MemoryWatch(moat.pid, args.rss_cap_mib * 1024)
        memory.start()
        run["moat_rss_idle_kb"] = read_status_kb(moat.pid, "VmRSS")
        run["waited_for_quiet_s"] = round(bench.wait_machine_quiet(args.max_quiet_wait), 1)

        honest = bench.Child("honest", honest_argv(args, port, certs,
                                                   {"moat": moat.pid, "broker": broker.pid}),
                             workdir, bench.LOAD_CORE)
        children.append(honest)
        wait_for_line(honest, "READY", 45)
        attacker = None
        if attacked:
            attacker = bench.Child("attacker", attack_argv(args, port), workdir, bench.LOAD_CORE)
            children.append(attacker)
        wait_exit(honest, args.warmup + args.seconds + 60)
        run["honest"] = last_json(honest)
        run["metrics"] = scrape_metrics(metrics_port) if moat.alive() else {}
        if attacker:
            wait_exit(attacker, args.warmup + args.seconds + 60)
            run["attack"] = last_json(attacker)
        if moat.alive():  # what moat keeps once the attack has gone
            bench.wait_quiet([moat.pid], timeout=20)
            run["moat_rss_after_kb"] = read_status_kb(moat.pid, "VmRSS")
        memory.stop()
        run["moat_peak_hwm_kb"] = max(memory.peak_hwm_kb, read_status_kb(moat.pid, "VmHWM") or 0)
        if memory.killed_at_s is not None:  # it would have gone on growing
            run["moat_peak_hwm_kb"] = max(run["moat_peak_hwm_kb"], memory.cap_kb)
        run["moat_peak_rss_sampled_kb"] = memory.peak_rss_kb
        run["moat_rss_timeline_mib"] = memory.timeline
        run["moat_status"] = moat_status(moat, memory, args.rss_cap_mib)
        if run["moat_status"] != "alive":
            run["moat_log_tail"] = moat.tail(30)
    finally:
        if memory:
            memory.stop()
        for child in reversed(children):
            child.stop()
    return run


def run_all(args, targets, certs, out_dir, report, results_path):
    for repeat in range(1, args.repeats + 1):
        for target, binary in targets:
            for load in ("quiet", "attack"):
                workdir = os.path.join(out_dir, f"run{repeat}-{target}-{load}")
                bench.log(f"repeat {repeat}/{args.repeats}: {target} {load}")
                run = {"repeat": repeat, "target": target, "load": load, "binary": binary}
                try:
                    run.update(run_one(args, binary, load == "attack", certs, workdir))
                    honest = run["honest"]
                    bench.log(f"{target} {load}: {honest['msgs_per_s']:,.0f} msg/s, p99 "
                              f"{honest['p99_us']:,.0f} µs, {honest['dropped']} dropped, "
                              f"moat peak {run['moat_peak_hwm_kb'] / 1024:,.0f} MiB, "
                              f"moat {run['moat_status']}")
                    ramp = run.get("attack", {}).get("trickle_ramp_s", 0)
                    if ramp < 0 or ramp > args.warmup:
                        bench.log(f"warning: the attack reached {args.trickle:,} trickling "
                                  f"connections {'never' if ramp < 0 else f'after {ramp:.0f} s'}"
                                  f" (warm-up {args.warmup:g} s)")
                except (RuntimeError, OSError, json.JSONDecodeError,
                        subprocess.CalledProcessError) as e:
                    run["error"] = str(e)
                    bench.log(f"{target} {load}: FAILED: {e}")
                bench.record_run(report, run, results_path, workdir, args.keep)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    a = parser.add_argument
    a("--moat", help="moat binary (default: BUILD_DIR/proxy/moat, built Release)")
    a("--baseline", default="", help="another moat binary put through the same runs, e.g. "
      "today's code after a fix, shown side by side")
    a("--repeats", type=int, default=1, help="the table shows medians")
    a("--warmup", type=float, default=15,
      help="seconds from the honest clients being up (and the attack starting) to the window")
    a("--seconds", type=float, default=30, help="the measured window")
    a("--clients", type=int, default=100, help="honest clients")
    a("--honest-addresses", type=int, default=10, help="source addresses they come from")
    a("--rate", type=float, default=2000, help="honest messages/s, all clients together")
    a("--qos", type=int, default=1, choices=(0, 1))
    a("--joiners", type=int, default=10, help="honest clients connecting during the window")
    a("--trickle", type=int, default=5000, help="connections trickling a 16 MiB CONNECT")
    a("--trickle-bytes", type=int, default=16384, help="sent by each every --trickle-interval")
    a("--trickle-interval", type=float, default=1.0)
    a("--stall", type=int, default=1000, help="connections stalled in the TLS handshake")
    a("--garbage", type=int, default=4, help="loops sending garbage on fresh connections")
    a("--flood", type=int, default=16, help="reconnect loops, as fast as they can")
    a("--flood-packet", default="malformed", choices=("malformed", "anonymous", "none"),
      help="what each flood connection sends after the TLS handshake (anonymous counts "
      "towards a ban of the attacker's address, malformed does not)")
    a("--attack-concurrency", type=int, default=64, help="attack connections opening at once")
    a("--rss-cap-mib", type=int, default=2048, help="moat is killed above this RSS")
    a("--build-dir", default="build-perf")
    a("--no-build", action="store_true", help="use the binaries as they are")
    a("--max-quiet-wait", type=float, default=0,
      help="seconds to wait for other processes to go quiet before each run")
    a("--autogroup-nice", type=int, default=-15,
      help="nice of this session's scheduler autogroup during the run (root only)")
    a("--report", metavar="RESULTS_JSON", help="print the table of a saved run and exit")
    a("--keep", action="store_true", help="keep configs and logs of every run")
    return parser.parse_args()


def main():
    args = parse_args()
    if args.report:
        with open(args.report) as f:
            print(build_table(json.load(f)["runs"]))
        return 0
    if os.cpu_count() < 2:
        sys.exit("run_hostile_benchmark: needs two cores (moat+broker on 0, clients on 1)")
    for tool in ("mosquitto", "taskset", "chrt"):
        if not shutil.which(tool):
            sys.exit(f"run_hostile_benchmark: {tool} not found (deploy/install-deps.sh)")
    if args.autogroup_nice < 0 and os.geteuid() != 0:
        bench.log("not root: running at normal priority (--autogroup-nice 0)")
        args.autogroup_nice = 0
    if not args.no_build:
        bench.build(args, ["moat"])
    args.moat = os.path.abspath(args.moat or os.path.join(bench.REPO, args.build_dir, "proxy",
                                                          "moat"))
    args.mqtt_load = os.path.join(bench.REPO, args.build_dir, "tests", "perf", "mqtt_load")
    targets = [("moat", args.moat)]
    if args.baseline:
        targets.append(("baseline", os.path.abspath(args.baseline)))
    for _, binary in targets + [("mqtt_load", args.mqtt_load)]:
        if not os.access(binary, os.X_OK):
            sys.exit(f"run_hostile_benchmark: {binary} is not an executable")
    args.password = secrets.token_hex(12)
    # The attacker and moat each hold every attack connection at once (children get the
    # hard limit as their soft limit); short of that, the attack is smaller than asked.
    needed = args.trickle + args.stall + args.garbage + args.flood + 2 * args.clients + 100
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < needed:
        bench.log(f"warning: the open-file limit is {hard}, the attack needs about {needed}")

    out_dir = tempfile.mkdtemp(prefix="moat-hostile-")
    certs = os.path.join(out_dir, "certs")
    subprocess.run([os.path.join(bench.REPO, "certs", "make-dev-certs.sh"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    started = datetime.datetime.now(datetime.timezone.utc)
    options = {k: v for k, v in vars(args).items() if k != "password"}
    report = {"started": started.isoformat(timespec="seconds"), "command": sys.argv,
              "versions": {name: bench.first_line([binary, "--version"])
                           for name, binary in targets},
              "git": bench.first_line(["git", "-C", bench.REPO, "describe", "--always",
                                       "--dirty"]),
              "kernel": os.uname().release, "options": options,
              "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE), "runs": []}
    results_path = os.path.join(out_dir, "results.json")
    with bench.AutogroupPriority(args.autogroup_nice):
        run_all(args, targets, certs, out_dir, report, results_path)

    return bench.finish(report, build_table(report["runs"]), results_path,
                        f"moat under attack, {report['started']} (moat+broker on core "
                        f"{bench.BROKER_CORE}, honest clients and attacker on core "
                        f"{bench.LOAD_CORE})")

if __name__ == "__main__":
    sys.exit(main())
