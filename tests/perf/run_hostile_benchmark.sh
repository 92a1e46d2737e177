#!/usr/bin/env bash
# moat under a hostile mix from one address (trickled 16 MiB CONNECTs, stalled TLS
# handshakes, garbage, a reconnect flood) while 100 honest TLS clients publish and
# subscribe, next to the same honest load in quiet; prints a markdown table against the
# goals of issue 14. See tests/perf/README.md.
#
#   tests/perf/run_hostile_benchmark.sh [--baseline OTHER_MOAT] [--moat MOAT] [--no-build]
#                                       [--trickle 5000] [--seconds 30] [--keep]  (--help: all)
#
# Builds moat and mqtt_load in build-perf/ (Release), then runs run_hostile_benchmark.py
# (about 2 minutes per moat binary). Not part of tests/run_all.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
exec python3 tests/perf/run_hostile_benchmark.py "$@"
