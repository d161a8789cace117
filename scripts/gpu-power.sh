#!/usr/bin/env bash
# Power and clock of our kernel against cuBLAS, each run alone back to back for a few seconds
# (dev/pipe_probe PIPE_PROBE_SUSTAIN), with nvidia-smi sampling every 100 ms: the mean SM clock
# and power draw of each phase, and the energy per GEMM. Needs build-gpu/dev/pipe_probe.
#   scripts/gpu-power.sh ["M N K,..."] [seconds]
# PROG=wgmma_power scripts/gpu-power.sh ITERS [seconds]: dev/wgmma_power's cases instead.
set -uo pipefail
shapes=${1:-1024 8192 8192,4096 8192 8192}
secs=${2:-3}
B=${B:-build-gpu}
log=$(mktemp)
IFS=, read -ra list <<< "$shapes"
for s in "${list[@]}"; do
  stdbuf -oL nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw --format=csv,noheader,nounits -lms 100 > "$log" 2>/dev/null &
  smi=$!
  out=$(PIPE_PROBE_SUSTAIN=$secs ./$B/dev/${PROG:-pipe_probe} $s 2>&1)
  kill -INT $smi 2>/dev/null; wait $smi 2>/dev/null
  echo "$out" | grep '^sustain' | while read -r line; do
    t0=$(echo "$line" | sed -E 's/.*wall ([0-9.]+) \.\. ([0-9.]+).*/\1/'); t1=$(echo "$line" | sed -E 's/.*wall ([0-9.]+) \.\. ([0-9.]+).*/\2/')
    us=$(echo "$line" | sed -E 's/.*launches, ([0-9.]+) us each.*/\1/')
    # skip the first 0.5 s of each phase (clocks and power settle)
    awk -F', ' -v a="$t0" -v b="$t1" -v us="$us" -v name="$(echo "$line" | cut -c9-33)" '
      { cmd = "date -d \"" $1 "\" +%s.%N"; cmd | getline t; close(cmd)
        if (t >= a + 0.5 && t <= b) { n++; c += $2; p += $3 } }
      END { if (n) printf "  %s %8.2f us  SM %4.0f MHz  %5.0f W  %7.1f mJ per GEMM  (%d samples)\n", name, us, c / n, p / n, p / n * us * 1e-3, n }' "$log"
  done
  echo "^ $s"
done
rm -f "$log"
