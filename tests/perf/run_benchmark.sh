#!/usr/bin/env bash
# Benchmarks moat against mosquitto direct, HAProxy and nginx (stream module) on one
# 2-core machine and prints a markdown table of medians; see tests/perf/README.md.
#
#   tests/perf/run_benchmark.sh [--repeats 3] [--seconds 10] [--targets direct,haproxy,nginx,moat]
#                               [--idle-connections 9000] [--no-build] [--keep]   (--help: all)
#
# Builds moat and mqtt_load in build-perf/ (Release), then runs run_benchmark.py. Not part
# of tests/run_all.sh: the numbers mean something only on a quiet machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
exec python3 tests/perf/run_benchmark.py "$@"
