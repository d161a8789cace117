#!/usr/bin/env bash
# One full H100 pass: build, correctness (quick_check + ctest gpu), demo, the TARGETS sweep,
# SASS facts, sanitizers on small shapes. Results under $OUT (or ./out).
set -uo pipefail
out=${OUT:-./out}; mkdir -p "$out"
B=build-gpu
cmake -S . -B $B -DCMAKE_CUDA_ARCHITECTURES=90a -DW4A16_BUILD_TOOLS=OFF >/dev/null 2>&1
cmake --build $B -j16 > "$out/build.log" 2>&1 || { grep -E "error" -A3 "$out/build.log" | head -30; exit 1; }
echo "C75 notes: $(grep -c C75 "$out/build.log")"
./$B/dev/quick_check --no-time 2>&1 | tail -2
ctest --test-dir $B -L gpu -E memcheck --output-on-failure 2>&1 | tail -12 | tee "$out/ctest.txt"
./$B/examples/w4a16-demo 2>&1 | tee "$out/demo.txt" | tail -12
W4A16_BENCH=./$B/bench/w4a16-bench timeout 300 scripts/bench-targets.sh "$out/targets" --iters 30 > "$out/bench.stdout" 2>&1
tail -75 "$out/targets/targets.txt" 2>/dev/null || tail -30 "$out/bench.stdout"
so=$(ls $B/src/libw4a16.so* | head -1)
cuobjdump -sass "$so" > "$out/sass.txt" 2>/dev/null
echo "SASS: HGMMA $(grep -c HGMMA "$out/sass.txt"), UTMALDG $(grep -c UTMALDG "$out/sass.txt"), UBLKCP $(grep -c UBLKCP "$out/sass.txt"), LDL/STL $(grep -cE '\bLDL|\bSTL' "$out/sass.txt")"
for tool in memcheck racecheck synccheck; do
  timeout 60 compute-sanitizer --tool $tool --error-exitcode 9 ./$B/tests/test_gpu_gemm --small > "$out/san-$tool.txt" 2>&1
  echo "compute-sanitizer $tool: rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$tool.txt" | tail -1)"
done
rm -f "$out/sass.txt"
