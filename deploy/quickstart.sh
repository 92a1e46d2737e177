#!/usr/bin/env bash
# Runs moat in front of a demo mosquitto, both on loopback, until Ctrl-C:
#
#   client --TLS :8883--> moat --TCP :1883--> mosquitto
#
# Installs missing Debian packages (deploy/install-deps.sh), builds moat (Release), makes
# development certificates (certs/make-dev-certs.sh), a password file with one user,
# "demo", and an ACL that lets demo use demo/# and nothing else; writes a mosquitto config
# and a moat config (from deploy/quickstart.yaml) into a state folder and starts both.
# Then it shows what moat does: demo logs in, a publish to demo/hello is delivered, a
# publish to plant/valve is refused, and the refusal is counted in /metrics. It prints the
# commands to try yourself, and moat's log follows on stderr.
#
#   deploy/quickstart.sh [--no-build]
#
#   --no-build            reuse the moat already built (skips install-deps when mosquitto
#                         and openssl are there, and the cmake build)
#   MOAT_QUICKSTART_DIR   state folder (default ~/.cache/moat-quickstart)
#   MOAT_BROKER_PORT      mosquitto's loopback port (default 1883)
#   MOAT_TLS_PORT         moat's TLS listener port (default 8883)
#   MOAT_METRICS_PORT     moat's metrics port (default 9100)
#   MOAT_BUILD_DIR        cmake build folder (default build-release, apart from the tests' build)
#   MOAT_BIN              use this moat binary instead of looking in MOAT_BUILD_DIR
#   MOAT_READY_TIMEOUT    seconds to wait for each server to accept (default 30)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

state_dir="${MOAT_QUICKSTART_DIR:-$HOME/.cache/moat-quickstart}"
broker_port="${MOAT_BROKER_PORT:-1883}"
tls_port="${MOAT_TLS_PORT:-8883}"
metrics_port="${MOAT_METRICS_PORT:-9100}"
build_dir="${MOAT_BUILD_DIR:-build-release}"
ready_timeout="${MOAT_READY_TIMEOUT:-30}"
build=true

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

say() { echo "quickstart: $*"; }
die() {
  echo "quickstart: $*" >&2
  exit 1
}

