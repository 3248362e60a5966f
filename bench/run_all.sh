#!/usr/bin/env bash
# Run every benchmark at full size, one after the other, and keep each script's output.
#   bench/run_all.sh [results-dir]      (default: bench/results/<UTC date-time>)
# Figures in docs/benchmarks.md come from such a run. Takes about 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=${1:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
run() { local name=$1; shift; echo "== $name: $*"; "$PY" "$@" 2>&1 | tee "$OUT/$name.txt"; }
run chain bench/chain.py
run fanout bench/fanout.py
run controller bench/controller.py
run large bench/large.py
run step_breakdown bench/step_breakdown.py
run step_breakdown_preload bench/step_breakdown.py --experiment preload-runtime
SETPOINT_BENCH_TMP=/dev/shm run step_breakdown_preload_tmpfs bench/step_breakdown.py --experiment preload-runtime
run ab_chain bench/ab.py chain warm.period.median_ms --experiments - preload-runtime --repeat 3
run ab_fanout bench/ab.py fanout total_s --experiments - preload-runtime --repeat 3
SETPOINT_BENCH_TMP=/dev/shm run fanout_preload_tmpfs bench/fanout.py --experiment preload-runtime
run large_preload bench/large.py --skip-table --skip-cascade --experiment preload-runtime
echo "results in $OUT"
