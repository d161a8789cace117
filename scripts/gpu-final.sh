#!/usr/bin/env bash
# One full H100 pass: build, correctness (quick_check with the plan's choice, and with stream-K,
# the cluster split and the direct stores forced; ctest -L gpu), demo, the TARGETS sweep, SASS
# facts, sanitizers on small shapes.
# Everything lands in ./out-final and, as one archive (the device tool returns at most 8
# files), in $OUT/final.tgz.
#   scripts/gpu-final.sh [all|check|sanitize|bench|long]   check: correctness, demo and SASS;
#   sanitize: the sanitizers; bench: the sweep and pipe_probe (GPU_FINAL_PROBE=0: the sweep only);
#   long (not in all): test_gpu_gemm's long tier, W4A16_TEST_PART=i/n for a part of it.
#   W4A16_TEST_CONFIGS=gemv (a list of name prefixes) limits the forced configurations of
#   test_gpu_gemm, in the sanitizers' --small pass and the long tier, to those named.
#   Each part builds first and fits the device tool's 10-minute command limit alone (check with
#   the sanitizers ran past it on a fresh machine in session 17).
set -uo pipefail
what=${1:-all}
out=./out-final; rm -rf "$out"; mkdir -p "$out"
# Everything this script prints also goes to summary.txt in the archive: the device tool
# returns only the last 12,000 characters of output, and in session 3 the SASS line fell out.
exec > >(tee "$out/summary.txt") 2>&1
B=build-gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,driver_version --format=csv,noheader | tee "$out/gpu.txt"
. "$(dirname "$0")/gpu-build.sh"
gpu_build $B "$out" || exit 1
if [[ $what == all || $what == check ]]; then
echo "quick_check: $(./$B/dev/quick_check --no-time 2>&1 | tee "$out/quick.log" | tail -1)"
echo "quick_check, stream-K forced: $(W4A16_SM90_STREAM=1 ./$B/dev/quick_check --no-time 2>&1 | tee "$out/quick-stream.log" | tail -1)"
echo "quick_check, cluster split-K forced: $(W4A16_SM90_CSPLIT=1 ./$B/dev/quick_check --no-time 2>&1 | tee "$out/quick-csplit.log" | tail -1)"
echo "quick_check, direct stores: $(W4A16_SM90_TMA_STORE=0 ./$B/dev/quick_check --no-time 2>&1 | tee "$out/quick-direct.log" | tail -1)"
ctest --test-dir $B -L gpu -E memcheck --output-on-failure > "$out/ctest.txt" 2>&1; grep -E "tests passed|Failed|Total Test" "$out/ctest.txt"
./$B/examples/w4a16-demo > "$out/demo.txt" 2>&1; tail -4 "$out/demo.txt"
so=$(ls $B/src/libw4a16.so.*.* | head -1)
cuobjdump -sass "$so" > "$out/sass.txt" 2>/dev/null
echo "SASS: HGMMA $(grep -c HGMMA "$out/sass.txt"), UTMALDG $(grep -c UTMALDG "$out/sass.txt"), UBLKCP $(grep -c UBLKCP "$out/sass.txt"), LDL/STL $(grep -cE '\bLDL|\bSTL' "$out/sass.txt")"
rm -f "$out/sass.txt"
fi
if [[ $what == all || $what == sanitize ]]; then
for tool in memcheck racecheck synccheck; do
  timeout 90 compute-sanitizer --tool $tool --error-exitcode 9 ./$B/tests/test_gpu_gemm --small > "$out/san-$tool.txt" 2>&1
  echo "compute-sanitizer $tool: rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$tool.txt" | tail -1)"
done
# the ping-pong kernel's hand-over between its warpgroups needs several tiles per CTA (325 tiles of
# 128 x 128 on 132 SMs); test_gpu_gemm --small has fewer tiles than SMs
for tool in racecheck synccheck; do
  timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 ./$B/dev/quick_check --one sm90_t128_p2_k128_s5 520 8256 640 > "$out/san-$tool-pp.txt" 2>&1
  echo "compute-sanitizer $tool, ping-pong, 520x8256x640: rc=$? $(grep -E 'one case|ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$tool-pp.txt" | tr '\n' ' ')"
