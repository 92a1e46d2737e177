#!/usr/bin/env bash
# The Debian package, end to end on this machine:
#
#   cpack -G DEB (from BUILD_DIR) -> lintian (no errors) -> dpkg -i -> checks -> dpkg -r
#   -> dpkg -P -> the machine is as it was
#
# After install: the moat user and group, ownership and modes under /etc/moat, the
# development certificate, `moat --check-config` as root and as the moat user,
# `systemd-analyze verify` and `systemd-analyze security` (exposure below 2.0) of the
# unit, `nft -c` of the shipped ruleset, and moat itself running as the moat user with
# the packaged configuration in a private network namespace (a TLS handshake that
# verifies against the generated certificate, GET /healthz, SIGHUP, SIGTERM -> exit 0).
#
#   tests/deploy/deb_package_test.sh BUILD_DIR MOAT_BIN
#
# Needs root, cpack, dpkg, lintian, systemd-analyze, nft, openssl (deploy/install-deps.sh).
# Refuses to run (fails) when moat is installed already or a moat user, group or
# /etc/moat exists: it would otherwise purge what it did not install.
set -euo pipefail

build_dir="${1:?usage: deb_package_test.sh BUILD_DIR MOAT_BIN}"
moat_bin="${2:?usage: deb_package_test.sh BUILD_DIR MOAT_BIN}"
readonly kMaxExposure=2.0

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
say() { echo "deb_package_test: $*"; }

((EUID == 0)) || fail "needs root (dpkg -i)"
for tool in cpack dpkg dpkg-deb lintian systemd-analyze nft openssl unshare runuser setpriv; do
  command -v "$tool" >/dev/null || fail "$tool not found (deploy/install-deps.sh)"
done
[[ -f "$build_dir/CPackConfig.cmake" ]] || fail "no CPackConfig.cmake in $build_dir"
[[ -x "$moat_bin" ]] || fail "no moat executable at $moat_bin"

status="$(dpkg-query -W -f='${db:Status-Status}' moat 2>/dev/null || true)"
[[ -z "$status" || "$status" == not-installed ]] ||
  fail "package moat is $status here; remove it first (dpkg -P moat)"
! getent passwd moat >/dev/null || fail "a moat user exists already; not touching it"
! getent group moat >/dev/null || fail "a moat group exists already; not touching it"
[[ ! -e /etc/moat ]] || fail "/etc/moat exists already; not touching it"

work="$(mktemp -d)"
chmod 755 "$work"
installed=false
policy_rc_made=false
ns_pid=""

# What a clean run must leave exactly as it found it.
snapshot() {
  {
    getent passwd | sort
    getent group | sort
    dpkg-statoverride --list | sort
    find /etc /usr/bin /usr/share/doc /lib/systemd/system /var/lib/systemd \
      \( -name 'passwd-' -o -name 'group-' -o -name 'shadow-' -o -name 'gshadow-' \
      -o -name 'ld.so.cache' \) -prune -o -print 2>/dev/null | sort
  } >"$1"
}

