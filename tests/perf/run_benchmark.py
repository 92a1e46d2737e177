#!/usr/bin/env python3
"""moat against HAProxy and nginx: one workload, measured four ways.

    direct   mqtt_load -> mosquitto                         (plain TCP, the baseline)
    haproxy  mqtt_load -TLS-> HAProxy (mode tcp)  -> mosquitto
    nginx    mqtt_load -TLS-> nginx stream module -> mosquitto
    moat     mqtt_load -TLS-> moat (threads: 1)   -> mosquitto

The broker and the proxy share core 0, the load generator has core 1, so a proxy that
burns more CPU leaves less for the broker and shows up as lower throughput. Every
repeat starts a fresh broker and a fresh proxy per target and runs, in this order:
idle connections (on the fresh proxy), TLS handshakes, QoS 0 and QoS 1 throughput, and
latency at a fixed rate. Between phases it waits for the proxy and broker to go quiet
(never a blind sleep). The run's scheduler autogroup is reniced so other work on a
shared box does not delay its wake-ups; what other processes used anyway is measured
and reported. Prints a markdown table of medians and saves every raw result as JSON.
Started by tests/perf/run_benchmark.sh; standard library only.
"""

import argparse
import contextlib
import datetime
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGETS = ("direct", "haproxy", "nginx", "moat", "moat-nocount", "moat-baseline", "moat-rates",
           "moat-threads0", "moat-sparkplug", "moat-servers3")
# moat-nocount is moat built with -DMOAT_COUNTERS=OFF: the same data path with every
# metric increment compiled out, to show what counting costs. moat-baseline is another
# moat binary (--baseline), e.g. built from the commit before a change, so before and
# after are measured side by side in one run. moat-rates is moat with per-client rate
# limits configured far above what any benchmark client sends: what checking them costs
# when nobody is held back. moat-threads0 is moat with the default `threads: 0`, which
# sizes itself by the CPUs moat may use (one, pinned to core 0 here). moat-sparkplug is
# moat with a native policy whose rule checks every PUBLISH payload as Sparkplug B
# (`payload: sparkplug_b`); it needs --sparkplug-payloads, which makes every target's
# load valid Sparkplug, so moat beside it is the same load without the check.
# moat-servers3 is moat with upstream.servers listing three servers (one mosquitto with
# three listeners, so publishers and subscribers still meet), balanced by client id:
# what choosing a server and watching three costs beside moat's one. Only on request.
DEFAULT_TARGETS = TARGETS[:4]
PHASES = ("idle", "handshakes", "qos0", "qos1", "latency")
BROKER_CORE = "0"
# The clients come from 64 loopback addresses, as a fleet would from many: moat's default
# per-address limits (256 open connections, 50 new ones a second) are not the subject.
CLIENT_SOURCES = ",".join(f"127.0.3.{i}" for i in range(1, 65))
LOAD_CORE = "1"
# Mozilla "intermediate" TLS 1.2 suites, as moat uses; TLS 1.3 suites stay OpenSSL's.
TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


_ports_handed_out = set()


def free_port():
    """The kernel may offer one free port to two calls in a row; never hand it out twice."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_handed_out:
            _ports_handed_out.add(port)
            return port


def prepare_child():
    """preexec_fn: every child may open as many files as the hard limit allows."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class AutogroupPriority:
    """Raises the scheduling priority of this session's autogroup for the run.

    With sched_autogroup (Debian's default) the CPU is shared fairly between sessions
    first, so `nice` inside one session does nothing against a compiler started from
    another: the broker, proxy and generator would get half a core each on a busy box and
    wait on every wake-up. Renicing the autogroup (needs root) lets them take the cores
    when they want them while staying ordinary CFS tasks among themselves; the old value
    comes back at the end."""

    PATH = "/proc/self/autogroup"

    def __init__(self, nice):
        self.nice, self.old = nice, None

    def __enter__(self):
        try:
            with open(self.PATH) as f:
                self.old = int(f.read().split("nice")[1])
            with open(self.PATH, "w") as f:
                f.write(str(self.nice))
            log(f"autogroup nice {self.old} -> {self.nice}")
        except (OSError, IndexError, ValueError) as e:
            log(f"warning: cannot renice the autogroup ({e}); other work may disturb the run")
            self.old = None
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            with open(self.PATH, "w") as f:
                f.write(str(self.old))


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total


