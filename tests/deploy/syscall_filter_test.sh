#!/usr/bin/env bash
# moat.service's sandbox must not break moat. There is no systemd to run the unit under
# here, so this runs moat the way the unit does (unprivileged user, LimitNOFILE) under
# strace, with real traffic, and checks every system call, socket family and memory
# mapping it makes against what the unit allows:
#
#   SystemCallFilter=          each call is in the allow-list minus the ~deny-lists
#                              (expanded with `systemd-analyze syscall-filter`)
#   RestrictAddressFamilies=   each socket() family is listed
#   MemoryDenyWriteExecute=    no writable+executable mapping, no mprotect to executable
#
# Traffic, in a private network namespace: mosquitto on 127.0.0.1:1883, moat (TLS) in
# front of it; `moat --check-config` (ExecStartPre), a subscriber and a publisher with a
# password, a wrong password, GET /metrics /healthz /readyz, SIGHUP, SIGTERM (exit 0).
#
#   tests/deploy/syscall_filter_test.sh UNIT_FILE MOAT_BIN
#
# Needs root, strace, mosquitto, mosquitto-clients, openssl, systemd (systemd-analyze).
set -euo pipefail

unit="${1:?usage: syscall_filter_test.sh UNIT_FILE MOAT_BIN}"
moat_bin="$(realpath "${2:?usage: syscall_filter_test.sh UNIT_FILE MOAT_BIN}")"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly kUser=nobody

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
say() { echo "syscall_filter_test: $*"; }

((EUID == 0)) || fail "needs root (network namespace, strace -u)"
find_mosquitto() {
  command -v mosquitto || { [[ -x /usr/sbin/mosquitto ]] && echo /usr/sbin/mosquitto; }
}
mosquitto_bin="$(find_mosquitto)" || fail "mosquitto not found (deploy/install-deps.sh)"
for tool in strace systemd-analyze mosquitto_pub mosquitto_sub openssl unshare; do
  command -v "$tool" >/dev/null || fail "$tool not found (deploy/install-deps.sh)"
done

work="$(mktemp -d)"
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

# --- what the unit allows --------------------------------------------------------------
# unit_values KEY: the values of every KEY= line of the unit, one line each.
unit_values() { sed -n "s/^[[:space:]]*$1=//p" "$unit"; }

# expand NAME...: syscall names, with @groups expanded recursively.
expand() {
  local name
  for name in "$@"; do
    if [[ "$name" == @* ]]; then
      # shellcheck disable=SC2046  # one word per syscall or group
      expand $(systemd-analyze syscall-filter "$name" |
        sed -e '1d' -e 's/#.*//' -e 's/^[[:space:]]*//' | grep -v '^$' || true)
    else
      echo "$name"
    fi
  done
}

