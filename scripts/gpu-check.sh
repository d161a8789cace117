#!/usr/bin/env bash
# The one-call GPU loop on the H100 machine: build, quick kernel check, GPU test tier, demo/bench.
#   scripts/gpu-check.sh [quick|tests|all]   (default all); logs go to $OUT (or ./out) as well.
set -uo pipefail
what=${1:-all}
out=${OUT:-./out}
mkdir -p "$out"
B=build-gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv,noheader || true
t0=$(date +%s)
cmake -S . -B $B -DCMAKE_CUDA_ARCHITECTURES=90a -DCMAKE_BUILD_TYPE=Release -DW4A16_BUILD_TOOLS=OFF >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build $B -j16 >"$out/build.log" 2>&1 || { grep -E "error" -A3 "$out/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
grep -E "C75[0-9]{2}" "$out/build.log" && echo "WARNING: wgmma serialization notes above"
rc=0
if [ "$what" = quick ] || [ "$what" = all ]; then
  ./$B/dev/quick_check 2>&1 | tee "$out/quick.log" | tail -60 || rc=1
fi
if [ "$what" = tests ] || [ "$what" = all ]; then
  ctest --test-dir $B --output-on-failure -j1 2>&1 | tee "$out/ctest.log" | tail -40 || rc=1
fi
exit $rc