def wait_quiet(pids, timeout=20.0):
    """Waits until `pids` use under 5% of a core for 300 ms: the last phase's closes are done."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = cpu_seconds(pids)
        if now - last <= 0.015:
            return
        last = now
    log(f"warning: processes {pids} still busy after {timeout:.0f}s")


def machine_busy_seconds():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def wait_machine_quiet(timeout):
    """Waits until the whole machine uses under 10% of a core for 0.5 s: other people's
    compilers on this shared box would otherwise take core 0 or 1 from the run."""
    if timeout <= 0:
        return 0.0
    start = time.monotonic()
    quiet_since, last = None, machine_busy_seconds()
    while time.monotonic() - start < timeout:
        time.sleep(0.25)
        now = machine_busy_seconds()
        if now - last <= 0.025:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 0.5:
                return time.monotonic() - start
        else:
            quiet_since = None
        last = now
    log(f"warning: the machine stayed busy for {timeout:.0f}s; measuring anyway")
    return time.monotonic() - start


class Child:
    """A process on core `core` with stderr in a file, stopped by pid."""

    def __init__(self, name, argv, workdir, core):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["taskset", "-c", core] + argv, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, preexec_fn=prepare_child,
                                     cwd=workdir)

    @property
    def pid(self):
        return self.proc.pid  # taskset execs the program: same pid

    def alive(self):
        return self.proc.poll() is None

    def tail(self, lines=20):
        self.log_file.flush()
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")

    def wait_port(self, port, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
            with socket.socket() as s:
                s.settimeout(0.2)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} never listened on {port}:\n{self.tail()}")

    def stop(self, timeout=10.0):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


# ---- configuration files ----------------------------------------------------------

def start_broker(workdir, port, more_ports=()):
    conf = os.path.join(workdir, "mosquitto.conf")
    more = "".join(f"listener {p} 127.0.0.1\n" for p in more_ports)
    with open(conf, "w") as f:
        f.write(f"""per_listener_settings false
listener {port} 127.0.0.1
{more}allow_anonymous true
max_connections -1
# The generator bounds what is in flight itself; the broker must neither drop nor stall.
max_inflight_messages 0
max_queued_messages 100000
set_tcp_nodelay true
persistence false
log_dest stderr
log_type error
log_type warning
""")
    return Child("mosquitto", ["mosquitto", "-c", conf], workdir, BROKER_CORE)


def start_haproxy(workdir, port, broker_port, certs):
    pem = os.path.join(workdir, "server.pem")
    with open(pem, "w") as out:
        for part in ("server.crt", "server.key"):
            with open(os.path.join(certs, part)) as f:
                out.write(f.read())
    cfg = os.path.join(workdir, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 20000
    # It wants 2 x maxconn descriptors and exits when it cannot raise the limit to that;
    # 20,000 (this box's hard limit) is plenty for 9,000 clients and their upstreams.
    no strict-limits
    ssl-default-bind-options ssl-min-ver TLSv1.2
    ssl-default-bind-ciphers {TLS12_CIPHERS}
defaults
    mode tcp
    timeout connect 5s
    timeout client 10m
    timeout server 10m
frontend mqtts
    bind 127.0.0.1:{port} ssl crt {pem}
    maxconn 20000
    default_backend broker
backend broker
    server mosquitto 127.0.0.1:{broker_port}
""")
    return Child("haproxy", ["haproxy", "-db", "-f", cfg], workdir, BROKER_CORE)


def start_nginx(workdir, port, broker_port, certs):
    cfg = os.path.join(workdir, "nginx.conf")
    with open(cfg, "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
user root;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {workdir}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 20000;
}}
stream {{
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {certs}/server.crt;
        ssl_certificate_key {certs}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers {TLS12_CIPHERS};
        proxy_pass 127.0.0.1:{broker_port};
        proxy_timeout 10m;
    }}
}}
""")
    return Child("nginx", ["nginx", "-p", workdir, "-e", "stderr", "-c", cfg], workdir, BROKER_CORE)


def moat_tls_front(port, broker_port, certs, more_ports=()):
    """The start of every benchmark's moat config: one TLS listener, the broker upstream
    (as upstream.servers when there are `more_ports` of it)."""
    front = f"""listeners:
  - name: bench
    bind: "127.0.0.1:{port}"
    tls:
      cert: {certs}/server.crt
      key: {certs}/server.key
