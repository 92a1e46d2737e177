#!/usr/bin/env bash
# Checks the observability deliverables (issue 7) against promtool and a running moat:
#   - deploy/prometheus/moat-alerts.yml passes `promtool check rules` and its unit tests
#     (moat-alerts.test.yml), and prometheus.yml passes `promtool check config`;
#   - deploy/grafana/moat-dashboard.json is JSON, has the structure Grafana imports, and
#     every query in it is PromQL that promtool parses;
#   - every moat_* and process_* metric the dashboard or the alerts name is exported by a
#     real moat (MOAT_BIN) in front of a real mosquitto, scraped from its metrics.bind,
#     and so is every label and label value their selectors match on (a typo in a closed
#     enum value would make an alert that can never fire).
# Prints one PASS/FAIL line per check and ends with `N passed, N failed`; exits 1 on any
# failure. Needs promtool (Debian's prometheus package: deploy/install-deps.sh).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The repo's own build (cmake -S . -B build), as ctest sets MOAT_BIN to the one it built.
moat_bin=${MOAT_BIN:-$repo/build/proxy/moat}
# MOAT_DASHBOARD and MOAT_ALERTS check other copies (the script's own negative tests).
dashboard=${MOAT_DASHBOARD:-$repo/deploy/grafana/moat-dashboard.json}
alerts=${MOAT_ALERTS:-$repo/deploy/prometheus/moat-alerts.yml}
alert_tests=$repo/deploy/prometheus/moat-alerts.test.yml
prometheus_config=$repo/deploy/prometheus/prometheus.yml
helper=$repo/tests/observability/observability.py

work=$(mktemp -d /tmp/moat-observability.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
# check NAME COMMAND...: runs COMMAND, prints its output only when it fails.
check() {
  local name=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    passed=$((passed + 1))
    echo "PASS $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/    /' "$work/out"
  fi
}

# require PROGRAM [HINT]
require() {
  if ! command -v "$1" >/dev/null && [[ ! -x "$1" ]]; then
    echo "$1 is missing: ${2:-run deploy/install-deps.sh}" >&2
    return 1
  fi
}

# --- Prometheus rules and config -------------------------------------------------------
check "promtool is installed" require promtool
check "alert rules: promtool check rules" promtool check rules "$alerts"
# The unit tests load moat-alerts.yml from their own folder, whatever MOAT_ALERTS says.
check "alert rules: promtool test rules (unit tests)" promtool test rules "$alert_tests"
check "prometheus.yml: promtool check config" promtool check config "$prometheus_config"

# --- Grafana dashboard -----------------------------------------------------------------
check "dashboard: valid JSON" python3 -m json.tool "$dashboard" /dev/null
check "dashboard: Grafana import structure" python3 "$helper" check-dashboard "$dashboard"
dashboard_promql() {
  python3 "$helper" promql-rules "$dashboard" "$work/dashboard-queries.yml" &&
    promtool check rules "$work/dashboard-queries.yml"
}
check "dashboard: every query parses as PromQL" dashboard_promql

# --- A real moat exports every metric referenced ----------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_moat() {
  require "$moat_bin" "build moat (cmake --build build --target moat), or set MOAT_BIN" || return 1
  local mosquitto
  mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  require "$mosquitto" || return 1
  bash "$repo/certs/make-dev-certs.sh" "$work/certs" >/dev/null || return 1
  broker_port=$(free_port)
  plain_port=$(free_port)
  tls_port=$(free_port)
  metrics_port=$(free_port)
  cat >"$work/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
persistence false
log_dest stderr
user root
listener $broker_port 127.0.0.1
CONF
  "$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
  pids+=($!)
  # A TLS listener, so that moat_certificate_expiry_timestamp_seconds has a series.
  cat >"$work/moat.yaml" <<CONF
listeners:
  - name: plain
    bind: "127.0.0.1:$plain_port"
  - name: tls
    bind: "127.0.0.1:$tls_port"
    tls:
      cert: $work/certs/server.crt
      key: $work/certs/server.key
upstream:
  address: "127.0.0.1:$broker_port"
auth:
  allow_anonymous: true
metrics:
  bind: "127.0.0.1:$metrics_port"
CONF
  "$moat_bin" --config "$work/moat.yaml" >"$work/moat.log" 2>&1 &
  pids+=($!)
  if ! python3 "$helper" scrape "http://127.0.0.1:$metrics_port/metrics" "$work/metrics.txt"; then
    echo "--- moat log"; cat "$work/moat.log"
    echo "--- mosquitto log"; cat "$work/mosquitto.log"
    return 1
  fi
}

check "moat starts and serves /metrics" start_moat
if [[ -s "$work/metrics.txt" ]]; then
  check "dashboard: every metric and label value it names is exported" \
    python3 "$helper" missing "$work/metrics.txt" "$dashboard"
  check "alerts: every metric and label value they name is exported" \
    python3 "$helper" missing "$work/metrics.txt" "$alerts"
  python3 "$helper" missing --report-unused "$work/metrics.txt" "$dashboard" "$alerts" |
    grep '^info:' 
else
  check "dashboard and alerts: metrics exported (no scrape)" false
fi

echo "$passed passed, $failed failed"
((failed == 0))
