#!/usr/bin/env python3
"""Draws deploy/grafana/dashboard.png, the README's picture of moat-dashboard.json, with
real data and no Grafana (Debian 12 has none): it starts mosquitto, moat and Prometheus
on loopback, drives moat with real clients for a few minutes (logins good and bad,
anonymous ones, malformed packets, failed TLS handshakes, a broker outage,
reloads), asks Prometheus for every panel's query over that time, lays the panels out on
the dashboard's grid as HTML and screenshots it with headless Chromium.

    apt-get install chromium prometheus mosquitto mosquitto-clients
    MOAT_BIN=build/proxy/moat python3 deploy/grafana/render_dashboard.py [--seconds 180]
"""

import argparse
import html
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
from harness import (Certs, Process, RawClient, connect_packet, free_port,  # noqa: E402
                     port_open, publish_packet, wait_until)

COLORS = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff",
          "#ff780a", "#fade2a", "#96d98d"]
FIXED = {"green": "#73bf69", "red": "#f2495c", "dark-red": "#c4162a", "orange": "#ff9830",
         "yellow": "#fade2a", "blue": "#5794f2"}


# --- The system under the picture --------------------------------------------------------

class Stack:
    def __init__(self, workdir):
        self.workdir = workdir
        self.processes = []

    def launch(self):
        workdir = self.workdir
        self.broker_port = free_port()
        self.broker_conf = os.path.join(workdir, "mosquitto.conf")
        with open(self.broker_conf, "w") as f:
            f.write("allow_anonymous true\npersistence false\nuser root\nlog_dest stderr\n"
                    f"listener {self.broker_port} 127.0.0.1\n")
        self.broker = self.start("mosquitto", ["mosquitto", "-c", self.broker_conf])
        wait_until(lambda: port_open(self.broker_port), what="mosquitto")

        self.passwd = os.path.join(workdir, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", self.passwd, "sensor", "sensor-pw"],
                       check=True, capture_output=True)
        with open(self.passwd) as f:
            self.good_passwd = f.read()
        self.plain_port, self.tls_port, self.metrics_port = free_port(), free_port(), free_port()
        self.moat_conf = os.path.join(workdir, "moat.yaml")
        with open(self.moat_conf, "w") as f:
            f.write(f"""listeners:
  - name: plain
    bind: "127.0.0.1:{self.plain_port}"
  - name: tls
    bind: "127.0.0.1:{self.tls_port}"
    tls:
      cert: {Certs.path("server.crt")}
      key: {Certs.path("server.key")}
upstream:
  address: "127.0.0.1:{self.broker_port}"
auth:
  password_file: {self.passwd}
  allow_anonymous: false
  failure_delay: 0s
  ban:
    failures: 30
    window: 5s
    duration: 12s
metrics:
  bind: "127.0.0.1:{self.metrics_port}"
""")
        self.moat = self.start("moat", [harness.MOAT_BIN, "--config", self.moat_conf])
        wait_until(lambda: port_open(self.metrics_port) or not self.moat.alive(),
                   what="moat")
        if not self.moat.alive():
            raise SystemExit("moat exited:\n" + self.moat.log())

        self.prom_port = free_port()
        prom_dir = os.path.join(workdir, "prometheus")
        os.makedirs(prom_dir)
        with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: moat\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{self.metrics_port}']\n"
                    "        labels: {}\n")
        self.start("prometheus", ["prometheus",
                                  f"--config.file={prom_dir}/prometheus.yml",
                                  f"--storage.tsdb.path={prom_dir}/data",
                                  f"--web.listen-address=127.0.0.1:{self.prom_port}",
                                  "--log.level=warn"])
        wait_until(lambda: port_open(self.prom_port), timeout=30, what="Prometheus")

    def start(self, name, argv):
        process = Process(name, argv, self.workdir)
        self.processes.append(process)
        return process

    def stop(self):
        for process in reversed(self.processes):
            process.stop()


# --- Traffic -----------------------------------------------------------------------------

