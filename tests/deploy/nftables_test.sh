#!/usr/bin/env bash
# deploy/nftables/moat-appliance.nft: checked with `nft -c`, then loaded into a
# throw-away "appliance" network namespace joined by a veth pair to an "outside" one,
# where real connections show what it lets through:
#
#   outside 192.0.2.2 --veth--> appliance 192.0.2.1   listeners on :8883 and :1883
#
#   outside   -> :8883                     accepted (moat's TLS port)
#   outside   -> :1883, :22                dropped (time out, no answer)
#   moat user -> 127.0.0.1:1883, ::1:1883  accepted (moat reaching the broker)
#   moat user -> 192.0.2.1:1883            accepted (local address, goes over lo)
#   root      -> 127.0.0.1:1883, ::1:1883  refused (TCP reset)
#   root      -> 127.0.0.1:8883            accepted (local clients may use moat)
#   loading the file twice                 one table, same rules (idempotent)
#
# The addresses (TEST-NET-1) exist only inside the two namespaces this test makes and
# removes; nothing leaves the machine. The ruleset names the user "moat": the test runs
# nft in a mount namespace whose /etc/passwd has one, so the host needs none.
#
#   tests/deploy/nftables_test.sh RULESET
#
# Needs root, nft, ip, unshare, setpriv, python3 (deploy/install-deps.sh).
set -euo pipefail

ruleset="$(realpath "${1:?usage: nftables_test.sh RULESET}")"
readonly kMoatUid=64999  # the uid the fake /etc/passwd gives "moat"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
say() { echo "nftables_test: $*"; }

((EUID == 0)) || fail "needs root (network namespaces)"
for tool in nft ip unshare setpriv timeout; do
  command -v "$tool" >/dev/null || fail "$tool not found (deploy/install-deps.sh)"
done
python=/usr/bin/python3
[[ -x "$python" ]] || python="$(command -v python3)" || fail "python3 not found"

work="$(mktemp -d)"
suffix="$$"
appliance="moat-fw-app-$suffix"
outside="moat-fw-out-$suffix"
listener_pid=""
cleanup() {
  local rc=$?
  trap - EXIT
  [[ -z "$listener_pid" ]] || kill "$listener_pid" 2>/dev/null || true
  ip netns del "$appliance" 2>/dev/null || true
  ip netns del "$outside" 2>/dev/null || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

grep -v '^moat:' /etc/passwd >"$work/passwd"
echo "moat:x:$kMoatUid:$kMoatUid:moat:/nonexistent:/usr/sbin/nologin" >>"$work/passwd"
chmod 644 "$work/passwd"

# in_appliance CMD...: runs CMD in the appliance namespace, seeing the fake passwd file.
in_appliance() {
  # shellcheck disable=SC2016  # expanded by the inner sh
  unshare -m -- sh -c 'mount --bind "$0" /etc/passwd && exec "$@"' "$work/passwd" \
    ip netns exec "$appliance" "$@"
}

say "nft -c -f $ruleset"
# shellcheck disable=SC2016  # expanded by the inner sh
unshare -rnm -- sh -c 'mount --bind "$0" /etc/passwd && nft -c -f "$1"' "$work/passwd" \
  "$ruleset" || fail "nft -c rejects the ruleset"

say "namespaces $appliance and $outside"
ip netns add "$appliance"
ip netns add "$outside"
ip link add "veth-a$suffix" type veth peer name "veth-o$suffix"
ip link set "veth-a$suffix" netns "$appliance"
ip link set "veth-o$suffix" netns "$outside"
ip -n "$appliance" link set lo up
ip -n "$appliance" addr add 192.0.2.1/24 dev "veth-a$suffix"
ip -n "$appliance" link set "veth-a$suffix" up
ip -n "$outside" link set lo up
ip -n "$outside" addr add 192.0.2.2/24 dev "veth-o$suffix"
ip -n "$outside" link set "veth-o$suffix" up

in_appliance nft -f "$ruleset" || fail "nft -f failed in the namespace"
in_appliance nft -f "$ruleset" || fail "loading the ruleset a second time failed"
tables="$(ip netns exec "$appliance" nft list tables)"
[[ "$tables" == "table inet moat_appliance" ]] || fail "tables after two loads: $tables"

# Listeners on every address, ports 8883, 1883 (IPv4 and IPv6) and 22.
cat >"$work/listen.py" <<'EOF'
import selectors, socket, sys
selector = selectors.DefaultSelector()
for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    for port in (8883, 1883, 22):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, port))
        s.listen(16)
        selector.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in selector.select():
        connection, _ = key.fileobj.accept()
        connection.close()
EOF
ip netns exec "$appliance" "$python" "$work/listen.py" >"$work/listen.log" 2>&1 &
listener_pid=$!
for _ in $(seq 100); do
  grep -q ready "$work/listen.log" 2>/dev/null && break
  kill -0 "$listener_pid" 2>/dev/null || { cat "$work/listen.log" >&2; fail "listener died"; }
  sleep 0.05
done
grep -q ready "$work/listen.log" || fail "listener not ready"

# probe WHERE UID HOST PORT EXPECTED: connects with bash's /dev/tcp; EXPECTED is
# accepted (connected), refused (reset) or dropped (no answer within a second).
failures=0
probe() {
  local where="$1" uid="$2" host="$3" port="$4" expected="$5" status=0 got
  local -a run=(ip netns exec "$outside")
  [[ "$where" == outside ]] || run=(in_appliance)
  "${run[@]}" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
    timeout 1 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null || status=$?
  case "$status" in
    0) got=accepted ;;
    124) got=dropped ;;
    *) got=refused ;;
  esac
  if [[ "$got" == "$expected" ]]; then
    say "ok   $where uid $uid -> $host:$port $got"
  else
    echo "FAIL $where uid $uid -> $host:$port: $got, expected $expected" >&2
    failures=$((failures + 1))
  fi
}

probe outside 0 192.0.2.1 8883 accepted
probe outside 0 192.0.2.1 1883 dropped
probe outside 0 192.0.2.1 22 dropped
probe appliance "$kMoatUid" 127.0.0.1 1883 accepted
probe appliance "$kMoatUid" ::1 1883 accepted
probe appliance "$kMoatUid" 192.0.2.1 1883 accepted
probe appliance 0 127.0.0.1 1883 refused
probe appliance 0 ::1 1883 refused
probe appliance 0 192.0.2.1 1883 refused
probe appliance 65534 127.0.0.1 1883 refused
probe appliance 0 127.0.0.1 8883 accepted

counters="$(ip netns exec "$appliance" nft list chain inet moat_appliance input)"
grep -Eq 'tcp dport 1883 counter packets [1-9]' <<<"$counters" ||
  fail "the broker-port drop counter did not count the outside probe"

((failures == 0)) || fail "$failures probe(s) failed"
say "ok"