"""
    if not more_ports:
        return front + f"""upstream:
  address: "127.0.0.1:{broker_port}"
"""
    servers = "".join(f'    - "127.0.0.1:{p}"\n' for p in (broker_port, *more_ports))
    return front + "upstream:\n  servers:\n" + servers


# Rates no benchmark client reaches (one publisher sends ~10,000 messages a second).
RATES_NOT_REACHED = "  messages_per_second: 1000000\n  bytes_per_second: 1000000000\n"


# moat-sparkplug's policy: what the acl grants, with every payload checked.
SPARKPLUG_POLICY = """rules:
  - id: bench-sparkplug
    effect: allow
    actions: [publish, subscribe]
    topics: ["bench/#"]
    everyone: true
    payload: sparkplug_b
"""


def start_moat(workdir, port, broker_port, certs, moat_binary, extra_limits="", threads=1,
               sparkplug=False, more_ports=()):
    # A real policy, as users run: every client may use bench/#. Without one moat denies
    # everything (and policy.allow_all would skip the ACL, which is part of the cost).
    if sparkplug:
        policy = os.path.join(workdir, "policy.yaml")
        with open(policy, "w") as f:
            f.write(SPARKPLUG_POLICY)
        policy_line = f"file: {policy}"
    else:
        acl = os.path.join(workdir, "acl")
        with open(acl, "w") as f:
            f.write("pattern readwrite bench/#\n")
        policy_line = f"acl_file: {acl}"
    cfg = os.path.join(workdir, "moat.yaml")
    with open(cfg, "w") as f:
        f.write(moat_tls_front(port, broker_port, certs, more_ports) + f"""auth:
  allow_anonymous: true
policy:
  {policy_line}
threads: {threads}
limits:
  max_connections: 100000