cleanup() {
  local rc=$?
  trap - EXIT
  [[ -z "$ns_pid" ]] || kill -KILL "$ns_pid" 2>/dev/null || true
  if [[ "$installed" == true ]]; then
    echo "deb_package_test: purging moat after a failure" >&2
    dpkg -P moat >/dev/null 2>&1 || true
  fi
  [[ "$policy_rc_made" != true ]] || rm -f /usr/sbin/policy-rc.d
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# On a machine where systemd runs, the postinst would start moat.service (listening on
# 0.0.0.0:8883). policy-rc.d tells deb-systemd-invoke not to, for this test only.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  policy_rc_made=true
fi

snapshot "$work/before"

# --- build and inspect ---------------------------------------------------------------
say "cpack -G DEB from $build_dir"
cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$work/cpack" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
debs=("$work"/cpack/moat_*.deb)
[[ ${#debs[@]} -eq 1 && -f "${debs[0]}" ]] || fail "cpack made no single moat_*.deb"
deb="${debs[0]}"
say "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/contents"
for path in /usr/bin/moat /etc/moat/moat.yaml /etc/moat/passwd /etc/moat/acl \
  /lib/systemd/system/moat.service /usr/share/doc/moat/copyright \
  /usr/share/doc/moat/examples/moat-appliance.nft; do
  grep -qx "$path" "$work/contents" || fail "$path is not in the package"
done
dpkg-deb -I "$deb" conffiles | sort >"$work/conffiles"
printf '%s\n' /etc/moat/acl /etc/moat/moat.yaml /etc/moat/passwd | diff -u - "$work/conffiles" ||
  fail "conffiles differ"
depends="$(dpkg-deb -f "$deb" Depends)"
for dep in adduser openssl libssl3 libyaml-cpp0.7; do
  [[ ", $depends," == *", $dep"[\ ,]* ]] || fail "Depends lacks $dep: $depends"
done
if ! grep -qE '^[[:space:]]*acl_file: acl' <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/moat/moat.yaml); then
  fail "the default moat.yaml names no acl_file: moat would deny everything"
fi

say "lintian"
lintian_status=0
lintian --fail-on error --display-info "$deb" >"$work/lintian.log" 2>&1 || lintian_status=$?
sed -e '/running with root privileges/d' -e 's/^/  /' "$work/lintian.log"
((lintian_status == 0)) || fail "lintian reports errors"
! grep -q '^E: ' "$work/lintian.log" || fail "lintian reports errors"

# --- install -------------------------------------------------------------------------
say "dpkg -i"
installed=true
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "dpkg -i failed"; }
sed 's/^/  /' "$work/install.log"
[[ "$(dpkg-query -W -f='${db:Status-Status}' moat)" == installed ]] || fail "not installed"

getent passwd moat >/dev/null || fail "no moat user"
moat_uid="$(id -u moat)"
((moat_uid < 1000)) || fail "moat is not a system user (uid $moat_uid)"
[[ "$(id -gn moat)" == moat ]] || fail "moat's group is not moat"
[[ "$(getent passwd moat | cut -d: -f7)" == */nologin ]] || fail "moat has a login shell"

expect_mode() {  # expect_mode MODE OWNER:GROUP PATH
  local actual
  actual="$(stat -c '%a %U:%G' "$3")"
  [[ "$actual" == "$1 $2" ]] || fail "$3 is $actual, expected $1 $2"
}
expect_mode 750 root:moat /etc/moat
expect_mode 750 root:moat /etc/moat/tls
for file in moat.yaml passwd acl tls/server.crt tls/server.key; do
  expect_mode 640 root:moat "/etc/moat/$file"
done
[[ ! -s /etc/moat/passwd ]] || fail "the shipped password file is not empty"
[[ -z "$(find /etc/moat/tls -name '.new.*')" ]] || fail "postinst left temporary files"
openssl verify -x509_strict -CAfile /etc/moat/tls/server.crt -purpose sslserver \
  /etc/moat/tls/server.crt >/dev/null || fail "the development certificate does not verify"

"/usr/bin/moat" --version | head -n 1 >"$work/version.installed"
"$moat_bin" --version | head -n 1 >"$work/version.built"
diff -u "$work/version.built" "$work/version.installed" || fail "the packaged moat is another build"

say "moat --check-config /etc/moat/moat.yaml (as root and as moat)"
/usr/bin/moat --check-config /etc/moat/moat.yaml || fail "--check-config failed as root"
runuser -u moat -- /usr/bin/moat --check-config /etc/moat/moat.yaml ||
  fail "--check-config failed as the moat user (file permissions?)"

say "systemd-analyze verify"
systemd-analyze verify /lib/systemd/system/moat.service >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log" >&2; fail "systemd-analyze verify failed"; }
[[ ! -s "$work/verify.log" ]] || { cat "$work/verify.log" >&2; fail "systemd-analyze verify warned"; }

say "systemd-analyze security"
systemd-analyze security --offline=true /lib/systemd/system/moat.service >"$work/security.log" 2>&1 ||
  true
exposure="$(sed -n 's/.*Overall exposure level for moat.service: \([0-9.]*\).*/\1/p' "$work/security.log")"
[[ -n "$exposure" ]] || { cat "$work/security.log" >&2; fail "no exposure level"; }
say "exposure level $exposure (must be below $kMaxExposure)"
awk -v e="$exposure" -v max="$kMaxExposure" 'BEGIN { exit !(e < max) }' ||
  { grep '✗' "$work/security.log" >&2; fail "exposure $exposure is not below $kMaxExposure"; }

say "nft -c the shipped ruleset"
unshare -n nft -c -f /usr/share/doc/moat/examples/moat-appliance.nft ||
  fail "nft -c rejects the shipped ruleset"

# --- run it as the service would -----------------------------------------------------
# In a private network namespace (nothing else here sees its 0.0.0.0:8883), as the moat
# user with the packaged configuration, the file limit of the unit; no broker is needed
# for a TLS handshake.
say "moat --config /etc/moat/moat.yaml as moat, in a network namespace"
cat >"$work/run.sh" <<'EOF'
set -euo pipefail
work="$1"
ip link set lo up
hard="$(ulimit -Hn)"  # moat.service's LimitNOFILE=65536, or what this sandbox allows
ulimit -n "$([[ "$hard" == unlimited ]] || ((65536 < hard)) && echo 65536 || echo "$hard")"
# setpriv execs moat itself (runuser would stay as its parent and eat the signals).
setpriv --reuid=moat --regid=moat --init-groups -- \
  /usr/bin/moat --config /etc/moat/moat.yaml 2>"$work/moat.log" &
pid=$!
deadline=$((SECONDS + 20))
until timeout 0.2 bash -c '</dev/tcp/127.0.0.1/8883' 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { echo "moat exited:" >&2; cat "$work/moat.log" >&2; exit 1; }
  ((SECONDS < deadline)) || { echo "moat does not accept:" >&2; cat "$work/moat.log" >&2; exit 1; }
  sleep 0.1
done
openssl s_client -connect 127.0.0.1:8883 -servername localhost -verify_hostname localhost \
  -CAfile /etc/moat/tls/server.crt -verify_return_error -alpn mqtt </dev/null \
  >"$work/s_client.log" 2>&1 || { cat "$work/s_client.log" >&2; exit 1; }
grep -q 'Verify return code: 0 (ok)' "$work/s_client.log"
# metrics.bind of the packaged config: /healthz answers (no broker here, so not /readyz).
exec 3<>/dev/tcp/127.0.0.1/9100
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
head -n 1 <&3 | grep -q '^HTTP/1.1 200' || { echo "GET /healthz is not 200" >&2; exit 1; }
exec 3<&-
kill -HUP "$pid"
deadline=$((SECONDS + 10))
until grep -q 'SIGHUP' "$work/moat.log"; do
  kill -0 "$pid" 2>/dev/null || { echo "moat died on SIGHUP:" >&2; cat "$work/moat.log" >&2; exit 1; }
  ((SECONDS < deadline)) || { echo "no SIGHUP reload logged:" >&2; cat "$work/moat.log" >&2; exit 1; }
  sleep 0.1
done
grep -q 'reload refused' "$work/moat.log" && { cat "$work/moat.log" >&2; exit 1; }
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
((status == 0)) || { echo "moat exited $status on SIGTERM:" >&2; cat "$work/moat.log" >&2; exit 1; }
EOF
# Own PID namespace too: when run.sh ends, for any reason, moat dies with it.
unshare -n -p -f --mount-proc --kill-child bash "$work/run.sh" "$work" || fail "moat did not run with the packaged setup"

# --- remove and purge ----------------------------------------------------------------
say "dpkg -r"
dpkg -r moat >"$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "dpkg -r failed"; }
[[ ! -e /usr/bin/moat ]] || fail "dpkg -r left /usr/bin/moat"
[[ ! -e /lib/systemd/system/moat.service ]] || fail "dpkg -r left the unit"
[[ -f /etc/moat/moat.yaml && -f /etc/moat/tls/server.key ]] ||
  fail "dpkg -r removed the configuration (only purge may)"
getent passwd moat >/dev/null || fail "dpkg -r removed the moat user (only purge may)"
[[ "$(dpkg-query -W -f='${db:Status-Status}' moat)" == config-files ]] ||
  fail "not in config-files state after dpkg -r"

say "dpkg -P"
dpkg -P moat >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg -P failed"; }
installed=false
[[ ! -e /etc/moat ]] || fail "dpkg -P left /etc/moat"
! getent passwd moat >/dev/null || fail "dpkg -P left the moat user"
! getent group moat >/dev/null || fail "dpkg -P left the moat group"
! dpkg-statoverride --list | grep -q ' /etc/moat' || fail "dpkg -P left statoverrides"

snapshot "$work/after"
diff -u "$work/before" "$work/after" || fail "the machine is not as it was before the test"
say "ok"
