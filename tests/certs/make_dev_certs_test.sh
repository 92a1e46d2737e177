#!/usr/bin/env bash
# Smoke test of certs/make-dev-certs.sh; needs only openssl, not moat. Checks the
# certificates' names, extensions and key types with openssl, then does real mutual-TLS
# handshakes against `openssl s_server`. Ends with "N passed, N failed"; exits non-zero
# if anything failed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
make_certs="$repo/certs/make-dev-certs.sh"

passed=0
failed=0
tmp="$(mktemp -d)"
server_pid=""

cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# check NAME COMMAND...: runs COMMAND, counts it, shows its output when it fails.
check() {
  local name="$1" output
  shift
  if output="$("$@" 2>&1)"; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    [[ -z "$output" ]] || printf '     %s\n' "${output//$'\n'/$'\n'     }"
  fi
}

# check_fails NAME COMMAND...: COMMAND must fail.
check_fails() {
  local name="$1"
  shift
  check "$name" negate "$@"
}
negate() { ! "$@"; }

text() { openssl x509 -in "$1" -noout -text; }
has() {  # has FILE PATTERN: the certificate's text form matches PATTERN (grep -E)
  text "$1" | grep -Eq -- "$2" || {
    echo "$1 has no line matching '$2'"
    return 1
  }
}
all_keys_private() {  # all_keys_private DIR: every DIR/*.key is mode 0600
  local key mode status=0
  for key in "$1"/*.key; do
    mode="$(stat -c %a "$key")"
    [[ "$mode" == 600 ]] || {
      echo "$key has mode $mode"
      status=1
    }
  done
  return "$status"
}

all_files_exist() {
  local name ext status=0
  for name in ca server client broker moat-client; do
    for ext in crt key; do
      [[ -s "$1/$name.$ext" ]] || {
        echo "missing $1/$name.$ext"
        status=1
      }
    done
  done
  return "$status"
}

verify() { openssl verify -CAfile "$1/ca.crt" "${@:2}"; }

# --- ECDSA (default) --------------------------------------------------------------
ec="$tmp/ec"
check "makes the default set" "$make_certs" "$ec"
check "every file is there" all_files_exist "$ec"
check "keys are mode 0600" all_keys_private "$ec"

check "server verifies for localhost" verify "$ec" -verify_hostname localhost "$ec/server.crt"
check "server verifies for moat.local" verify "$ec" -verify_hostname moat.local "$ec/server.crt"
check "server verifies for 127.0.0.1" verify "$ec" -verify_ip 127.0.0.1 "$ec/server.crt"
check "server verifies for ::1" verify "$ec" -verify_ip ::1 "$ec/server.crt"
check "server is for TLS servers" verify "$ec" -purpose sslserver "$ec/server.crt"
check_fails "server rejects another host name" \
  verify "$ec" -verify_hostname evil.example "$ec/server.crt"
check_fails "server cannot act as a TLS client" verify "$ec" -purpose sslclient "$ec/server.crt"

check "broker verifies for broker.local" verify "$ec" -verify_hostname broker.local "$ec/broker.crt"
check "broker verifies for 127.0.0.1" verify "$ec" -verify_ip 127.0.0.1 "$ec/broker.crt"

check "client has clientAuth" has "$ec/client.crt" "TLS Web Client Authentication"
check "client is CN=dev-client" has "$ec/client.crt" "Subject: .*CN ?= ?dev-client"
check "client has SAN DNS:dev-client" has "$ec/client.crt" "DNS:dev-client"
check "client is for TLS clients" verify "$ec" -purpose sslclient "$ec/client.crt"
check "moat-client is CN=moat with clientAuth" \
  bash -c "openssl x509 -in '$ec/moat-client.crt' -noout -subject | grep -Eq 'CN ?= ?moat$' &&
    openssl verify -CAfile '$ec/ca.crt' -purpose sslclient '$ec/moat-client.crt'"

check "CA basicConstraints is critical CA:TRUE" \
  bash -c "openssl x509 -in '$ec/ca.crt' -noout -ext basicConstraints | tr -d '\n ' |
    grep -q 'critical.*CA:TRUE'"
check "CA keyUsage is keyCertSign, cRLSign" has "$ec/ca.crt" "Certificate Sign, CRL Sign"
check "leaf is CA:FALSE" has "$ec/server.crt" "CA:FALSE"
check "leaf has key identifiers" \
  bash -c "openssl x509 -in '$ec/server.crt' -noout -text |
    grep -q 'Subject Key Identifier' &&
    openssl x509 -in '$ec/server.crt' -noout -text | grep -q 'Authority Key Identifier'"
check "EC keys are P-256" has "$ec/server.crt" "NIST CURVE: P-256|prime256v1"
check "EC leaf keyUsage is digitalSignature only" \
  bash -c "openssl x509 -in '$ec/server.crt' -noout -ext keyUsage | tail -n 1 |
    grep -qx ' *Digital Signature'"
check "leaves expire within 31 days" \
  bash -c "! openssl x509 -in '$ec/server.crt' -noout -checkend $((31 * 86400)) >/dev/null"

cp "$ec/ca.crt" "$tmp/ca-before.crt"
check "a second run keeps the CA" \
  bash -c "'$make_certs' '$ec' >/dev/null && cmp -s '$tmp/ca-before.crt' '$ec/ca.crt'"
check "--name issues a cert from the same CA" \
  bash -c "'$make_certs' '$ec' --name alice --cn 'Alice Smith' >/dev/null &&
    cmp -s '$tmp/ca-before.crt' '$ec/ca.crt' &&
    openssl verify -CAfile '$ec/ca.crt' -purpose sslclient '$ec/alice.crt'"
check "--cn sets the subject" has "$ec/alice.crt" "Subject: .*CN ?= ?Alice Smith"
check "extra key is mode 0600" all_keys_private "$ec"
check_fails "--name refuses a standard name" "$make_certs" "$ec" --name server
check "--force makes a new CA" \
  bash -c "'$make_certs' '$ec' --force >/dev/null 2>&1 && ! cmp -s '$tmp/ca-before.crt' '$ec/ca.crt'"

# --- RSA --------------------------------------------------------------------------
rsa="$tmp/rsa"
check "--rsa makes the set" "$make_certs" "$rsa" --rsa
check "RSA keys are RSA 2048" \
  bash -c "openssl pkey -in '$rsa/server.key' -noout -text | head -n 1 | grep -q '2048 bit' &&
    openssl x509 -in '$rsa/ca.crt' -noout -text | grep -q rsaEncryption"
check "RSA leaf has keyEncipherment" has "$rsa/server.crt" "Digital Signature, Key Encipherment"
check "RSA server verifies for localhost" \
  verify "$rsa" -verify_hostname localhost "$rsa/server.crt"
check "rerun with --rsa over EC remakes as RSA" \
  bash -c "'$make_certs' '$ec' --rsa >/dev/null 2>&1 &&
    openssl x509 -in '$ec/ca.crt' -noout -text | grep -q rsaEncryption"

# --- real handshakes --------------------------------------------------------------
# start_server DIR: openssl s_server on a kernel-chosen loopback port, client cert required.
start_server() {
  local dir="$1" deadline
  : >"$tmp/server.out"
  openssl s_server -accept 127.0.0.1:0 -cert "$dir/server.crt" -key "$dir/server.key" \
    -CAfile "$dir/ca.crt" -Verify 1 -verify_return_error -www \
    >"$tmp/server.out" 2>"$tmp/server.err" </dev/null &
  server_pid=$!
  deadline=$((SECONDS + 10))
  port=""
  while [[ -z "$port" ]]; do
    port="$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$tmp/server.out")"
    if [[ -z "$port" ]]; then
      if ((SECONDS >= deadline)) || ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$tmp/server.err" >&2
        return 1
      fi
      sleep 0.05
    fi
  done
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# handshake DIR CERT HOST EXPECTED_CN: mutual TLS with client cert CERT; the server's
# status page must show it verified the client (subject EXPECTED_CN).
handshake() {
  local dir="$1" output
  output="$(printf 'GET / HTTP/1.0\r\n\r\n' |
    timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$dir/ca.crt" \
      -cert "$dir/$2.crt" -key "$dir/$2.key" -verify_hostname "$3" -verify_return_error \
      -ign_eof 2>&1)" || {
    echo "$output"
    return 1
  }
  if ! grep -q "Verify return code: 0 (ok)" <<<"$output" ||
    ! grep -q "HTTP/1.0 200 ok" <<<"$output" ||
    ! grep -Eq "Subject: .*CN ?= ?$4" <<<"$output"; then
    grep -Ei "error|alert|verify return code|HTTP/1.0|Subject:" <<<"$output"
    return 1
  fi
}

# wrong_host_rejected DIR: s_client must refuse the server for a name it does not carry.
wrong_host_rejected() {
  local output
  if output="$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$1/ca.crt" \
    -cert "$1/client.crt" -key "$1/client.key" -verify_hostname wrong.example \
    -verify_return_error </dev/null 2>&1)"; then
    echo "s_client accepted the server for wrong.example"
    return 1
  fi
  grep -qi "hostname mismatch" <<<"$output" || {
    echo "$output"
    return 1
  }
}

for kind in ec rsa; do
  dir="$tmp/$kind"
  [[ "$kind" == rsa ]] || "$make_certs" "$dir" --force --name bob >/dev/null 2>&1
  if start_server "$dir"; then
    check "$kind: mutual TLS handshake with client.crt" handshake "$dir" client localhost dev-client
    if [[ "$kind" == ec ]]; then
      check "$kind: mutual TLS handshake with --name cert" handshake "$dir" bob localhost bob
    fi
    check "$kind: client rejects a wrong host name" wrong_host_rejected "$dir"
    stop_server
  else
    check "$kind: openssl s_server starts" false
  fi
done

echo "${passed} passed, ${failed} failed"
((failed == 0))
