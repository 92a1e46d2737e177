#!/usr/bin/env bash
# Makes a throw-away development PKI for moat with the openssl CLI. Never use it in
# production: the CA key sits next to the certificates it signs (see certs/README.md).
#
#   certs/make-dev-certs.sh OUT_DIR [--rsa] [--force] [--name NAME [--cn CN]]...
#
# OUT_DIR receives
#   ca.crt ca.key                    development CA (90 days)
#   server.crt server.key            moat's listener: localhost, moat.local, 127.0.0.1, ::1
#   client.crt client.key            an MQTT client (CN=dev-client, clientAuth)
#   broker.crt broker.key            the upstream broker: broker.local, localhost, 127.0.0.1
#   moat-client.crt moat-client.key  moat's client certificate towards the broker (CN=moat)
#   NAME.crt NAME.key                one more client certificate per --name (CN defaults to NAME)
# Leaves last 30 days. Keys are ECDSA P-256, or RSA 2048 with --rsa; key files are 0600.
#
# Running it again is cheap: when every file is there, of the requested key type, chains
# to ca.crt and stays valid for more than a day, nothing is regenerated (--force does).
# Extra --name certificates are then signed by the existing CA.
set -euo pipefail

readonly kCaDays=90
readonly kLeafDays=30
readonly kMinValiditySeconds=86400  # regenerate what expires within a day
readonly kBaseNames=(server client broker moat-client)

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

die() {
  echo "make-dev-certs: $*" >&2
  exit 1
}

