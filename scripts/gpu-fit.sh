#!/usr/bin/env bash
# The heuristic's time model, its data (dev/fit_tile_model.py fits it): build, then
# w4a16-bench --config all with the wave rule's plans (W4A16_SM90_MODEL=0: the model itself
# would otherwise turn some of the rule's stream-K down) and with stream-K off (W4A16_SM90_STREAM=0).
# Output in ./out-fit and, as one archive, $OUT/fit.tgz.
#   scripts/gpu-fit.sh STEP...   (default: quick fit-sk fit-nosk)
#   quick                 quick_check of every configuration (a new tile needs it first)
#   fit-sk, fit-nosk      the model's 72 problems (M = 96 ... 2048 on eight model shapes)
#   val-sk, val-nosk      70 held-out problems (M = 80 ... 3072 on ten model shapes)
# Since session 17 the bench idles 100 ms before every window (each of the eleven sm90 configurations
# and cuBLAS, twice): ~2.3 s more per problem, ~3 minutes more per step. Sessions 15 and 16
# (three steps in one 10-minute device call) ran with the old protocol; give a call at most two
# steps now, or FIT_BENCH_OPTS=--settle-once for data comparable with theirs.
set -uo pipefail
steps=${*:-quick fit-sk fit-nosk}
out=./out-fit; rm -rf "$out"; mkdir -p "$out"
exec > >(tee "$out/summary.txt") 2>&1
B=build-gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader
. "$(dirname "$0")/gpu-build.sh"
gpu_build $B "$out" || exit 1
for step in $steps; do
  case $step in
    quick) echo "quick_check: $(./$B/dev/quick_check --no-time 2>&1 | tee "$out/quick.log" | tail -1)"; continue ;;
    fit-*) NK=4096x4096,6144x4096,14336x4096,28672x4096,4096x14336,10240x8192,8192x8192,57344x8192
           M=96,128,192,256,384,512,768,1024,2048 ;;
    val-*) NK=4096x14336,6144x4096,14336x4096,28672x4096,10240x8192,57344x8192,5120x5120,5120x13824,13824x5120,8192x29568
           M=80,160,320,448,640,1536,3072 ;;
    *) echo "unknown step $step"; exit 2 ;;
  esac
  case $step in *-sk) mode=W4A16_SM90_MODEL=0 ;; *) mode=W4A16_SM90_STREAM=0 ;; esac
  env $mode ./$B/bench/w4a16-bench --nk $NK --m $M --config all --iters 30 ${FIT_BENCH_OPTS:-} --csv "$out/$step.csv" > "$out/$step.txt" 2>&1
  echo "$step ($mode): rc=$? $(grep -c ' us (sm90' "$out/$step.txt") problems"
done
sleep 1
tar czf "${OUT:-.}/fit.tgz" -C "$out" .
