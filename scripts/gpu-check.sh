#!/usr/bin/env bash
# The one-call GPU loop on the H100 machine: build, quick kernel check, GPU test tier, demo/bench.
#   scripts/gpu-check.sh [quick|tests|all]   (default all); logs go to $OUT (or ./out) as well.
set -uo pipefail
what=${1:-all}
out=${OUT:-./out}
mkdir -p "$out"
B=build-gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv,noheader || true
. "$(dirname "$0")/gpu-build.sh"
gpu_build $B "$out" || exit 1
rc=0
if [ "$what" = quick ] || [ "$what" = all ]; then
  ./$B/dev/quick_check 2>&1 | tee "$out/quick.log" | tail -60 || rc=1
fi
if [ "$what" = tests ] || [ "$what" = all ]; then
  ctest --test-dir $B --output-on-failure -j1 2>&1 | tee "$out/ctest.log" | tail -40 || rc=1
fi
exit $rc
