#!/usr/bin/env bash
# The drop-in shield, step by step: an existing, unauthenticated mosquitto is moved to
# loopback, moat takes over its public port with TLS, the users are migrated with
# `moat passwd`, an ACL is written, moat runs in audit mode first and then enforces.
# Everything happens in a scratch folder on loopback ports; the README walks through the
# same steps by hand. Exits non-zero if any step does not behave as described.
#
#   PUBLIC_PORT  the port clients already use (default: a free one; 8883 or 1883 in life)
#   BROKER_PORT  where the broker moves to, on 127.0.0.1 only (default: a free one)
#   MOAT_BIN     the moat binary (default: build/proxy/moat)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
public_port="${PUBLIC_PORT:-$(free_port)}"
broker_port="${BROKER_PORT:-$(free_port)}"
moat="${MOAT_BIN:-$repo/build/proxy/moat}"
mosquitto="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "walkthrough FAILED: $*" >&2; exit 1; }
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nothing listens on port $1"
}
start_broker() {  # start_broker PORT
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n' "$1" \
    >"$work/mosquitto.conf"
  "$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
  broker_pid=$!
  pids+=("$broker_pid")
  wait_port "$1"
}
start_moat() {
  "$moat" --config "$work/moat.yaml" >>"$work/moat.log" 2>&1 &
  moat_pid=$!
  pids+=("$moat_pid")
  wait_port "$public_port"
}
# Everything that reaches the broker below plant/, as a subscriber on the broker sees it.
watch_broker() {
  seen="$work/seen"
  mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t 'plant/#' -v >"$seen" 2>/dev/null &
  pids+=("$!")
  # mosquitto_sub says nothing once it has subscribed: publish probes straight to the
  # broker until one comes back; from then on, everything published reaches it.
  local deadline=$((SECONDS + 10)) probe=0
  until grep -q '^plant/probe ' "$seen"; do
    ((SECONDS < deadline)) || fail "the watcher on the broker never saw its probe"
    probe=$((probe + 1))
    mosquitto_pub -h 127.0.0.1 -p "$broker_port" -t plant/probe -m "$probe"
    sleep 0.1
  done
}
sent=0
# Publishes a new message through moat as USER; its line is then "$TOPIC $last_message".
publish_via_moat() {  # publish_via_moat USER PASSWORD TOPIC
  sent=$((sent + 1))
  last_message="from $1, message $sent"
  mosquitto_pub -h localhost -p "$public_port" --cafile "$work/certs/ca.crt" -V mqttv311 \
    -u "$1" -P "$2" -t "$3" -m "$last_message" -q 1 2>/dev/null || true
}
arrived() {  # arrived LINE: waits up to 10 s for the broker to deliver LINE
  local deadline=$((SECONDS + 10))
  until grep -qxF "$1" "$seen"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}
# Publishes through moat as USER and reports whether the broker got it.
reaches_broker() {  # reaches_broker USER PASSWORD TOPIC
  publish_via_moat "$@"
  arrived "$3 $last_message"
}
# Publishes through moat as USER, then an allowed marker: the broker keeps order, so once
# the marker is there, the first message is there too unless moat kept it out.
kept_out() {  # kept_out USER PASSWORD TOPIC MARKER_TOPIC
  publish_via_moat "$1" "$2" "$3"
  local line="$3 $last_message"
  reaches_broker "$1" "$2" "$4" || fail "the marker after the off-policy publish never arrived"
  ! grep -qxF "$line" "$seen"
}

step "1. Before: the legacy broker, open to anyone on port $public_port"
start_broker "$public_port"
mosquitto_pub -h 127.0.0.1 -p "$public_port" -t plant/line1/temp -m 21.5 ||
  fail "the legacy broker does not take anonymous publishes"
kill "$broker_pid"; wait "$broker_pid" 2>/dev/null || true

step "2. Move the broker to loopback, port $broker_port"
start_broker "$broker_port"

step "3. Certificates for moat (certs/make-dev-certs.sh; use your PKI in production)"
bash "$repo/certs/make-dev-certs.sh" "$work/certs" >/dev/null

step "4. Migrate the users with moat passwd"
for user in sensor-line1 scada; do
  printf '%s\n' "$user-password" | "$moat" passwd "$work/passwd" "$user"
done

step "5. Write the ACL (mosquitto acl_file format)"
cat >"$work/acl" <<'ACL'
# Sensors publish their own line's readings; SCADA reads everything below plant/.
user sensor-line1
topic write plant/line1/#

user scada
topic read plant/#
ACL

step "6. moat on the public port, TLS, audit mode first"
cat >"$work/moat.yaml" <<YAML
listeners:
  - bind: "127.0.0.1:$public_port"
    tls:
      cert: certs/server.crt
      key: certs/server.key
upstream:
  address: "127.0.0.1:$broker_port"
auth:
  password_file: passwd
  allow_anonymous: false
policy:
  acl_file: acl
  mode: audit
YAML
"$moat" --check-config "$work/moat.yaml"
watch_broker
start_moat
reaches_broker sensor-line1 sensor-line1-password plant/line1/temp ||
  fail "an allowed publish did not reach the broker"
reaches_broker sensor-line1 sensor-line1-password plant/line2/temp ||
  fail "audit mode refused a publish it should only have logged"
grep -q '"mode":"audit"' "$work/moat.log" || fail "audit mode logged no would-be denial"
echo "audit mode: the off-policy publish went through and was logged:"
grep '"mode":"audit"' "$work/moat.log" | head -1

step "7. Enforce"
sed -i 's/mode: audit/mode: enforce/' "$work/moat.yaml"
# A reload, not a restart: connected devices stay connected.
reloads="$(grep -c 'SIGHUP: reloaded' "$work/moat.log" || true)"
kill -HUP "$moat_pid"
deadline=$((SECONDS + 10))
until (($(grep -c 'SIGHUP: reloaded' "$work/moat.log" || true) > reloads)); do
  ((SECONDS < deadline)) || fail "moat did not reload the config: $(tail -3 "$work/moat.log")"
  sleep 0.1
done
reaches_broker sensor-line1 sensor-line1-password plant/line1/temp ||
  fail "an allowed publish did not reach the broker"
kept_out sensor-line1 sensor-line1-password plant/line2/temp plant/line1/temp ||
  fail "an off-policy publish reached the broker in enforce mode"
if mosquitto_pub -h 127.0.0.1 -p "$public_port" -t x -m anonymous 2>/dev/null; then
  fail "plain, anonymous MQTT still works on the public port"
fi
echo
echo "walkthrough passed: the broker is shielded"
