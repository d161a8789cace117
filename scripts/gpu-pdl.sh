#!/usr/bin/env bash
# w4a16_problem::pdl on the H100 machine: the build, tests/test_gpu_pdl (the GEMMs behind a late
# writer) and dev/pdl_chain (chains of GEMMs with pdl 0 / 1 and cuBLAS) on the TARGETS shapes.
#   scripts/gpu-pdl.sh [test|chain|all]   (default all); PDL_SHAPES="M N K[ bf16][ int];...",
#   PDL_ROUNDS (20); logs in $OUT (or ./out).
set -uo pipefail
what=${1:-all}
out=${OUT:-./out}
mkdir -p "$out"
B=build-gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv,noheader || true
. "$(dirname "$0")/gpu-build.sh"
gpu_build $B "$out" || exit 1
rc=0
if [ "$what" = test ] || [ "$what" = all ]; then
  ./$B/tests/test_gpu_pdl > "$out/pdl-test.log" 2>&1 || rc=1
  grep -vE "^pdl M=.*: ok$" "$out/pdl-test.log" | tail -30
fi
if [ "$what" = chain ] || [ "$what" = all ]; then
  shapes=${PDL_SHAPES:-"1 4096 4096;1 8192 8192;16 8192 8192;1 8192 28672;1 57344 8192;64 8192 8192;256 8192 8192"}
  IFS=';' read -ra list <<< "$shapes"
  for sh in "${list[@]}"; do
    # shellcheck disable=SC2086
    ./$B/dev/pdl_chain $sh "${PDL_ROUNDS:-20}" 2>&1 || rc=1
  done | tee "$out/pdl-chain.log"
fi
exit $rc
