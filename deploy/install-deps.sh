#!/usr/bin/env bash
# Installs the Debian 12 packages moat needs to build, test and fuzz. Idempotent: it
# asks dpkg what is already there and only touches apt when something is missing, so
# tests/run_all.sh can call it on every run without network access.
set -euo pipefail

# One package per line, grouped by purpose; later stages (benchmark peers, Prometheus)
# append their own group here.
packages=(
  # Toolchain.
  build-essential cmake ninja-build pkg-config ccache
  clang libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes
  # Libraries.
  libboost1.81-dev libssl-dev libabsl-dev prometheus-cpp-dev libyaml-cpp-dev
  # Bearer tokens (auth.jwt): cjose verifies JWS signatures; jansson comes with it.
  libcjose-dev
  # Tests and benchmarks.
  libgtest-dev libgmock-dev libbenchmark-dev
  # Sparkplug B payload checks (policy/payload/): the C++ library and protoc build the
  # checker from sparkplug_b.proto; the tests generate Python code from the same file.
  libprotobuf-dev protobuf-compiler python3-protobuf
  # Integration tests run a real broker and its clients; openssl makes test certificates.
  mosquitto mosquitto-clients openssl
  # The integration tests and seed-corpus generator are Python (standard library only).
  python3
  # The client matrix (tests/integration/test_client_matrix.py) runs paho-mqtt, and
  # MQTT.js under Node and in headless Chromium; certutil puts the test CA in the
  # browser's certificate store.
  python3-paho-mqtt nodejs chromium libnss3-tools
  # Benchmark peers: tests/perf/run_benchmark.sh measures moat against HAProxy and nginx's
  # stream module (TLS-terminating TCP proxies) in front of the same mosquitto.
  haproxy nginx libnginx-mod-stream
  # Observability checks: promtool checks and unit-tests deploy/prometheus, and the
  # prometheus server scrapes moat in tests/integration/test_prometheus.py.
  prometheus
  # Deployment checks (tests/deploy/): the .deb is built by cpack (dpkg-dev for
  # dpkg-shlibdeps), linted and installed; the unit is checked by systemd-analyze and
  # moat's system calls under strace against its filter; the nftables ruleset is loaded
  # in network namespaces; the Kubernetes overlays render with kubectl's kustomize, which
  # must be v4+: this image's kubectl package has it. Elsewhere Debian's
  # kubernetes-client stands in (kubectl 1.20, kustomize v2: that check then fails and
  # says so, the others run).
  dpkg-dev lintian systemd nftables iproute2 strace
  "$(dpkg-query -W -f='${db:Status-Status}' kubectl 2>/dev/null | grep -qx installed &&
    echo kubectl || echo kubernetes-client)"
)
# NodeSource's nodejs carries its own npm and conflicts with Debian's npm package.
command -v npm >/dev/null || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
else
  sudo=()
  if ((EUID != 0)); then
    sudo=(sudo)
  fi

  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

# MQTT.js for the client matrix, at the version package-lock.json pins. The copy of the
# lock file is how this script and the test know node_modules is that install, so the
# registry is asked only when the pin changed or nothing is installed.
node_dir="$(dirname "$0")/../tests/integration/clients/node"
installed_lock="$node_dir/node_modules/.moat-package-lock.json"
if ! cmp -s "$node_dir/package-lock.json" "$installed_lock"; then
  echo "install-deps: npm ci in tests/integration/clients/node"
  (cd "$node_dir" && npm ci --no-audit --no-fund)
  cp "$node_dir/package-lock.json" "$installed_lock"
fi