def attempt(fn):
    try:
        fn()
    except (OSError, EOFError, ssl.SSLError, AssertionError):
        pass


def login(port, user, password, client_id):
    client = RawClient(port, timeout=3)
    client.send(connect_packet(client_id, username=user, password=password))
    first, body = client.read_packet()
    return client, body[1] if first == 0x20 else None


def drive(stack, seconds):
    deadline = time.monotonic() + seconds
    stop = threading.Event()
    rng = random.Random(7)

    def publishers():  # long-lived sensors publishing steadily
        clients = []
        while not stop.is_set():
            if len(clients) < 12:
                def add():
                    client, code = login(stack.plain_port, "sensor", "sensor-pw",
                                         f"sensor-{len(clients)}-{rng.random():.6f}")
                    if code == 0:
                        clients.append(client)
                attempt(add)
            for client in list(clients):
                def send(client=client):
                    topic = f"sensors/{rng.randint(1, 9)}"
                    client.send(publish_packet(topic, os.urandom(rng.randint(20, 400))))
                attempt(send)
            if rng.random() < 0.05 and clients:
                clients.pop(0).close()
            stop.wait(0.05)
        for client in clients:
            client.close()

    def attackers():  # bursts of wrong passwords, anonymous clients, garbage, bad TLS
        phase_start = time.monotonic()
        while not stop.is_set():
            t = (time.monotonic() - phase_start) / seconds
            burst = 8 if 0.15 < t < 0.2 else 1  # guessing fast enough to be banned
            for _ in range(burst):
                attempt(lambda: login(stack.plain_port, "sensor", "guess", "g")[0].close())
            if rng.random() < 0.3:
                attempt(lambda: login(stack.plain_port, None, None, "anon")[0].close())
            if rng.random() < 0.2:
                def malformed():
                    client, _ = login(stack.plain_port, "sensor", "sensor-pw", "m")
                    client.send(publish_packet("bad/+", b"x"))
                    client.closed_by_peer(timeout=2)
                attempt(malformed)
            if rng.random() < 0.25:
                def bad_tls():  # a client that does not trust moat's certificate
                    context = ssl.create_default_context()
                    with socket.create_connection(("127.0.0.1", stack.tls_port), timeout=3) as s:
                        context.wrap_socket(s, server_hostname="localhost")
                attempt(bad_tls)
            if rng.random() < 0.1:
                def good_tls():
                    client = RawClient(stack.tls_port, tls=True, timeout=3)
                    client.send(connect_packet("tls", username="sensor", password="sensor-pw"))
                    client.read_packet()
                    client.close()
                attempt(good_tls)
            stop.wait(0.4)

    threads = [threading.Thread(target=publishers), threading.Thread(target=attackers)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    events = [(0.35, "broker outage"), (0.45, "broker back"), (0.6, "reload"),
              (0.7, "bad reload"), (0.75, "fixed reload")]
    for fraction, event in events:
        time.sleep(max(0, started + fraction * seconds - time.monotonic()))
        print(f"{time.monotonic() - started:5.0f}s {event}", flush=True)
        if event == "broker outage":
            stack.broker.stop()
        elif event == "broker back":
            stack.broker = stack.start("mosquitto-2", ["mosquitto", "-c", stack.broker_conf])
            wait_until(lambda: port_open(stack.broker_port), what="mosquitto again")
        elif event in ("reload", "fixed reload"):
            if event == "fixed reload":
                with open(stack.passwd, "w") as f:
                    f.write(stack.good_passwd)
            stack.moat.proc.send_signal(signal.SIGHUP)
        elif event == "bad reload":
            with open(stack.passwd, "a") as f:
                f.write("a broken line\n")
            stack.moat.proc.send_signal(signal.SIGHUP)
    time.sleep(max(0, deadline - time.monotonic()))
    end = time.time()  # the picture ends while the clients are still connected
    time.sleep(2)  # for the last scrape
    stop.set()
    for thread in threads:
        thread.join()
    return end


# --- Queries and drawing -------------------------------------------------------------------

def prom(stack, path, **params):
    url = f"http://127.0.0.1:{stack.prom_port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    return body["data"]["result"]


def expand(expr, seconds):
    return (expr.replace("$__rate_interval", "10s").replace("$__interval", "2s")
            .replace("$__range", f"{int(seconds)}s").replace("$job", "moat")
            .replace("$instance", ".*"))


def legend(fmt, labels):
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt or "")
    return text or ", ".join(f"{k}={v}" for k, v in labels.items()) or "value"


