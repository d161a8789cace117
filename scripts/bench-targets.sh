#!/usr/bin/env bash
# bench-targets.sh - the full TARGETS.md sweep: shapes 4096x4096, 8192x8192, 8192x28672,
# 57344x8192 (N x K), M in 1,4,16,64,256,1024,4096, fp16 and bf16, zeros none and int, group 128.
# Writes OUTDIR/targets.txt (the report), targets.log (progress and check details), targets.csv,
# targets.json and, when gnuplot exists, the plots of plot-bench.sh.
#
# usage: scripts/bench-targets.sh [OUTDIR] [extra w4a16-bench options, e.g. --config all]
#   OUTDIR defaults to ./out. The binary is $W4A16_BENCH, else the first of
#   build/bench/w4a16-bench and build-gpu/bench/w4a16-bench that exists.
# Exit status: w4a16-bench's (0 all rows verified, 1 a failure, 77 no usable GPU).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-./out}
[[ $# -gt 0 ]] && shift
bench=${W4A16_BENCH:-}
if [[ -z $bench ]]; then
    for b in "$root/build/bench/w4a16-bench" "$root/build-gpu/bench/w4a16-bench"; do
        if [[ -x $b ]]; then bench=$b; break; fi
    done
    bench=${bench:-$root/build/bench/w4a16-bench}
fi
if [[ ! -x $bench ]]; then
    echo "bench-targets.sh: $bench not found; build it first:" >&2
    echo "  cmake -S . -B build && cmake --build build -j --target w4a16-bench" >&2
    exit 2
fi
mkdir -p "$out"

"$bench" --targets --dtype both --zeros none,int --group 128 \
    --csv "$out/targets.csv" --json "$out/targets.json" "$@" \
    2> >(tee "$out/targets.log" >&2) | tee "$out/targets.txt"
rc=${PIPESTATUS[0]}
if [[ $rc -eq 77 ]]; then
    echo "bench-targets.sh: no usable GPU; nothing measured"
    exit 77
fi
if [[ -s $out/targets.csv ]]; then
    gpu=$(sed -n 's/^GPU [0-9]*: \([^,]*\),.*/\1/p' "$out/targets.txt" | head -n 1)
    "$here/plot-bench.sh" "$out/targets.csv" "$out" "$gpu" || echo "bench-targets.sh: plotting failed" >&2
fi
exit "$rc"