""" + extra_limits)
    return Child("moat", [moat_binary, "--config", cfg], workdir, BROKER_CORE)


# ---- one target, one repeat ---------------------------------------------------------

class Target:
    def __init__(self, name, args, certs, workdir):
        self.name, self.args, self.certs, self.workdir = name, args, certs, workdir
        self.broker = self.proxy = None

    def __enter__(self):
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self):
        os.makedirs(self.workdir, exist_ok=True)
        broker_port = free_port()
        more_ports = (free_port(), free_port()) if self.name == "moat-servers3" else ()
        self.broker = start_broker(self.workdir, broker_port, more_ports)
        self.broker.wait_port(broker_port)
        for more in more_ports:
            self.broker.wait_port(more)
        if self.name == "direct":
            self.port = broker_port
            self.watch = {"broker": self.broker.pid}
            return self
        self.port = free_port()
        starter = {"haproxy": start_haproxy, "nginx": start_nginx}.get(self.name)
        if starter:
            self.proxy = starter(self.workdir, self.port, broker_port, self.certs)
        else:
            binary = {"moat-nocount": self.args.moat_nocount,
                      "moat-baseline": self.args.baseline}.get(self.name, self.args.moat)
            extra = RATES_NOT_REACHED if self.name == "moat-rates" else ""
            threads = 0 if self.name == "moat-threads0" else 1
            self.proxy = start_moat(self.workdir, self.port, broker_port, self.certs, binary,
                                    extra, threads, sparkplug=self.name == "moat-sparkplug",
                                    more_ports=more_ports)
        self.proxy.wait_port(self.port)
        proxy_pid = self.proxy.pid
        if self.name == "nginx":  # the worker does the work; the master only waits
            workers = children_of(proxy_pid)
            if len(workers) != 1:
                raise RuntimeError(f"nginx has workers {workers}, expected one")
            proxy_pid = workers[0]
        self.watch = {"proxy": proxy_pid, "broker": self.broker.pid}
        return self

    def __exit__(self, *exc):
        for child in (self.proxy, self.broker):
            if child:
                child.stop()

    def check_alive(self):
        for child in (self.broker, self.proxy):
            if child and not child.alive():
                raise RuntimeError(f"{child.name} died (exit {child.proc.returncode}):\n"
                                   f"{child.tail()}")

    def load(self, mode, *options, timeout):
        argv = ["taskset", "-c", LOAD_CORE, self.args.mqtt_load, mode,
                "--host", "127.0.0.1", "--port", str(self.port), "--bind", CLIENT_SOURCES]
        if self.name != "direct":
            argv += ["--tls", "--cafile", os.path.join(self.certs, "ca.crt")]
        for name, pid in self.watch.items():
            argv += ["--watch", f"{name}={pid}"]
        argv += [str(o) for o in options]
        if mode in ("throughput", "latency"):
            argv += ["--payload", str(self.args.payload)]
            if self.args.sparkplug_payloads:
                argv.append("--sparkplug")
        waited = 0.0
        for attempt in range(1, self.args.attempts + 1):
            waited += wait_machine_quiet(self.args.max_quiet_wait)
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                      preexec_fn=prepare_child)
            except subprocess.TimeoutExpired:
                self.check_alive()
                raise RuntimeError(f"mqtt_load {mode} timed out after {timeout}s")
            if done.returncode != 0:
                self.check_alive()
                raise RuntimeError(f"mqtt_load {mode} failed ({done.returncode}): {done.stderr}")
            if done.stderr.strip():
                log(f"mqtt_load {mode}: {done.stderr.strip()}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            wait_quiet(list(self.watch.values()))
            self.check_alive()
            # Something else ran during the timed window: measure again (the idle phase
            # only on a fresh proxy, so it is kept and flagged instead).
            disturbed = result["others_cpu_s"] / result["elapsed_s"] > 0.5
            result.update(attempt=attempt, waited_for_quiet_s=round(waited, 1),
                          disturbed=disturbed)
            if not disturbed or mode == "idle" or attempt == self.args.attempts:
                break
            log(f"{self.name} {mode}: other processes used "
                f"{result['others_cpu_s']:.2f} CPU s during the run; measuring again")
        return result

    @contextlib.contextmanager
    def profiled(self, phase):
        """With --profile PHASE: perf records the proxy (or broker, for direct) while that
        phase runs, for finding where its CPU goes; the phase's own figures are then
        perturbed by perf and should not be compared."""
        if phase != self.args.profile:
            yield
            return
        pid = self.watch.get("proxy", self.watch["broker"])
        out = os.path.join(self.args.profile_dir, f"{self.name}-{phase}.perf.data")
        os.makedirs(self.args.profile_dir, exist_ok=True)
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-p", str(pid),
                                 "-o", out], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            yield
        finally:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
            log(f"{self.name} {phase}: profile in {out} (perf report -i {out})")

    def run_phases(self):
        a = self.args
        phases = {}
        if "idle" in a.phases:
            log(f"{self.name}: idle x{a.idle_connections}")
            with self.profiled("idle"):
                phases["idle"] = self.load("idle", "--connections", a.idle_connections,
                                           "--concurrency", 64, "--settle-seconds", 1,
                                           "--hold-seconds", 1.5, timeout=300)
        if "handshakes" in a.phases:
            log(f"{self.name}: handshakes")
            with self.profiled("handshakes"):
                phases["handshakes"] = self.load(
                    "handshakes", "--seconds", a.handshake_seconds, "--concurrency",
                    a.handshake_concurrency, timeout=a.handshake_seconds + 60)
        for qos in (0, 1):
            if f"qos{qos}" not in a.phases:
                continue
            log(f"{self.name}: throughput QoS {qos}")
            with self.profiled(f"qos{qos}"):
                phases[f"qos{qos}"] = self.load("throughput", "--qos", qos, "--publishers",
                                                a.publishers, "--seconds", a.seconds,
                                                timeout=a.seconds + 60)
        if "latency" in a.phases:
            log(f"{self.name}: latency at {a.rate:g} msg/s")
            with self.profiled("latency"):
                phases["latency"] = self.load("latency", "--rate", a.rate, "--publishers", 1,
                                              "--seconds", a.seconds, timeout=a.seconds + 60)
        return phases


# ---- metrics and the table ----------------------------------------------------------

def per_million(phase, who):
    watched = phase["watch"].get(who)
    if not watched or phase["messages"] == 0:
        return None
    return watched["cpu_s"] / phase["messages"] * 1e6


# (label, function of one run's phases, format, lower is better; None: context, no ratio)
METRICS = [
    ("QoS 0 throughput, msg/s", lambda p: p["qos0"]["msgs_per_s"], "{:,.0f}", False),
    ("QoS 1 throughput, msg/s", lambda p: p["qos1"]["msgs_per_s"], "{:,.0f}", False),
    ("latency p50 at {rate} msg/s, µs", lambda p: p["latency"]["p50_us"], "{:,.0f}", True),
    ("latency p99 at {rate} msg/s, µs", lambda p: p["latency"]["p99_us"], "{:,.0f}", True),
    ("proxy CPU s per 1M msgs, QoS 0", lambda p: per_million(p["qos0"], "proxy"), "{:.2f}", True),
    ("proxy CPU s per 1M msgs, QoS 1", lambda p: per_million(p["qos1"], "proxy"), "{:.2f}", True),
    ("proxy KiB per idle TLS connection ({n})",
     lambda p: p["idle"]["bytes_per_connection"].get("proxy", None) and
     p["idle"]["bytes_per_connection"]["proxy"] / 1024, "{:.1f}", True),
    ("handshakes/s (TLS + CONNECT/CONNACK + close)",
     lambda p: p["handshakes"]["handshakes_per_s"], "{:,.0f}", False),
    ("proxy CPU ms per handshake",
     lambda p: p["handshakes"]["watch"].get("proxy") and
     p["handshakes"]["watch"]["proxy"]["cpu_s"] / p["handshakes"]["handshakes"] * 1e3,
     "{:.3f}", True),
    # The generator's TLS client work is about the server's, so with one core it saturates
    # first; this is what core 0 (proxy + broker) would sustain at 100%.
    ("handshakes/s core 0 could sustain (1 / (proxy + broker CPU per handshake))",
     lambda p: p["handshakes"]["handshakes"] /
     sum(w["cpu_s"] for w in p["handshakes"]["watch"].values()), "{:,.0f}", False),
    # Context: where the rest of core 0 went, and whether the generator kept up.
    ("broker CPU s per 1M msgs, QoS 0", lambda p: per_million(p["qos0"], "broker"), "{:.2f}",
     None),
    ("broker KiB per idle connection ({n})",
     lambda p: p["idle"]["bytes_per_connection"]["broker"] / 1024, "{:.1f}", None),
    ("load generator CPU %, QoS 0 / QoS 1 / handshakes",
     lambda p: tuple(100 * p[k]["generator_cpu_s"] / p[k]["elapsed_s"]
                     for k in ("qos0", "qos1", "handshakes")), "{:.0f}", None),
    ("other processes on the box, cores used (mean of timed windows)",
     lambda p: statistics.mean(phase["others_cpu_s"] / phase["elapsed_s"]
                               for name, phase in p.items() if name != "idle"), "{:.2f}", None),
]


def median_or_none(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    if isinstance(values[0], tuple):
        return tuple(statistics.median(column) for column in zip(*values))
    return statistics.median(values)


def format_cell(value, fmt):
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return " / ".join(fmt.format(v) for v in value)
    return fmt.format(value)


def build_table(runs, args):
    titles = {"direct": "direct", "haproxy": "HAProxy", "nginx": "nginx", "moat": "moat",
              "moat-nocount": "moat, counters compiled out", "moat-baseline": "moat, baseline",
              "moat-rates": "moat, rates set", "moat-threads0": "moat, threads: 0",
              "moat-sparkplug": "moat, Sparkplug checked",
              "moat-servers3": "moat, 3 upstream servers"}
    shown = list(DEFAULT_TARGETS)
    for extra in ("moat-nocount", "moat-baseline", "moat-rates", "moat-threads0",
                  "moat-sparkplug", "moat-servers3"):
        if any(run["target"] == extra for run in runs):
            shown.append(extra)
    ratios = ["moat"] + [t for t in ("moat-baseline", "moat-rates", "moat-threads0",
                                     "moat-sparkplug", "moat-servers3") if t in shown]
    header = "| metric | " + " | ".join(titles[t] for t in shown) + " | " + \
        " | ".join(f"{titles[t]}/HAProxy" for t in ratios) + " |"
    lines = [header, "| --- |" + " ---: |" * (len(shown) + len(ratios))]
    medians = {}
    for label, fn, fmt, lower in METRICS:
        label = label.format(rate=f"{args.rate:,.0f}", n=f"{args.idle_connections:,}")
        row = {}
        for target in TARGETS:
            values = []
            for run in runs:
                if run["target"] == target and "phases" in run:
                    try:
                        values.append(fn(run["phases"]))
                    except (KeyError, TypeError, ZeroDivisionError, statistics.StatisticsError):
                        values.append(None)
            row[target] = median_or_none(values)
        medians[label] = row
        cells = [format_cell(row[t], fmt) for t in shown]
        for target in ratios:
            ratio = "—"
            if lower is not None and isinstance(row[target], (int, float)) \
                    and isinstance(row["haproxy"], (int, float)) and row["haproxy"]:
                ratio = f"{row[target] / row['haproxy']:.2f}×"
            cells.append(ratio)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines), medians


def first_line(argv):
    """The first line a program prints (its version, say), or "unknown"."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def versions(args):
    return {
        "moat": first_line([args.moat, "--version"]),
        "haproxy": first_line(["haproxy", "-v"]),
        "nginx": first_line(["nginx", "-v"]),
        "mosquitto": first_line(["mosquitto", "-h"]),
        "openssl": first_line(["openssl", "version"]),
        "kernel": os.uname().release,
        "git": first_line(["git", "-C", REPO, "describe", "--always", "--dirty"]),
    }