out_dir=""
key_type=ec
force=false
extra_names=()
extra_cns=()
while (($# > 0)); do
  case "$1" in
    --rsa) key_type=rsa ;;
    --force) force=true ;;
    --name)
      (($# >= 2)) || die "--name needs a value"
      extra_names+=("$2")
      extra_cns+=("$2")
      shift
      ;;
    --cn)
      (($# >= 2)) || die "--cn needs a value"
      ((${#extra_names[@]} > 0)) || die "--cn must follow --name"
      extra_cns[${#extra_cns[@]} - 1]="$2"
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die "unknown option $1 (try --help)" ;;
    *)
      [[ -z "$out_dir" ]] || die "only one OUT_DIR, got '$out_dir' and '$1'"
      out_dir="$1"
      ;;
  esac
  shift
done
[[ -n "$out_dir" ]] || {
  usage >&2
  exit 1
}
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"

for i in "${!extra_names[@]}"; do
  name="${extra_names[$i]}"
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] ||
    die "--name '$name': use letters, digits, '_', '.', '-' (it becomes a file name)"
  for reserved in ca "${kBaseNames[@]}"; do
    [[ "$name" != "$reserved" ]] || die "--name '$name' is one of the standard files"
  done
  # -subj would read / + = \ as structure, not text.
  [[ "${extra_cns[$i]}" =~ ^[^/+=\\]+$ ]] ||
    die "--cn for '$name' must be non-empty, without '/', '+', '=' or '\\'"
done

mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
work_dir="$(mktemp -d "$out_dir/.make-dev-certs.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

# Runs a command quietly (openssl chats on stderr); shows its output only if it fails.
quiet() {
  local output
  if ! output="$("$@" 2>&1)"; then
    echo "$output" >&2
    die "failed: $*"
  fi
}

new_key() {  # new_key FILE
  local -a algorithm
  if [[ "$key_type" == rsa ]]; then
    algorithm=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048)
  else
    algorithm=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)
  fi
  (umask 077 && quiet openssl genpkey "${algorithm[@]}" -out "$1")
  chmod 600 "$1"
}

# The CA profile; each leaf gets its own extension file from issue().
key_usage="critical, digitalSignature"
if [[ "$key_type" == rsa ]]; then
  key_usage+=", keyEncipherment"  # RSA key transport (TLS 1.2 RSA kx) needs it
fi
cat >"$work_dir/openssl.cnf" <<EOF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

make_ca() {  # make_ca DIR
  new_key "$1/ca.key"
  quiet openssl req -config "$work_dir/openssl.cnf" -new -x509 -key "$1/ca.key" \
    -subj "/O=moat development/CN=moat development CA" -days "$kCaDays" -sha256 \
    -set_serial "0x$(openssl rand -hex 16)" -extensions ca -out "$1/ca.crt"
}

# issue DIR NAME CN EKU SAN - signs NAME.crt in DIR with DIR/ca.{crt,key}; SAN may be "".
issue() {
  local dir="$1" name="$2" cn="$3" eku="$4" san="$5" ext="$work_dir/$2.ext"
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = $key_usage"
    echo "extendedKeyUsage = $eku"
    [[ -z "$san" ]] || echo "subjectAltName = $san"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid, issuer"
  } >"$ext"
  new_key "$dir/$name.key"
  quiet openssl req -config "$work_dir/openssl.cnf" -new -key "$dir/$name.key" \
    -subj "/O=moat development/CN=$cn" -out "$work_dir/$name.csr"
  quiet openssl x509 -req -in "$work_dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$kLeafDays" -sha256 -extfile "$ext" \
    -out "$dir/$name.crt"
  chmod 644 "$dir/$name.crt"
}

# A client certificate for --name: a DNS SAN too when the CN looks like a host name.
issue_extra() {  # issue_extra DIR NAME CN
  local san=""
  [[ ! "$3" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || san="DNS:$3"
  issue "$1" "$2" "$3" clientAuth "$san"
}

# still_good DIR NAME: NAME.crt/.key exist, match, are of the requested key type, chain to
# DIR/ca.crt and stay valid for more than a day.
still_good() {
  local crt="$1/$2.crt" key="$1/$2.key" algorithm
  [[ -f "$crt" && -f "$key" ]] || return 1
  openssl x509 -in "$crt" -noout -checkend "$kMinValiditySeconds" >/dev/null 2>&1 || return 1
  algorithm="$(openssl x509 -in "$crt" -noout -text 2>/dev/null |
    sed -n 's/^ *Public Key Algorithm: *//p' | head -n 1)"
  case "$key_type:$algorithm" in
    rsa:rsaEncryption | ec:id-ecPublicKey) ;;
    *) return 1 ;;
  esac
  [[ "$(openssl x509 -in "$crt" -noout -pubkey 2>/dev/null)" == \
    "$(openssl pkey -in "$key" -pubout 2>/dev/null)" ]] || return 1
  [[ "$2" == ca ]] || openssl verify -CAfile "$1/ca.crt" "$crt" >/dev/null 2>&1
}

verify_leaf() {  # verify_leaf DIR NAME PURPOSE
  quiet openssl verify -CAfile "$1/ca.crt" -purpose "$3" "$1/$2.crt"
}

base_valid=true
if [[ "$force" == true ]]; then
  base_valid=false
else
  for name in ca "${kBaseNames[@]}"; do
    still_good "$out_dir" "$name" || base_valid=false
  done
fi

made=()
if [[ "$base_valid" == true ]]; then
  echo "make-dev-certs: $out_dir already holds valid $key_type certificates (--force remakes)"
else
  # Build the whole set aside, verify it, then move it in: a failure never leaves a
  # half-made mix of old and new files behind.
  make_ca "$work_dir"
  issue "$work_dir" server localhost serverAuth \
    "DNS:localhost, DNS:moat.local, IP:127.0.0.1, IP:::1"
  issue "$work_dir" client dev-client clientAuth "DNS:dev-client"
  issue "$work_dir" broker broker.local serverAuth \
    "DNS:broker.local, DNS:localhost, IP:127.0.0.1"
  issue "$work_dir" moat-client moat clientAuth "DNS:moat"
  verify_leaf "$work_dir" server sslserver
  verify_leaf "$work_dir" broker sslserver
  verify_leaf "$work_dir" client sslclient
  verify_leaf "$work_dir" moat-client sslclient
  for name in ca "${kBaseNames[@]}"; do
    mv -f "$work_dir/$name.key" "$out_dir/$name.key"
    mv -f "$work_dir/$name.crt" "$out_dir/$name.crt"
    made+=("$name")
  done
fi

for i in "${!extra_names[@]}"; do
  name="${extra_names[$i]}"
  cn="${extra_cns[$i]}"
  if [[ "$base_valid" == true ]] && still_good "$out_dir" "$name" &&
    [[ "$(openssl x509 -in "$out_dir/$name.crt" -noout -subject -nameopt multiline |
      sed -n 's/^ *commonName *= *//p')" == "$cn" ]]; then
    continue
  fi
  # Sign in the scratch folder (the CA files are copied there) and move the pair in.
  cp "$out_dir/ca.crt" "$out_dir/ca.key" "$work_dir/"
  issue_extra "$work_dir" "$name" "$cn"
  verify_leaf "$work_dir" "$name" sslclient
  mv -f "$work_dir/$name.key" "$out_dir/$name.key"
  mv -f "$work_dir/$name.crt" "$out_dir/$name.crt"
  made+=("$name")
done

for name in "${made[@]}"; do
  crt="$out_dir/$name.crt"
  subject="$(openssl x509 -in "$crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  until="$(openssl x509 -in "$crt" -noout -enddate | sed 's/^notAfter=//')"
  san="$(openssl x509 -in "$crt" -noout -ext subjectAltName 2>/dev/null |
    sed -n '2s/^ *//p' | sed 's/IP Address:/IP:/g')"
  printf 'made %-20s %s%s, until %s\n' "$name.crt/.key" "$subject" "${san:+ [$san]}" "$until"
done
if ((${#made[@]} > 0)); then
  echo "make-dev-certs: $key_type keys in $out_dir (CA: $out_dir/ca.crt)"
fi

# A new CA orphans client certificates issued earlier with --name; say so rather than
# leave a test to fail a handshake for no visible reason.
if [[ "$base_valid" != true ]]; then
  for crt in "$out_dir"/*.crt; do
    [[ -f "$crt" ]] || continue
    openssl verify -CAfile "$out_dir/ca.crt" "$crt" >/dev/null 2>&1 ||
      echo "make-dev-certs: warning: $crt is not signed by the new CA; remake it with" \
        "--name $(basename "$crt" .crt)" >&2
  done
fi
