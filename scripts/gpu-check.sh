#!/usr/bin/env bash
# The one-call GPU loop on the H100 machine: build, quick kernel check, GPU test tier, demo/bench.
#   scripts/gpu-check.sh [quick|tests|all|pdl]   (default all); logs go to $OUT (or ./out) as well.
#   pdl (not in all): tests/test_gpu_pdl and dev/pdl_chain (chains of GEMMs with pdl 0 / 1 and
#   cuBLAS) over PDL_SHAPES="M N K[ bf16][ int];..." (default: the TARGETS decode shapes and
#   8192^2 M = 64, 256), PDL_ROUNDS rounds (20).
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
if [ "$what" = pdl ]; then
  rm -f "$out/pdl-chain.log"
  ./$B/tests/test_gpu_pdl > "$out/pdl-test.log" 2>&1 || rc=1
  grep -vE "^pdl M=.*: ok$" "$out/pdl-test.log" | tail -30
  shapes=${PDL_SHAPES:-"1 4096 4096;1 8192 8192;16 8192 8192;1 8192 28672;1 57344 8192;64 8192 8192;256 8192 8192"}
  IFS=';' read -ra list <<< "$shapes"
  for sh in "${list[@]}"; do # not in a pipe: rc is this shell's
    # shellcheck disable=SC2086
    ./$B/dev/pdl_chain $sh "${PDL_ROUNDS:-20}" >> "$out/pdl-chain.log" 2>&1 || rc=1
  done
  cat "$out/pdl-chain.log"
fi
exit $rc