def build(args, targets):
    builds = [(args.build_dir, "ON", ["moat", "mqtt_load"])]
    if "moat-nocount" in targets:
        builds.append((args.build_dir + "-nocount", "OFF", ["moat"]))
    for directory, counters, programs in builds:
        build_dir = os.path.join(REPO, directory)
        log(f"building {' and '.join(programs)} in {build_dir}")
        subprocess.run(["cmake", "-S", REPO, "-B", build_dir, "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=Release", "-DMOAT_TESTS=OFF",
                        "-DMOAT_BENCHMARKS=ON", f"-DMOAT_COUNTERS={counters}"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["ninja", "-C", build_dir, "-j2"] + programs, check=True,
                       stdout=subprocess.DEVNULL)


def record_run(report, run, results_path, workdir, keep):
    """Saves the results after every run, so a crash later loses none of them."""
    report["runs"].append(run)
    with open(results_path, "w") as f:
        json.dump(report, f, indent=1)
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)


def run_all(args, targets, certs, out_dir, report, results_path):
    for repeat in range(1, args.repeats + 1):
        for target in targets:
            workdir = os.path.join(out_dir, f"run{repeat}-{target}")
            run = {"repeat": repeat, "target": target}
            log(f"repeat {repeat}/{args.repeats}: {target}")
            try:
                with Target(target, args, certs, workdir) as t:
                    run["phases"] = t.run_phases()
            except (RuntimeError, json.JSONDecodeError) as e:
                run["error"] = str(e)
                log(f"{target}: FAILED: {e}")
            record_run(report, run, results_path, workdir, args.keep)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="throughput and latency phases")
    parser.add_argument("--handshake-seconds", type=float, default=5)
    parser.add_argument("--handshake-concurrency", type=int, default=64,
                        help="handshake loops in flight")
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--payload", type=int, default=64,
                        help="bytes of each PUBLISH payload, throughput and latency phases")
    parser.add_argument("--sparkplug-payloads", action="store_true",
                        help="every target's payloads are valid Sparkplug B (moat-sparkplug "
                        "needs it)")
    parser.add_argument("--rate", type=float, default=2000, help="latency phase, msg/s")
    parser.add_argument("--idle-connections", type=int, default=9000)
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                        help=f"any of {','.join(TARGETS)}")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--build-dir", default="build-perf")
    parser.add_argument("--baseline", default="",
                        help="another moat binary, measured as the moat-baseline target")
    parser.add_argument("--no-build", action="store_true", help="use the binaries as they are")
    parser.add_argument("--attempts", type=int, default=1,
                        help="runs of a phase disturbed by other processes before keeping it")
    parser.add_argument("--max-quiet-wait", type=float, default=0,
                        help="seconds to wait for other processes to go quiet before a phase")
    parser.add_argument("--autogroup-nice", type=int, default=-15,
                        help="nice of this session's scheduler autogroup during the run (root "
                        "only; 0 leaves it alone)")
    parser.add_argument("--report", metavar="RESULTS_JSON",
                        help="print the table of an earlier run's raw results and exit")
    parser.add_argument("--keep", action="store_true", help="keep configs and logs of every run")
    parser.add_argument("--profile", metavar="PHASE", choices=PHASES,
                        help="perf-record the proxy during this phase (diagnosis only)")
    parser.add_argument("--profile-dir", default=os.path.join(REPO, "build-perf", "profiles"))
    args = parser.parse_args()
    if args.report:
        with open(args.report) as f:
            report = json.load(f)
        args.rate = report["options"]["rate"]
        args.idle_connections = report["options"]["idle_connections"]
        print(build_table(report["runs"], args)[0])
        return 0
    targets = [t for t in args.targets.split(",") if t]
    for t in targets:
        if t not in TARGETS:
            parser.error(f"unknown target {t}")
    if "moat-sparkplug" in targets and not args.sparkplug_payloads:
        parser.error("the moat-sparkplug target refuses what is not Sparkplug: add "
                     "--sparkplug-payloads (and --payload 1024 for the README's figure)")
    if ("moat-baseline" in targets) != bool(args.baseline):
        parser.error("the moat-baseline target and --baseline BINARY go together")
    args.phases = [p for p in args.phases.split(",") if p]
    for p in args.phases:
        if p not in PHASES:
            parser.error(f"unknown phase {p}")
    if os.cpu_count() < 2:
        sys.exit("run_benchmark: needs two cores (broker+proxy on 0, load generator on 1)")
    for tool in ["mosquitto", "taskset"] + [t for t in ("haproxy", "nginx") if t in targets]:
        if not shutil.which(tool):
            sys.exit(f"run_benchmark: {tool} not found (deploy/install-deps.sh installs it)")
    if args.autogroup_nice < 0 and os.geteuid() != 0:
        log("not root: running at normal priority (--autogroup-nice 0)")
        args.autogroup_nice = 0
    if not args.no_build:
        build(args, targets)
    args.moat = os.path.join(REPO, args.build_dir, "proxy", "moat")
    args.moat_nocount = os.path.join(REPO, args.build_dir + "-nocount", "proxy", "moat")
    args.mqtt_load = os.path.join(REPO, args.build_dir, "tests", "perf", "mqtt_load")

    out_dir = tempfile.mkdtemp(prefix="moat-bench-")
    certs = os.path.join(out_dir, "certs")
    subprocess.run([os.path.join(REPO, "certs", "make-dev-certs.sh"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    started = datetime.datetime.now(datetime.timezone.utc)
    report = {"started": started.isoformat(timespec="seconds"), "command": sys.argv,
              "versions": versions(args), "options": {k: v for k, v in vars(args).items()},
              "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE), "runs": []}
    results_path = os.path.join(out_dir, "results.json")
    with AutogroupPriority(args.autogroup_nice):
        run_all(args, targets, certs, out_dir, report, results_path)

    table, medians = build_table(report["runs"], args)
    report["medians"] = medians
    return finish(report, table, results_path,
                  f"moat benchmark, {report['started']}, medians of {args.repeats} repeats "
                  f"(broker+proxy on core {BROKER_CORE}, load generator on core {LOAD_CORE})")


def finish(report, table, results_path, heading):
    """Saves the whole report with its table and prints the table; 1 if any run failed."""
    report["table"] = table
    report["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")
    with open(results_path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"\n{heading}:\n")
    print(table)
    print(f"\nraw results: {results_path}")
    failures = [r for r in report["runs"] if "error" in r]
    if failures:
        print(f"{len(failures)} run(s) failed; see 'error' in the raw results")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
