#!/usr/bin/env bash
# deploy/Dockerfile, checked without a container engine:
#
#   - RUNTIME_PACKAGES (the slim stage's apt-get list) holds every Debian package that
#     `ldd moat` resolves to, apart from those debian:12-slim has already; a listed
#     package the binary does not need is reported, not failed (the metrics endpoint
#     adds prometheus-cpp as it lands);
#   - the build stage installs the libraries of deploy/install-deps.sh's "Libraries"
#     group and copies every top-level folder the CMake build enters;
#   - it builds with MOAT_TESTS=OFF and MOAT_BENCHMARKS=OFF, runs as a numeric non-root
#     USER and starts `moat --config /etc/moat/moat.yaml`.
#
#   tests/deploy/dockerfile_test.sh REPO MOAT_BIN
set -euo pipefail

repo="${1:?usage: dockerfile_test.sh REPO MOAT_BIN}"
moat_bin="${2:?usage: dockerfile_test.sh REPO MOAT_BIN}"
dockerfile="$repo/deploy/Dockerfile"
# In debian:12-slim already (Priority: required, or needed by apt).
readonly kInBaseImage=" libc6 libgcc-s1 libstdc++6 "

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
say() { echo "dockerfile_test: $*"; }
failures=0
problem() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

[[ -f "$dockerfile" ]] || fail "no $dockerfile"
[[ -x "$moat_bin" ]] || fail "no moat executable at $moat_bin"

# --- runtime packages against ldd ----------------------------------------------------
listed="$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$dockerfile")"
[[ -n "$listed" ]] || fail 'no ARG RUNTIME_PACKAGES="..." line'
# shellcheck disable=SC2016  # the literal text $RUNTIME_PACKAGES
grep -q 'apt-get install .*\$RUNTIME_PACKAGES' "$dockerfile" || fail "RUNTIME_PACKAGES is not installed"

# The package owning a library path; dpkg knows /lib or /usr/lib, whichever it shipped.
owner() {
  local path candidate
  path="$(realpath "$1")"
  for candidate in "$1" "$path" "${path#/usr}" "/usr${path}"; do
    dpkg-query -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
  done
  return 1
}
needed=()
while read -r library; do
  package="$(owner "$library")" || fail "no Debian package owns $library (ldd $moat_bin)"
  [[ "$kInBaseImage" == *" $package "* ]] || needed+=("$package")
done < <(ldd "$moat_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
mapfile -t needed < <(printf '%s\n' "${needed[@]}" | sort -u)
say "ldd needs: ${needed[*]} (besides${kInBaseImage% })"
for package in "${needed[@]}"; do
  [[ " $listed " == *" $package "* ]] || problem "RUNTIME_PACKAGES lacks $package"
done
for package in $listed; do
  [[ " ${needed[*]} " == *" $package "* ]] ||
    say "note: $package is listed but this build of moat does not link it"
done

# --- build stage -----------------------------------------------------------------------
libraries="$(awk '/# Libraries\./ { getline; print; exit }' "$repo/deploy/install-deps.sh")"
[[ -n "$libraries" ]] || fail "no '# Libraries.' group in deploy/install-deps.sh"
build_stage="$(awk '/^FROM .* AS build/ { on = 1 } /^FROM / && !/AS build/ { on = 0 } on' "$dockerfile")"
for package in $libraries; do
  grep -qw -- "$package" <<<"$build_stage" || problem "the build stage lacks $package"
done
for option in -DMOAT_TESTS=OFF -DMOAT_BENCHMARKS=OFF; do
  grep -q -- "$option" <<<"$build_stage" || problem "the build stage does not pass $option"
done
# Every folder the top-level CMakeLists.txt enters outside tests/ and fuzz/ is copied.
while read -r folder; do
  grep -Eq "^COPY ($folder|\\.) " <<<"$build_stage" || problem "the build stage does not COPY $folder"
done < <(sed -nE 's/^[[:space:]]*(add_subdirectory|include)\(([A-Za-z0-9_.-]+)[/)].*/\2/p' \
  "$repo/CMakeLists.txt" | grep -vxE 'tests|fuzz|GoogleTest|CPack' | sort -u)

# --- runtime stage ---------------------------------------------------------------------
runtime_stage="$(awk '/^FROM / { stage = $0 } stage !~ /AS build/' "$dockerfile")"
grep -q '^FROM debian:12-slim' <<<"$runtime_stage" || problem "the runtime stage is not debian:12-slim"
user="$(sed -n 's/^USER //p' <<<"$runtime_stage" | tail -n 1)"
[[ "$user" =~ ^[1-9][0-9]*(:[1-9][0-9]*)?$ ]] ||
  problem "USER '$user' must be a numeric non-root uid (Kubernetes runAsNonRoot)"
grep -qx 'ENTRYPOINT \["/usr/bin/moat"\]' <<<"$runtime_stage" || problem "ENTRYPOINT is not moat"
grep -qx 'CMD \["--config", "/etc/moat/moat.yaml"\]' <<<"$runtime_stage" ||
  problem "CMD is not --config /etc/moat/moat.yaml"
grep -q '^COPY --from=build .* /usr/bin/moat$' <<<"$runtime_stage" || problem "moat is not copied in"

((failures == 0)) || fail "$failures problem(s)"
say "ok"
