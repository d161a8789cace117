#!/usr/bin/env bash
# Decode loop on the H100 machine: build the library, quick_check (every configuration,
# correctness only), then w4a16-bench on a few shapes with the heuristic and with each
# configuration named in DECODE_CONFIGS (names, or "all": every configuration, the best reported).
#   scripts/gpu-decode.sh [check|bench|all]   DECODE_NK (NxK list), DECODE_M (M list),
#   DECODE_ENV ("VAR=v,VAR=v": one more pass per setting for each DECODE_CONFIGS entry),
#   DECODE_HEUR=0 (no heuristic pass), DECODE_BENCH (more w4a16-bench options, e.g. "--dtype both");
#   each pass's whole output goes to $OUT/bench-N.txt (--config all lists every configuration's time
#   there: dev/fit_decode_model.py reads it)
# Prints one line per row: M N K dtype zeros config med_us %bw cuBLAS_us xcuBLAS.
set -uo pipefail
what=${1:-all}
out=${OUT:-./out}; mkdir -p "$out"
B=build-gpu
nk=${DECODE_NK:-4096x4096,8192x8192,8192x28672,57344x8192,2048x8192,14336x4096}
ms=${DECODE_M:-1,4,8,16}
. "$(dirname "$0")/gpu-build.sh"
gpu_build $B "$out" || exit 1
if [[ $what == all || $what == check ]]; then
  echo "quick_check: $(./$B/dev/quick_check --no-time 2>&1 | tee "$out/quick.log" | tail -1)"
fi
if [[ $what == all || $what == bench ]]; then
  # shellcheck disable=SC2086
  pass=0
  bench() { pass=$((pass + 1))
            ./$B/bench/w4a16-bench --nk "$nk" --m "$ms" --iters 30 --settle-ms 20 --warmup-ms 10 ${DECODE_BENCH:-} "$@" 2>&1 |
            tee "$out/bench-$pass.txt" | awk '$1 ~ /^[0-9]+$/ && NF > 12 {
              c = $7; i = 8; if ($8 == "(of") { c = $7 " " $8 " " $9; i = 10 }
              print $1, $2, $3, $5, $6, c, $i, $(i + 5), $(i + 6), $(i + 7) }'; }
  echo "# M N K dtype zeros config med_us %bw cuBLAS_us xcuBLAS"
  [[ ${DECODE_HEUR:-1} != 0 ]] && { echo "## heuristic"; bench; }
  for cfg in ${DECODE_CONFIGS:-}; do
    echo "## $cfg"; bench --config "$cfg"
    for e in $(tr ',' ' ' <<< "${DECODE_ENV:-}"); do echo "## $cfg $e"; (export "$e"; bench --config "$cfg"); done
  done
fi