done
# pdl = 1 (test_gpu_pdl, its control off: the sanitizer serializes the kernels, so the GEMMs start after
# the late writer; what this checks is the pdl path's accesses)
W4A16_TEST_PDL_CONTROL=0 timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 ./$B/tests/test_gpu_pdl > "$out/san-memcheck-pdl.txt" 2>&1
echo "compute-sanitizer memcheck, test_gpu_pdl: rc=$? $(grep -E 'GEMM calls|ERROR SUMMARY' "$out/san-memcheck-pdl.txt" | tr '\n' ' ')"
for mode in W4A16_SM90_STREAM=1 W4A16_SM90_CSPLIT=1; do
  for tool in memcheck racecheck; do
    env $mode timeout 90 compute-sanitizer --tool $tool --error-exitcode 9 ./$B/tests/test_gpu_gemm --small > "$out/san-$tool-$mode.txt" 2>&1
    echo "compute-sanitizer $tool, $mode: rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$tool-$mode.txt" | tail -1)"
  done
done
fi
if [[ $what == long ]]; then
W4A16_TEST_LONG=1 timeout ${LONG_TIMEOUT:-520} ./$B/tests/test_gpu_gemm > "$out/long.txt" 2>&1
echo "test_gpu_gemm long tier${W4A16_TEST_PART:+, part $W4A16_TEST_PART}${W4A16_TEST_CONFIGS:+, forced configurations $W4A16_TEST_CONFIGS*}: rc=$?"
grep -E "configurations|FAILED|GEMM calls|bad elements" "$out/long.txt" | head -12
fi
if [[ $what == all || $what == bench ]]; then
# SM clock, power and temperature every 500 ms during the sweep (dev/NOTES.md: the sweep once
# timed both kernels 17-26% slower at M >= 256 than pipe_probe runs on other machines), then
# pipe_probe on two of the same problems on this machine for comparison.
# (line-buffered: in session 3 the log, block-buffered and then killed, kept only its first 13 s;
# the bench's progress lines in targets.log carry wall-clock times to match against it)
stdbuf -oL nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active \
    --format=csv -lms 500 > "$out/clocks.csv" 2>/dev/null &
smi=$!
W4A16_BENCH=./$B/bench/w4a16-bench timeout ${BENCH_TIMEOUT:-330} scripts/bench-targets.sh "$out/targets" --iters 30 > "$out/bench.stdout" 2>&1
echo "bench rc=$?"
kill -INT $smi 2>/dev/null; sleep 1
awk -F', ' 'NR > 1 { n++; c += $2; p += $3; if ($5 != "0x0000000000000000") capped++; if (min == "" || $2 + 0 < min) min = $2 + 0 } END { if (n) printf "SM clock during the sweep: mean %.0f MHz, min %d MHz; power mean %.0f W; throttled in %d of %d samples\n", c / n, min, p / n, capped, n }' "$out/clocks.csv"
if [[ ${GPU_FINAL_PROBE:-1} != 0 ]]; then
  for s in "1024 8192 8192" "256 57344 8192"; do ./$B/dev/pipe_probe $s; done > "$out/probe.txt" 2>&1
  PIPE_PROBE_STAMPS=1 ./$B/dev/pipe_probe 256 8192 8192 > "$out/stamps.txt" 2>&1
  grep -E "heuristic|cublas|t256_w2_k64_s6 " "$out/probe.txt"
fi
# the table and its summaries; of the target verdicts (one line per miss) only the count, so that
# the table stays inside the device tool's 12,000 characters of output (all of it is in the archive)
if [[ -f $out/targets/targets.txt ]]; then
  grep -v '^  missed: ' "$out/targets/targets.txt" | tail -80
  echo "($(grep -c '^  missed: ' "$out/targets/targets.txt") row(s) missed a target: targets/targets.txt in the archive)"
else
  tail -30 "$out/bench.stdout"
fi
fi
sleep 1 # let tee write the lines above into summary.txt
tar czf "${OUT:-.}/final.tgz" -C "$out" .
