#!/usr/bin/env bash
# The decode kernel's checks in one device call (session 21): build, compute-sanitizer memcheck /
# racecheck / synccheck on test_gpu_gemm --small with only the decode kernel forced (and memcheck /
# racecheck with two fragments per stripe forced at every M, W4A16_GEMV_NR=2), memcheck and
# racecheck on problems where its warps rule takes 4 warps per stripe (and gemv_t16 two fragments),
# and test_gpu_gemm's long tier for it in four parts. Prints one line per step; the logs go to $OUT
# (at most 8 files come back from the device tool, so they are packed into $OUT/gemv-check.tgz).
set -uo pipefail
out=${OUT:-./out}/gemv-check; mkdir -p "$out"
B=build-gpu
. "$(dirname "$0")/gpu-build.sh"
gpu_build $B "$out" || exit 1
export W4A16_TEST_CONFIGS=gemv
for t in memcheck racecheck synccheck; do
  timeout 100 compute-sanitizer --tool $t --error-exitcode 9 ./$B/tests/test_gpu_gemm --small > "$out/san-$t.txt" 2>&1
  echo "$t, test_gpu_gemm --small (gemv forced): rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$t.txt" | tail -1)"
done
for t in memcheck racecheck; do
  W4A16_GEMV_NR=2 timeout 100 compute-sanitizer --tool $t --error-exitcode 9 ./$B/tests/test_gpu_gemm --small > "$out/san-$t-nr2.txt" 2>&1
  echo "$t, test_gpu_gemm --small (gemv forced, W4A16_GEMV_NR=2): rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$t-nr2.txt" | tail -1)"
done
for c in "gemv_t8 8 7168 2048" "gemv_t16 13 8192 2048" "gemv_t16 16 8192 2048"; do
  for t in memcheck racecheck; do
    timeout 100 compute-sanitizer --tool $t --error-exitcode 9 ./$B/dev/quick_check --one $c > "$out/san-$t-${c// /_}.txt" 2>&1
    echo "$t, quick_check --one $c: rc=$? $(grep -E 'one case|ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$t-${c// /_}.txt" | tr '\n' ' ')"
  done
done
for p in 1 2 3 4; do
  W4A16_TEST_LONG=1 W4A16_TEST_PART=$p/4 timeout 120 ./$B/tests/test_gpu_gemm > "$out/long-$p.txt" 2>&1
  echo "long tier part $p/4 (gemv forced): rc=$? $(grep -E 'GEMM calls' "$out/long-$p.txt" | tail -1) $(grep -c FAILED "$out/long-$p.txt") FAILED line(s)"
done
tar czf "${OUT:-.}/gemv-check.tgz" -C "$out" . && rm -rf "$out"
