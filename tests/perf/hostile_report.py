"""The markdown table of run_hostile_benchmark.py: quiet against attack for each moat
binary, the ratios, and whether each of issue 14's goals is met. Medians over repeats."""

from run_benchmark import format_cell, median_or_none

GOAL_THROUGHPUT = 0.9  # attack / quiet, at least
GOAL_P99 = 2.0  # attack / quiet, at most
GOAL_PEAK_MIB = 256  # below


def _honest(key):
    return lambda r: r["honest"][key]


def _cores(who):
    def get(r):
        watched = r["honest"]["watch"][who]
        return watched["cpu_s"] / r["honest"]["elapsed_s"] if watched["cpu_s"] >= 0 else None
    return get


def _mib(key):
    return lambda r: r[key] / 1024 if r.get(key) is not None else None


def _others(run):
    """What neither moat, the broker nor the generators used during the window; the
    attacker's share is its mean over its whole run, as it is not watched by the window."""
    others = run["honest"]["others_cpu_s"] / run["honest"]["elapsed_s"]
    if "attack" in run:
        others -= run["attack"]["cpu_s"] / run["attack"]["elapsed_s"]
    return others


def _attack(fn):
    return lambda r: fn(r["attack"]) if "attack" in r else None


# (label, value of one run, format, goal, goal met(quiet, attack), show attack/quiet)
ROWS = [
    ("honest throughput, msg/s", _honest("msgs_per_s"), "{:,.0f}",
     f"≥ {GOAL_THROUGHPUT}× quiet", lambda q, a: a / q >= GOAL_THROUGHPUT, True),
    ("honest latency p50, µs", _honest("p50_us"), "{:,.0f}", "", None, True),
    ("honest latency p99, µs", _honest("p99_us"), "{:,.0f}", f"≤ {GOAL_P99:g}× quiet",
     lambda q, a: 0 <= a <= GOAL_P99 * q, True),
    ("honest latency max, µs", _honest("max_us"), "{:,.0f}", "", None, True),
    ("honest sessions dropped", _honest("dropped"), "{:,.0f}", "0", lambda q, a: a == 0, False),
    ("honest messages not delivered", _honest("undelivered"), "{:,.0f}", "", None, False),
    ("newcomers that got in during the window", _honest("joiners_ok"), "{:,.0f}", "", None,
     False),
    ("slowest newcomer's connect to CONNACK, ms",
     lambda r: r["honest"]["joiner_max_s"] * 1e3 if r["honest"]["joiner_max_s"] >= 0 else None,
     "{:,.1f}", "", None, False),
    ("moat peak RSS (VmHWM), MiB", _mib("moat_peak_hwm_kb"), "{:,.0f}", f"< {GOAL_PEAK_MIB}",
     lambda q, a: a < GOAL_PEAK_MIB, False),
    ("moat RSS at the end of the window, MiB",
     lambda r: r["honest"]["watch"]["moat"]["rss_after_kb"] / 1024
     if r["honest"]["watch"]["moat"]["rss_after_kb"] > 0 else None, "{:,.0f}", "", None, False),
    ("moat RSS after the attack, settled, MiB", _mib("moat_rss_after_kb"), "{:,.0f}", "", None,
     False),
    ("moat CPU, cores", _cores("moat"), "{:.2f}", "", None, False),
    ("broker CPU, cores", _cores("broker"), "{:.2f}", "", None, False),
    ("honest generator CPU, cores",
     lambda r: r["honest"]["generator_cpu_s"] / r["honest"]["elapsed_s"], "{:.2f}", "", None,
     False),
    ("attacker CPU, cores", _attack(lambda a: a["cpu_s"] / a["elapsed_s"]), "{:.2f}", "", None,
     False),
    ("attack: trickling connections open at the end / at most",
     _attack(lambda a: (a["trickle"]["open_at_end"], a["trickle"]["peak_open"])), "{:,.0f}", "",
     None, False),
    ("attack: seconds until all trickled at once", _attack(lambda a: a["trickle_ramp_s"]),
     "{:.1f}", "", None, False),
    ("attack: stalled handshakes open at the end / at most",
     _attack(lambda a: (a["stall"]["open_at_end"], a["stall"]["peak_open"])), "{:,.0f}", "",
     None, False),
    ("attack: flood connections/s", _attack(lambda a: a["flood_per_s"]), "{:,.0f}", "", None,
     False),
    ("attack: garbage connections/s", _attack(lambda a: a["garbage_per_s"]), "{:,.0f}", "", None,
     False),
    ("other processes on the box, cores", lambda r: max(0.0, _others(r)), "{:.2f}", "", None,
     False),
]


def _value(run, fn):
    try:
        return fn(run)
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def _cell(value, fmt):
    if isinstance(value, (int, float)) and value < 0:
        value = None  # the generator's "none" (no latency samples, no newcomer got in)
    return format_cell(value, fmt)


def _status(runs):
    statuses = [r.get("moat_status") or f"run failed: {r.get('error', '?')[:80]}" for r in runs]
    return "; ".join(dict.fromkeys(statuses)) if statuses else "—"


def build_table(runs):
    targets = list(dict.fromkeys(r["target"] for r in runs))
    header = ["metric", "goal"]
    for t in targets:
        header += [f"{t} quiet", f"{t} attack", f"{t} attack/quiet", f"{t} met"]
    lines = ["| " + " | ".join(header) + " |", "| --- | --- |" + " ---: | ---: | ---: | :---: |"
             * len(targets)]
    grouped = {(t, load): [r for r in runs if r["target"] == t and r["load"] == load]
               for t in targets for load in ("quiet", "attack")}
    clients = next((r["honest"]["clients"] for r in runs if "honest" in r), None)
    joiners = next((r["honest"]["joiners"] for r in runs if "honest" in r), None)
    for label, fn, fmt, goal, met, ratio in ROWS:
        if label == "honest sessions dropped" and clients:
            label += f" (of {clients})"
        if label.startswith("newcomers") and joiners is not None:
            label += f" (of {joiners})"
        cells = [label, goal]
        for t in targets:
            quiet = median_or_none([_value(r, fn) for r in grouped[(t, "quiet")]])
            attack = median_or_none([_value(r, fn) for r in grouped[(t, "attack")]])
            numbers = isinstance(quiet, (int, float)) and isinstance(attack, (int, float))
            shown_ratio = "—"
            if ratio and numbers and quiet > 0 and attack >= 0:
                shown_ratio = f"{attack / quiet:.2f}×"
            verdict = "—"
            if met and isinstance(attack, (int, float)) and (numbers and quiet > 0 or
                                                             not ratio):
                verdict = "yes" if met(quiet, attack) else "**no**"
            cells += [_cell(quiet, fmt), _cell(attack, fmt), shown_ratio, verdict]
        lines.append("| " + " | ".join(cells) + " |")
    status = ["moat at the end", ""]
    for t in targets:
        status += [_status(grouped[(t, "quiet")]), _status(grouped[(t, "attack")]), "", ""]
    lines.append("| " + " | ".join(status) + " |")
    return "\n".join(lines)
