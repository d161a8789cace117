#!/usr/bin/env bash
# Kernel-development call on the H100: build, the memory-pipeline probe on the decode and
# prefill shapes, ncu on one decode and one prefill launch, then quick_check's correctness pass.
#   scripts/gpu-probe.sh [probe|ncu|check]...   (default: all three); outputs under $OUT.
set -uo pipefail
out=${OUT:-./out}; mkdir -p "$out"
B=build-gpu
what=${*:-sass probe ncu check}
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader || true
. "$(dirname "$0")/gpu-build.sh"
gpu_build $B "$out" || exit 1
if [[ $what == *sass* ]]; then
  so=$(ls $B/src/libw4a16.so.*.* | head -1)
  cuobjdump -sass "$so" > "$out/sass.txt" 2>/dev/null
  echo "SASS: HGMMA $(grep -c HGMMA "$out/sass.txt"), UTMALDG $(grep -c UTMALDG "$out/sass.txt"), LDS $(grep -c 'LDS' "$out/sass.txt"), LD.E $(grep -c 'LD\.E' "$out/sass.txt"), LDL/STL $(grep -cE '\bLDL|\bSTL' "$out/sass.txt")"
  [ -n "${KEEP_SASS:-}" ] || rm -f "$out/sass.txt"
fi
if [[ $what == *probe* ]]; then
  IFS=, read -ra shapes <<< "${PROBE_SHAPES:-16 8192 8192,1 8192 8192,16 57344 8192,16 8192 28672,256 8192 8192,4096 8192 8192}"
  for s in "${shapes[@]}"; do
    ./$B/dev/pipe_probe $s 2>&1
  done | tee "$out/probe.txt"
fi
if [[ $what == *ncu* ]]; then
  secs="--section SpeedOfLight --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis --section Occupancy --section LaunchStats --section SourceCounters"
  IFS=, read -ra cases <<< "${NCU_CASES:-1 16 8192 8192 dec,6 4096 8192 8192 pre}"
  for c in "${cases[@]}"; do
    set -- $c
    timeout 200 ncu $secs -k regex:gemm_kernel -s 3 -c 1 -f -o "$out/ncu_$5" ./$B/dev/quick_check --time $1 $2 $3 $4 > "$out/ncu_$5.log" 2>&1
    ncu -i "$out/ncu_$5.ncu-rep" --page details > "$out/ncu_$5.txt" 2>&1
    ncu -i "$out/ncu_$5.ncu-rep" --page source --csv --print-source sass > "$out/ncu_$5_sass.csv" 2>&1
    rm -f "$out/ncu_$5.ncu-rep"
    grep -E "Duration|DRAM Throughput|Compute \(SM\) Throughput|Issued Ipc|No Eligible|Active Warps Per" "$out/ncu_$5.txt" | head -12
  done
fi
if [[ $what == *check* ]]; then
  echo "quick_check: $(./$B/dev/quick_check --no-time 2>&1 | tail -1)"
  echo "quick_check, stream-K forced: $(W4A16_SM90_STREAM=1 ./$B/dev/quick_check --no-time 2>&1 | tail -1)"
  echo "quick_check, cluster split-K forced: $(W4A16_SM90_CSPLIT=1 ./$B/dev/quick_check --no-time 2>&1 | tail -1)"
  echo "quick_check, direct stores: $(W4A16_SM90_TMA_STORE=0 ./$B/dev/quick_check --no-time 2>&1 | tail -1)"
  ctest --test-dir $B -L gpu -E memcheck --output-on-failure > "$out/ctest.log" 2>&1; tail -4 "$out/ctest.log"
fi