allow=()
deny=()
while IFS= read -r line; do
  [[ -n "$line" ]] || continue
  if [[ "$line" == "~"* ]]; then
    read -r -a words <<<"${line#\~}"
    deny+=("${words[@]}")
  else
    ((${#deny[@]} == 0)) || fail "an allow-list SystemCallFilter= after a deny-list one"
    read -r -a words <<<"$line"
    allow+=("${words[@]}")
  fi
done < <(unit_values SystemCallFilter)
((${#allow[@]} > 0)) || fail "$unit has no allow-list SystemCallFilter="
expand "${allow[@]}" | sort -u >"$work/allowed.in"
expand "${deny[@]}" | sort -u >"$work/denied"
comm -23 "$work/allowed.in" "$work/denied" >"$work/allowed"
say "$(wc -l <"$work/allowed") system calls allowed by $(basename "$unit")"

read -r -a families <<<"$(unit_values RestrictAddressFamilies | tr '\n' ' ')"
((${#families[@]} > 0)) || fail "$unit has no RestrictAddressFamilies="
mdwe="$(unit_values MemoryDenyWriteExecute | tail -n 1)"
limit_nofile="$(unit_values LimitNOFILE | tail -n 1)"

# --- the run ---------------------------------------------------------------------------
"$repo/certs/make-dev-certs.sh" "$work/certs" >/dev/null
chmod 644 "$work"/certs/*
printf 'secret\n' | "$moat_bin" passwd "$work/passwd" alice >/dev/null
chmod 644 "$work/passwd"
printf 'user alice\ntopic readwrite demo/#\n' >"$work/acl"
chmod 644 "$work/acl"
cat >"$work/moat.yaml" <<EOF
listeners:
  - bind: "127.0.0.1:8883"
    tls:
      cert: $work/certs/server.crt
      key: $work/certs/server.key
upstream:
  address: "127.0.0.1:1883"
auth:
  password_file: $work/passwd
  allow_anonymous: false
  failure_delay: 100ms
policy:
  acl_file: $work/acl
metrics:
  bind: "127.0.0.1:9100"
limits:
  drain_timeout: 2s
EOF
cat >"$work/mosquitto.conf" <<EOF
listener 1883 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
EOF

cat >"$work/run.sh" <<'EOF'
set -euo pipefail
work="$1" moat="$2" mosquitto="$3" user="$4" nofile="$5"
ip link set lo up
# LimitNOFILE= sets soft and hard; without CAP_SYS_RESOURCE stay at the hard limit.
hard="$(ulimit -Hn)"
[[ -z "$nofile" ]] || ulimit -n "$([[ "$hard" == unlimited ]] || ((nofile < hard)) && echo "$nofile" || echo "$hard")"
port_open() { timeout 0.2 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }
wait_port() {  # wait_port PORT PID LOG
  local deadline=$((SECONDS + 20))
  until port_open "$1"; do
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; echo "exited before port $1" >&2; exit 1; }
    ((SECONDS < deadline)) || { cat "$3" >&2; echo "port $1 not open" >&2; exit 1; }
    sleep 0.1
  done
}
trace() { strace -f -qq -s 32 -u "$user" -o "$@"; }

trace "$work/trace.check" "$moat" --check-config "$work/moat.yaml"

"$mosquitto" -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
broker=$!
wait_port 1883 "$broker" "$work/mosquitto.log"

# strace exits with moat's status; signals go to moat itself, strace's child.
strace -f -qq -s 32 -u "$user" -o "$work/trace.run" "$moat" --config "$work/moat.yaml" \
  2>"$work/moat.log" &
strace_pid=$!
wait_port 8883 "$strace_pid" "$work/moat.log"
moat_pid="$(cat "/proc/$strace_pid/task/$strace_pid/children")"
moat_pid="${moat_pid%% *}"

tls=(--cafile "$work/certs/ca.crt" -h localhost -p 8883)
mosquitto_sub "${tls[@]}" -u alice -P secret -t demo/t -C 1 -W 10 >"$work/received" &
sub=$!
sleep 1
mosquitto_pub "${tls[@]}" -u alice -P secret -t demo/t -m hello
wait "$sub" || { cat "$work/moat.log" >&2; echo "subscriber got nothing" >&2; exit 1; }
grep -qx hello "$work/received"
if mosquitto_pub "${tls[@]}" -u alice -P wrong -t demo/t -m x 2>/dev/null; then
  echo "a wrong password was let in" >&2
  exit 1
fi
if port_open 9100; then
  for path in /metrics /healthz /readyz; do
    exec 3<>/dev/tcp/127.0.0.1/9100
    printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
    timeout 5 cat <&3 >/dev/null || true
    exec 3<&-
  done
else
  echo "note: this moat does not serve metrics.bind; the metrics endpoint is not covered" >&2
fi
kill -HUP "$moat_pid"
sleep 0.5
kill -0 "$moat_pid" || { cat "$work/moat.log" >&2; echo "moat died on SIGHUP" >&2; exit 1; }
kill -TERM "$moat_pid"
status=0
wait "$strace_pid" || status=$?
kill "$broker"
wait "$broker" || true
((status == 0)) || { cat "$work/moat.log" >&2; echo "moat exited $status" >&2; exit 1; }
EOF
say "moat under strace as $kUser, with traffic, in a network namespace"
# Own PID namespace too: when run.sh ends, for any reason, everything it started dies.
unshare -n -p -f --mount-proc --kill-child bash ${MOAT_TEST_TRACE:+-x} "$work/run.sh" "$work" "$moat_bin" "$mosquitto_bin" "$kUser" "$limit_nofile" ||
  { tail -n 20 "$work/moat.log" "$work/mosquitto.log" >&2; fail "the traced run failed"; }

# --- the verdict -----------------------------------------------------------------------
# Only what happens from moat's own execve on counts (strace -u switches user before).
from_exec() { awk '/execve\(/ && !seen { seen = 1 } seen' "$1"; }
{
  from_exec "$work/trace.check"
  from_exec "$work/trace.run"
} >"$work/trace"
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p; s/^[0-9]+ +<\.\.\. ([a-z0-9_]+) resumed>.*/\1/p' \
  "$work/trace" | sort -u >"$work/used"
say "moat made $(wc -l <"$work/used") distinct system calls"
comm -23 "$work/used" "$work/allowed" >"$work/refused"
if [[ -s "$work/refused" ]]; then
  while read -r call; do
    echo "  $call, e.g.: $(grep -m 1 -E "^[0-9]+ +$call\(" "$work/trace")" >&2
  done <"$work/refused"
  fail "moat.service's SystemCallFilter= would refuse: $(tr '\n' ' ' <"$work/refused")"
fi

sed -nE 's/^[0-9]+ +socket\((AF_[A-Z0-9]+),.*/\1/p' "$work/trace" | sort -u >"$work/families"
while read -r family; do
  [[ " ${families[*]} " == *" $family "* ]] ||
    fail "moat opens $family sockets, not in RestrictAddressFamilies=${families[*]}"
done <"$work/families"
say "socket families: $(tr '\n' ' ' <"$work/families")"

if [[ "$mdwe" == yes || "$mdwe" == true ]]; then
  if grep -E '^[0-9]+ +(mmap|mprotect|pkey_mprotect)\(.*PROT_EXEC' "$work/trace" |
    grep -E 'PROT_WRITE|mprotect' >"$work/wx"; then
    cat "$work/wx" >&2
    fail "MemoryDenyWriteExecute=yes would refuse these"
  fi
fi
say "ok"