while (($# > 0)); do
  case "$1" in
    --no-build) build=false ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
  shift
done

for var in MOAT_BROKER_PORT:"$broker_port" MOAT_TLS_PORT:"$tls_port" \
  MOAT_METRICS_PORT:"$metrics_port"; do
  value="${var#*:}"
  if [[ ! "$value" =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
    die "${var%%:*}=$value is not a port number"
  fi
done
[[ "$broker_port" != "$tls_port" && "$broker_port" != "$metrics_port" &&
  "$tls_port" != "$metrics_port" ]] ||
  die "MOAT_BROKER_PORT, MOAT_TLS_PORT and MOAT_METRICS_PORT must differ"
[[ "$ready_timeout" =~ ^[0-9]+$ ]] || die "MOAT_READY_TIMEOUT=$ready_timeout is not a number"

# --- children and their clean-up ---------------------------------------------------
moat_pid=""
broker_pid=""
tail_pid=""

# stop PID: SIGTERM, up to 10 s to exit (moat drains sessions), then SIGKILL; reaps it.
# stop and cleanup run from the EXIT trap, which shellcheck 0.9 cannot follow.
# shellcheck disable=SC2317
stop() {
  local pid="$1" deadline=$((SECONDS + 10))
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317
cleanup() {
  local status=$?
  trap - INT TERM EXIT
  if [[ -n "$moat_pid$broker_pid" ]]; then
    say "stopping moat and mosquitto"
  fi
  stop "$moat_pid"
  stop "$tail_pid"
  stop "$broker_pid"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- dependencies and build --------------------------------------------------------
find_mosquitto() {
  command -v mosquitto || { [[ -x /usr/sbin/mosquitto ]] && echo /usr/sbin/mosquitto; }
}

if [[ "$build" == true ]] || ! find_mosquitto >/dev/null || ! command -v openssl >/dev/null; then
  deploy/install-deps.sh
fi
mosquitto_bin="$(find_mosquitto)" || die "mosquitto is not installed (deploy/install-deps.sh)"

if [[ "$build" == true ]]; then
  say "building moat in $build_dir"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOAT_TESTS=OFF -DMOAT_BENCHMARKS=OFF
  cmake --build "$build_dir" --target moat
fi

if [[ -n "${MOAT_BIN:-}" ]]; then
  moat_bin="$MOAT_BIN"
elif [[ -x "$build_dir/proxy/moat" ]]; then
  moat_bin="$build_dir/proxy/moat"
else
  moat_bin="$(find "$build_dir" -maxdepth 3 -type f -name moat -perm -u+x 2>/dev/null |
    head -n 1 || true)"
fi
[[ -n "$moat_bin" && -x "$moat_bin" ]] ||
  die "no moat executable in $build_dir/ (run without --no-build, or set MOAT_BIN)"
moat_bin="$(cd "$(dirname "$moat_bin")" && pwd)/$(basename "$moat_bin")"

# --- state folder: certificates and configs ----------------------------------------
mkdir -p "$state_dir"
chmod 700 "$state_dir"
state_dir="$(cd "$state_dir" && pwd)"
# The paths go into double-quoted YAML scalars.
[[ "$state_dir" != *[\"\\$'\n']* ]] ||
  die "MOAT_QUICKSTART_DIR must not contain quotes, backslashes or newlines"
cert_dir="$state_dir/certs"
certs/make-dev-certs.sh "$cert_dir"

# One user with a fresh password each run, and the ACL that is all it may do.
password="$(openssl rand -hex 8)"
rm -f "$state_dir/passwd"
printf '%s\n' "$password" | "$moat_bin" passwd "$state_dir/passwd" demo >/dev/null
printf '%s\n' "# Written by deploy/quickstart.sh. What no line grants is denied." \
  "user demo" "topic readwrite demo/#" >"$state_dir/acl"

port_open() { timeout 0.2 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }

if port_open "$broker_port"; then
  die "port $broker_port on 127.0.0.1 is taken (the Debian mosquitto service listens there" \
    "once installed). Stop it (sudo systemctl stop mosquitto) or pick another port:" \
    "MOAT_BROKER_PORT=11883 $0"
fi
if port_open "$tls_port"; then
  die "port $tls_port on 127.0.0.1 is taken; pick another: MOAT_TLS_PORT=18883 $0"
fi
if port_open "$metrics_port"; then
  die "port $metrics_port on 127.0.0.1 is taken (node_exporter's default too); pick another:" \
    "MOAT_METRICS_PORT=19100 $0"
fi

cat >"$state_dir/mosquitto.conf" <<EOF
# Written by deploy/quickstart.sh: the legacy broker moat shields, on loopback only.
per_listener_settings false
listener $broker_port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
EOF

# The template minus its leading comment, placeholders replaced. Quoting each
# replacement keeps bash 5.2 from reading '&' in it as "the matched text".
config="# Written by deploy/quickstart.sh from deploy/quickstart.yaml; rewritten on each run."
in_header=true
while IFS= read -r line || [[ -n "$line" ]]; do
  if [[ "$in_header" == true && ("$line" == \#* || -z "$line") ]]; then
    continue
  fi
  in_header=false
  line="${line//@STATE_DIR@/"$state_dir"}"
  line="${line//@CERT_DIR@/"$cert_dir"}"
  line="${line//@TLS_PORT@/"$tls_port"}"
  line="${line//@BROKER_PORT@/"$broker_port"}"
  line="${line//@METRICS_PORT@/"$metrics_port"}"
  [[ ! "$line" =~ @[A-Z_]+@ ]] || die "deploy/quickstart.yaml: unknown placeholder in: $line"
  config+=$'\n'"$line"
done <deploy/quickstart.yaml
printf '%s\n' "$config" >"$state_dir/moat.yaml"

# --- start ---------------------------------------------------------------------------
# wait_ready NAME PID PORT LOG: polls PORT until it accepts; fails if PID exits first.
wait_ready() {
  local name="$1" pid="$2" port="$3" log="$4" deadline=$((SECONDS + ready_timeout)) status
  until port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      status=0
      wait "$pid" || status=$?
      echo "quickstart: $name exited with status $status before accepting on port $port;" \
        "its log ($log):" >&2
      cat "$log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "quickstart: $name did not accept on port $port within ${ready_timeout}s;" \
        "its log ($log):" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
}

say "starting mosquitto on 127.0.0.1:$broker_port (log: $state_dir/mosquitto.log)"
"$mosquitto_bin" -c "$state_dir/mosquitto.conf" </dev/null 2>"$state_dir/mosquitto.log" &
broker_pid=$!
wait_ready mosquitto "$broker_pid" "$broker_port" "$state_dir/mosquitto.log" || exit 1

say "starting $moat_bin --config $state_dir/moat.yaml"
"$moat_bin" --config "$state_dir/moat.yaml" </dev/null 2>"$state_dir/moat.log" &
moat_pid=$!
wait_ready moat "$moat_pid" "$tls_port" "$state_dir/moat.log" || exit 1

ca="$(printf '%q' "$cert_dir/ca.crt")"
client=(--cafile "$cert_dir/ca.crt" -h localhost -p "$tls_port" -u demo -P "$password")

# --- what moat does -------------------------------------------------------------------
say "demo logs in and subscribes to demo/#; a publish to demo/hello goes through:"
mosquitto_sub "${client[@]}" -t 'demo/#' -v -C 1 -W 10 >"$state_dir/received" &
sub_pid=$!
# Published until the subscriber has it: the SUBSCRIBE may reach the broker after the
# first PUBLISH does.
for _ in $(seq 50); do
  mosquitto_pub "${client[@]}" -t demo/hello -m 'hello through moat'
  kill -0 "$sub_pid" 2>/dev/null || break
  sleep 0.2
done
wait "$sub_pid" 2>/dev/null || true
received="$(cat "$state_dir/received")"
[[ -n "$received" ]] || die "the subscriber received nothing; moat's log: $state_dir/moat.log"
echo "  received: $received"

say "a publish to plant/valve, which the ACL does not grant, is refused (MQTT 5 PUBACK 0x87):"
refusal="$(mosquitto_pub "${client[@]}" -V mqttv5 -q 1 -t plant/valve -m open 2>&1 || true)"
echo "  ${refusal:-no refusal reported}"

say "and counted in /metrics:"
python3 -c '
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read()
for line in text.decode().splitlines():
    if line.startswith("moat_denials_total") and not line.endswith(" 0"):
        print("  " + line)
' "$metrics_port"

cat <<EOF

moat is ready: TLS on 127.0.0.1:$tls_port -> mosquitto on 127.0.0.1:$broker_port
User demo, password $password (made for this run). Try it yourself:

  mosquitto_sub --cafile $ca -h localhost -p $tls_port -u demo -P $password -t 'demo/#' -v
  mosquitto_pub --cafile $ca -h localhost -p $tls_port -u demo -P $password -t demo/hello -m hi
  mosquitto_pub --cafile $ca -h localhost -p $tls_port -u demo -P $password -V mqttv5 -q 1 \\
    -t plant/valve -m open    # refused: $state_dir/acl does not grant it
  curl -s http://127.0.0.1:$metrics_port/metrics | grep moat_denials_total

Config: $state_dir/moat.yaml   ACL: $state_dir/acl   Certificates: $cert_dir
Ctrl-C stops moat and mosquitto. moat's log follows.

EOF

tail -n +1 -f --pid="$moat_pid" "$state_dir/moat.log" >&2 &
tail_pid=$!

# Runs until Ctrl-C (the INT trap) or until either server exits on its own.
status=0
exited=""
wait -n -p exited "$moat_pid" "$broker_pid" || status=$?
if [[ "$exited" == "$moat_pid" ]]; then
  moat_pid=""
  say "moat exited with status $status"
  exit "$status"
fi
broker_pid=""
cat "$state_dir/mosquitto.log" >&2
die "mosquitto exited with status $status; its log ($state_dir/mosquitto.log) is above"
