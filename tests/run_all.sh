#!/usr/bin/env bash
# The one test command: installs what is missing, builds with gcc and runs every ctest
# test, then builds the libFuzzer harnesses with clang and runs each for a bounded time.
# Ends with "N passed, N failed" over the tests: each ctest test, and each fuzz harness
# as one; a step that fails before its tests can run (dependencies, configure, build, or
# a ctest run that reports no count) is one failure. Exits non-zero if anything failed.
#
#   MOAT_FUZZ_SECONDS  seconds per fuzz harness (default 60)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzz_seconds="${MOAT_FUZZ_SECONDS:-60}"
jobs="$(nproc)"

# HARNESS:CORPUS - a target in fuzz/CMakeLists.txt and its seed folder under fuzz/corpus/.
fuzz_targets=(
  decoder_fuzz:decoder
  roundtrip_fuzz:decoder
  proxy_protocol_fuzz:proxy_protocol
  password_file_fuzz:password_file
  acl_file_fuzz:acl_file
  yaml_policy_fuzz:yaml_policy
  config_fuzz:config
  jwt_fuzz:jwt
)

passed=0
failed=0
steps_done=false

# A configure or build error stops the run at once (set -e); still print the summary,
# with that step counted as failed.
print_summary() {
  local status=$?
  if [[ "$steps_done" != true ]] && ((status != 0)); then
    failed=$((failed + 1))
  fi
  echo "${passed} passed, ${failed} failed"
}
trap print_summary EXIT

record() {  # record NAME STATUS
  if (("$2" == 0)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $1" >&2
  fi
}

section() { printf '\n==== %s\n' "$*"; }

section "dependencies"
deploy/install-deps.sh

section "build (gcc)"
cmake -S . -B build -G Ninja -DCMAKE_CXX_COMPILER=g++ -DMOAT_WERROR=ON
cmake --build build -j "$jobs"

# Adds ctest's counts from its summary, "P% tests passed, F tests failed out of T". A run
# without that line (ctest found no tests, or could not run) counts as one failure.
count_ctest() {  # count_ctest LOG STATUS
  local summary
  summary="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+$' "$1" | tail -n 1)"
  if [[ ! "$summary" =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+)$ ]]; then
    record "ctest (no summary of its tests)" 1
    return
  fi
  local failures="${BASH_REMATCH[1]}" total="${BASH_REMATCH[2]}"
  passed=$((passed + total - failures))
  failed=$((failed + failures))
  if ((failures > 0)); then
    echo "FAILED: ${failures} of ${total} ctest tests" >&2
  elif (("$2" != 0)); then
    record "ctest (exit status $2 with every test passed)" 1
  fi
}

section "unit tests"
ctest_log="build/ctest-run.log"
status=0
ctest --test-dir build --output-on-failure --no-tests=error -j "$jobs" 2>&1 | tee "$ctest_log" ||
  status=$?
count_ctest "$ctest_log" "$status"

section "build fuzz harnesses (clang)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DMOAT_FUZZ=ON -DMOAT_WERROR=ON
cmake --build build-fuzz -j "$jobs"

# Each harness mutates a scratch copy, so the committed seeds stay small and reviewed;
# crashes land next to it as fuzz/corpus-run/<harness>-crash-<sha1>.
for target in "${fuzz_targets[@]}"; do
  harness="${target%%:*}"
  corpus="${target#*:}"
  section "fuzz ${harness} for ${fuzz_seconds}s"
  run_dir="fuzz/corpus-run/${harness}"
  rm -rf "$run_dir"
  mkdir -p "$run_dir"
  cp -r "fuzz/corpus/${corpus}/." "$run_dir/"
  log="fuzz/corpus-run/${harness}.log"
  status=0
  "build-fuzz/fuzz/${harness}" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -malloc_limit_mb=64 \
    -timeout=10 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="fuzz/corpus-run/${harness}-" "$run_dir" >"$log" 2>&1 || status=$?
  if ((status == 0)); then
    grep -E '^Done [0-9]+ runs' "$log" || true
  else
    tail -n 40 "$log" >&2
    echo "full log: ${log}" >&2
  fi
  record "$harness" "$status"
done

steps_done=true
((failed == 0))