def fmt_value(value, unit):
    if value != value:  # NaN
        return "–"
    if unit == "bytes" or unit == "Bps":
        for suffix in ["B", "KiB", "MiB", "GiB"]:
            if abs(value) < 1024 or suffix == "GiB":
                return f"{value:.3g} {suffix}" + ("/s" if unit == "Bps" else "")
            value /= 1024
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.3g} µs"
        if value < 1:
            return f"{value * 1e3:.3g} ms"
        if value < 3600:
            return f"{value:.3g} s" if value < 60 else f"{value / 60:.1f} min"
        return f"{value / 3600:.1f} h"
    if unit == "percentunit":
        return f"{value * 100:.2g}%"
    suffix = {"cps": "/s", "pps": " p/s"}.get(unit, "")
    if abs(value) >= 1000:
        return f"{value / 1000:.3g}K{suffix}"
    return f"{value:.3g}{suffix}" if value != int(value) else f"{int(value)}{suffix}"


def series_color(panel, name, index):
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"]["options"] == name:
            for prop in override["properties"]:
                if prop["id"] == "color":
                    return FIXED.get(prop["value"]["fixedColor"], "#ccc")
    return COLORS[index % len(COLORS)]


def draw_timeseries(panel, results, start, end, width, height):
    unit = panel["fieldConfig"]["defaults"].get("unit", "short")
    stacked = panel["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    bars = panel["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "bars"
    series = []
    for target, result in results:
        for s in result:
            points = [(float(t), float(v)) for t, v in s["values"] if v not in ("NaN", "+Inf")]
            if points:
                series.append((legend(target.get("legendFormat"), s["metric"]), points))
    svg = [f'<svg width="{width}" height="{height}">']
    if series and not any(v > 0 for _, points in series for _, v in points):
        svg.append(f'<text x="{width / 2}" y="{height / 2}" fill="#888" text-anchor="middle">'
                   f'0 (all {len(series)} series)</text></svg>')
        return "".join(svg)
    series = [s for s in series if any(v > 0 for _, v in s[1])]  # hide series that stay 0
    series.sort(key=lambda s: s[0])
    series = series[:10]
    plot_w, left = width - 70, 60
    columns = max(1, min(3, int(plot_w // 200)))
    plot_h = height - 30 - 18 * ((len(series) + columns - 1) // columns)
    if not series:
        svg.append(f'<text x="{width / 2}" y="{height / 2}" fill="#888" text-anchor="middle">'
                   'No data</text></svg>')
        return "".join(svg)
    times = sorted({t for _, pts in series for t, _ in pts})
    totals = {t: 0.0 for t in times}
    drawn = []
    for name, points in series:
        values = dict(points)
        if stacked:
            line = []
            for t in times:
                totals[t] += values.get(t, 0.0)
                line.append((t, totals[t]))
            drawn.append((name, line))
        else:
            drawn.append((name, points))
    top = max(v for _, pts in drawn for _, v in pts) or 1.0
    bottom = 0.0 if panel["fieldConfig"]["defaults"].get("min") == 0 else \
        min(v for _, pts in drawn for _, v in pts)
    if top == bottom:
        top = bottom + 1
    top *= 1.1

    def xy(t, v):
        return (left + (t - start) / (end - start) * plot_w,
                8 + plot_h - (v - bottom) / (top - bottom) * plot_h)

    for i in range(5):
        v = bottom + (top - bottom) * i / 4
        _, y = xy(start, v)
        svg.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#2c3235"/>')
        svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" fill="#9fa7b3" font-size="11" '
                   f'text-anchor="end">{html.escape(fmt_value(v, unit))}</text>')
    for i in range(4):
        t = start + (end - start) * i / 3
        x, _ = xy(t, bottom)
        label = time.strftime("%H:%M:%S", time.gmtime(t))
        anchor = "end" if i == 3 else "middle"
        svg.append(f'<text x="{x:.1f}" y="{plot_h + 22}" fill="#9fa7b3" font-size="11" '
                   f'text-anchor="{anchor}">{label}</text>')
    for index in reversed(range(len(drawn))):
        name, points = drawn[index]
        c = series_color(panel, name, index)
        if bars:
            for t, v in points:
                if v > 0:
                    x, y = xy(t, v)
                    _, y0 = xy(t, bottom)
                    svg.append(f'<rect x="{x - 2:.1f}" y="{y:.1f}" width="4" '
                               f'height="{y0 - y:.1f}" fill="{c}"/>')
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(t, v) for t, v in points))
        first_x, _ = xy(points[0][0], bottom)
        last_x, base_y = xy(points[-1][0], bottom)
        svg.append(f'<polygon points="{first_x:.1f},{base_y:.1f} {path} {last_x:.1f},'
                   f'{base_y:.1f}" fill="{c}" fill-opacity="0.12"/>')
        svg.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="1.5"/>')
    for index, (name, _) in enumerate(drawn):
        x = left + (index % columns) * (plot_w / columns)
        y = plot_h + 40 + 18 * (index // columns)
        c = series_color(panel, name, index)
        fits = int(plot_w / columns / 6.5) - 3
        svg.append(f'<rect x="{x:.1f}" y="{y - 9}" width="14" height="4" fill="{c}"/>')
        svg.append(f'<text x="{x + 18:.1f}" y="{y - 4}" fill="#ccccdc" font-size="11">'
                   f'{html.escape(name[:fits])}</text>')
    svg.append("</svg>")
    return "".join(svg)


def threshold_color(panel, value):
    steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    color = "#73bf69"
    for step in steps:
        if step["value"] is None or value >= step["value"]:
            color = FIXED.get(step["color"], "#73bf69")
    return color


def draw_stat(panel, result, now):
    defaults = panel["fieldConfig"]["defaults"]
    if not result:
        return '<div class="stat" style="color:#888">No data</div>'
    if panel["options"]["textMode"] == "name":
        text = legend(panel["targets"][0]["legendFormat"], result[0]["metric"])
        return f'<div class="stat" style="font-size:22px;color:#ccccdc">{html.escape(text)}</div>'
    value = float(result[0]["value"][1])
    if defaults.get("unit") == "dateTimeFromNow":
        ago = now - value / 1000
        text = f"{ago:.0f} seconds ago" if ago < 120 else f"{ago / 60:.0f} minutes ago"
        return f'<div class="stat" style="font-size:26px;color:#73bf69">{text}</div>'
    return (f'<div class="stat" style="color:{threshold_color(panel, value)}">'
            f'{html.escape(fmt_value(value, defaults.get("unit", "short")))}</div>')


def draw_bargauge(panel, result, width):
    rows = sorted(((legend(panel["targets"][0]["legendFormat"], s["metric"]),
                    float(s["value"][1])) for s in result), key=lambda r: -r[1])
    if not rows:
        return '<div class="stat" style="color:#888">No data</div>'
    top = max(v for _, v in rows) or 1
    decimals = panel["fieldConfig"]["defaults"].get("decimals", 0)
    out = []
    for name, value in rows[:8]:
        c = threshold_color(panel, value) if len(panel["fieldConfig"]["defaults"]["thresholds"]
                                                 ["steps"]) > 1 else "#5794f2"
        out.append(f'<div class="bar"><div class="bar-name">{html.escape(name)}</div>'
                   f'<div class="bar-track"><div class="bar-fill" style="width:'
                   f'{max(value, 0) / top * 100:.1f}%;background:linear-gradient(90deg,{c}55,{c})">'
                   f'</div></div><div class="bar-value" style="color:{c}">{value:.{decimals}f}'
                   '</div></div>')
    return "".join(out)


def render(stack, dashboard, start, end, out_html):
    col, row_h, width = 1600 / 24, 30, 1600
    boxes = []
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        x, y, w, h = g["x"] * col, g["y"] * row_h, g["w"] * col - 6, g["h"] * row_h - 6
        if panel["type"] == "row":
            boxes.append(f'<div class="row" style="left:{x}px;top:{y}px;width:{w}px">'
                         f'{html.escape(panel["title"])}</div>')
            continue
        if panel["type"] == "timeseries":
            # Bars show increase() per window: one bar per window, not overlapping ones.
            bars = panel["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "bars"
            results = [(t, prom(stack, "query_range", query=expand(t["expr"], end - start),
                                start=start, end=end, step=10 if bars else 2))
                       for t in panel["targets"]]
            body = draw_timeseries(panel, results, start, end, int(w) - 12, int(h) - 34)
        else:
            result = prom(stack, "query", query=expand(panel["targets"][0]["expr"], end - start),
                          time=end)
            body = (draw_stat(panel, result, end) if panel["type"] == "stat"
                    else draw_bargauge(panel, result, w))
        boxes.append(f'<div class="panel" style="left:{x}px;top:{y}px;width:{w}px;height:{h}px">'
                     f'<div class="title">{html.escape(panel["title"])}</div>{body}</div>')
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"]) * row_h
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin:0; background:#111217; font-family:'DejaVu Sans',sans-serif; color:#ccccdc; }}
.head {{ padding:10px 14px; font-size:18px; }} .head span {{ color:#9fa7b3; font-size:13px; }}
.grid {{ position:relative; margin:0 8px; height:{height}px; }}
.panel {{ position:absolute; background:#181b1f; border:1px solid #2c3235; border-radius:3px;
          padding:6px; box-sizing:border-box; overflow:hidden; }}
.title {{ font-size:13px; font-weight:600; margin:0 0 6px 4px; }}
.row {{ position:absolute; font-size:15px; font-weight:600; padding-top:6px; }}
.stat {{ font-size:34px; font-weight:600; text-align:center; margin-top:14px; }}
.bar {{ display:flex; align-items:center; margin:3px 4px; font-size:11px; }}
.bar-name {{ width:38%; overflow:hidden; white-space:nowrap; text-overflow:ellipsis; }}
.bar-track {{ flex:1; height:14px; background:#22252b; margin:0 6px; }}
.bar-fill {{ height:100%; }} .bar-value {{ width:44px; text-align:right; font-weight:600; }}
</style></head><body><div class="head">moat <span>— deploy/grafana/moat-dashboard.json,
drawn from a real moat scraped by Prometheus (no Grafana): job=moat, last
{int((end - start) / 60)} minutes</span></div><div class="grid">{"".join(boxes)}</div>
</body></html>"""
    with open(out_html, "w") as f:
        f.write(page)
    return width + 16, height + 50


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--out", default=os.path.join(HERE, "dashboard.png"))
    args = parser.parse_args()
    with open(os.path.join(HERE, "moat-dashboard.json")) as f:
        dashboard = json.load(f)
    workdir = tempfile.mkdtemp(prefix="moat-render-")
    try:
        stack = Stack(workdir)
        try:
            stack.launch()
            start = time.time()
            end = drive(stack, args.seconds)
            page = os.path.join(workdir, "dashboard.html")
            width, height = render(stack, dashboard, start, end, page)
        finally:
            stack.stop()
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--hide-scrollbars",
                        f"--window-size={width},{height}", f"--screenshot={args.out}",
                        f"file://{page}"],
                       check=True, capture_output=True, timeout=120)
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(Certs.get(), ignore_errors=True)


if __name__ == "__main__":
    main()
