"""Helpers for check_observability.sh: what the Grafana dashboard and the alert rules
reference, the dashboard's queries as PromQL promtool can parse, and a scrape of a
running moat. Standard library only."""

import argparse
import json
import re
import sys
import time
import urllib.request

# Metric names as the dashboard and alerts spell them. A histogram is referenced through
# its _bucket, _sum or _count series; the exposition has those series, and a family
# (# TYPE line) under the base name.
NAME = re.compile(r"\b(?:moat|process)_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# Grafana's variables and macros, replaced by values any Prometheus accepts.
GRAFANA_MACROS = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$job": "moat",
    "$instance": ".*",
}


# A selector with label matchers, and one matcher in it.
SELECTOR = re.compile(r"\b((?:moat|process)_[a-z_]+)\{([^{}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
# Labels Prometheus adds when it scrapes: not in the exposition.
TARGET_LABELS = {"job", "instance"}


def file_text(path):
    """The text to search: a JSON file's strings, decoded (so \\" is "); others as is."""
    with open(path) as f:
        if not path.endswith(".json"):
            return f.read()
        strings = []

        def walk(value):
            if isinstance(value, str):
                strings.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
        walk(json.load(f))
        return "\n".join(strings)


def referenced_names(paths):
    names = set()
    for path in paths:
        names.update(NAME.findall(file_text(path)))
    return names


def referenced_matchers(paths):
    """{(metric, label, op, value)} of every label matcher on a moat or process metric."""
    found = set()
    for path in paths:
        for metric, inside in SELECTOR.findall(file_text(path)):
            for label, op, value in MATCHER.findall(inside):
                found.add((metric, label, op, value))
    return found


def exposition_labels(text):
    """{sample name: {label: {values}}} of a Prometheus text exposition."""
    labels = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        name = name.split(" ")[0]
        entry = labels.setdefault(name, {})
        if rest:
            for label, value in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest.rpartition("}")[0]):
                entry.setdefault(label, set()).add(value)
    return labels


def exposition_names(text):
    """(sample names, {family: type}) of a Prometheus text exposition."""
    samples, families = set(), {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            families[family] = kind.strip()
        elif line and not line.startswith("#"):
            samples.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return samples, families


def is_exported(name, samples, families):
    if name in samples or name in families:
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def dashboard_exprs(dashboard):
    """(where, expr) for every query: panel targets, nested row panels, annotations and
    template variables."""
    found = []

    def walk_panels(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f"panel {panel.get('title')!r} {target.get('refId')}",
                                  target["expr"]))
            walk_panels(panel.get("panels", []))

    walk_panels(dashboard.get("panels", []))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            found.append((f"annotation {annotation.get('name')!r}", annotation["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        match = re.fullmatch(r"label_values\((.*),\s*\w+\)", query or "")
        if match:  # label_values(SELECTOR, label) is Grafana's; SELECTOR is PromQL
            found.append((f"variable {variable.get('name')!r}", match.group(1)))
    return found


def expand_macros(expr):
    for macro in sorted(GRAFANA_MACROS, key=len, reverse=True):
        expr = expr.replace(macro, GRAFANA_MACROS[macro])
    return expr


def cmd_promql_rules(args):
    """Writes the dashboard's queries as recording rules, for `promtool check rules`."""
    with open(args.dashboard) as f:
        dashboard = json.load(f)
    lines = ["groups:", "  - name: dashboard-queries", "    rules:"]
    for i, (where, expr) in enumerate(dashboard_exprs(dashboard)):
        lines.append(f"      # {where}")
        lines.append(f"      - record: dashboard_query_{i}")
        lines.append(f"        expr: {json.dumps(expand_macros(expr))}")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


def cmd_check_dashboard(args):
    """The structure Grafana's import needs: the datasource input, unique panel ids,
    panels inside the 24-column grid and not on top of each other."""
    with open(args.dashboard) as f:
        dashboard = json.load(f)
    problems = []
    inputs = [i.get("name") for i in dashboard.get("__inputs", [])]
    if "DS_PROMETHEUS" not in inputs:
        problems.append("no DS_PROMETHEUS in __inputs")
    if not 36 <= dashboard.get("schemaVersion", 0) <= 39:
        problems.append(f"schemaVersion {dashboard.get('schemaVersion')} (want ~38)")
    if not dashboard.get("uid") or not dashboard.get("title"):
        problems.append("no uid or title")
    ids, cells = set(), {}
    for panel in dashboard.get("panels", []):
        title = panel.get("title")
        if panel.get("id") in ids:
            problems.append(f"panel {title!r}: duplicate id {panel.get('id')}")
        ids.add(panel.get("id"))
        grid = panel.get("gridPos", {})
        x, y, w, h = (grid.get(k, -1) for k in ("x", "y", "w", "h"))
        if min(x, y) < 0 or w <= 0 or h <= 0 or x + w > 24:
            problems.append(f"panel {title!r}: gridPos {grid}")
        for cx in range(max(x, 0), max(x, 0) + max(w, 0)):
            for cy in range(max(y, 0), max(y, 0) + max(h, 0)):
                if (cx, cy) in cells:
                    problems.append(f"panel {title!r} overlaps {cells[(cx, cy)]!r}")
                    break
                cells[(cx, cy)] = title
            else:
                continue
            break
        if panel.get("type") != "row":
            if panel.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
                problems.append(f"panel {title!r}: datasource is not ${{DS_PROMETHEUS}}")
            if not panel.get("targets"):
                problems.append(f"panel {title!r}: no query")
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
                    problems.append(f"panel {title!r} {target.get('refId')}: datasource")
    for problem in problems:
        print(problem)
    print(f"{len(dashboard.get('panels', []))} panels, {len(dashboard_exprs(dashboard))} queries")
    return 1 if problems else 0


def cmd_scrape(args):
    """Polls URL until it answers 200 (bounded), writes the body to OUT."""
    deadline = time.monotonic() + args.timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(args.url, timeout=2) as response:
                if response.status == 200:
                    with open(args.out, "w") as f:
                        f.write(response.read().decode())
                    return 0
        except OSError as error:
            last_error = error
        time.sleep(0.05)
    print(f"no answer from {args.url} within {args.timeout}s: {last_error}")
    return 1


def matcher_problems(matchers, exported):
    """Label names a metric does not have, and label values (= and !=, not regexes) it
    never takes: label values come from closed enums, so a typo there matches nothing
    forever and an alert on it can never fire."""
    problems = []
    for metric, label, op, value in sorted(matchers):
        if label in TARGET_LABELS or metric not in exported:
            continue
        values = exported[metric].get(label)
        if values is None:
            problems.append(f"{metric} has no label {label!r} ({label}{op}\"{value}\")")
        elif op in ("=", "!=") and "$" not in value and value not in values:
            problems.append(f"{metric}{{{label}{op}\"{value}\"}}: {label} is one of "
                            f"{', '.join(sorted(values))}")
    return problems


def cmd_missing(args):
    """Fails if a metric named in FILES is not in the scraped exposition, or a label
    matcher on it names a label or a value the exposition does not have."""
    with open(args.scrape) as f:
        text = f.read()
    samples, families = exposition_names(text)
    names = referenced_names(args.files)
    missing = sorted(n for n in names if not is_exported(n, samples, families))
    for name in missing:
        print(f"referenced but not exported: {name}")
    bad_matchers = matcher_problems(referenced_matchers(args.files), exposition_labels(text))
    for problem in bad_matchers:
        print(f"label matcher matches nothing: {problem}")
    failed = bool(missing or bad_matchers)
    if not args.report_unused:
        return 1 if failed else 0
    bases = set()
    for name in names:
        base = name
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
                base = name[: -len(suffix)]
        bases.add(base)
    unused = sorted(f for f in families if f not in bases and f + "_total" not in bases)
    print(f"info: {len(names)} metric names referenced, "
          f"{len(referenced_matchers(args.files))} label matchers; "
          f"exported but referenced nowhere: {', '.join(unused) or 'none'}")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("promql-rules")
    p.add_argument("dashboard")
    p.add_argument("out")
    p.set_defaults(run=cmd_promql_rules)
    p = sub.add_parser("check-dashboard")
    p.add_argument("dashboard")
    p.set_defaults(run=cmd_check_dashboard)
    p = sub.add_parser("scrape")
    p.add_argument("url")
    p.add_argument("out")
    p.add_argument("--timeout", type=float, default=15)
    p.set_defaults(run=cmd_scrape)
    p = sub.add_parser("missing")
    p.add_argument("scrape")
    p.add_argument("files", nargs="+")
    p.add_argument("--report-unused", action="store_true",
                   help="also list exported families that no file references")
    p.set_defaults(run=cmd_missing)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
