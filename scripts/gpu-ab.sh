#!/usr/bin/env bash
# A/B timing of several trees on the same H100 in one device call: the working tree and base
# revisions or patched copies unpacked into ab-*/ (the device machine's .git may be stale, so
# they travel as files: ab-*/ is git-ignored, pass each in the device call's carry list).
# Prepare them here, then run this script on the device:
#   rm -rf ab-base && mkdir ab-base && git archive REV | tar -x -C ab-base
#   scripts/gpu-ab.sh ["M N K,M N K,..."]      (default: decode and prefill shapes of 8192^2)
# AB_TREES (default "ab-base .") lists the trees in order. Default mode: dev/pipe_probe's
# heuristic, configuration and cuBLAS rows of every tree, alternating trees per shape.
# AB_TIME="CFG M N K,..." instead builds only quick_check with the configurations AB_CONFIGS
# (a W4A16_CONFIGS list; CFG is the library's configuration index: 0 the SIMT reference, then
# AB_CONFIGS in configs.def order; -1 the heuristic) and prints quick_check --time for
# each case and tree, AB_ROUNDS (default 2) rounds of all trees.
# AB_BENCH="w4a16-bench options" instead builds w4a16-bench and runs it AB_ROUNDS (default 4)
# rounds, the trees alternating (see below); it prints each row's medians (every round) per
# tree, the ratio of each tree's summed time to the first tree's (rows pair by problem; each
# tree's configuration is printed with its times), and the geometric mean of those ratios. Use it to judge a change: the bench is what the targets
# are measured with, and single rows move by up to 3% between runs of one tree (session 8).
# In the AB_BENCH and AB_TIME modes the trees run in reverse order in every other round: a tree
# run later in a round ran 0.3-1% faster (session 29: unchanged kernels' rows 0.985-1.000 in the
# later tree, the base tree run first and third 1.0027 over 64 rows), so give an even number of
# rounds to put each tree in each position equally often.
# ab-*/ is not part of the project: delete it afterwards.
set -uo pipefail
trees=${AB_TREES:-ab-base .}
# the trees in round $1's order: as listed in odd rounds, reversed in even ones
round_trees() { if (( $1 % 2 )); then echo "$trees"; else echo "$trees" | tr ' ' '\n' | tac | tr '\n' ' '; fi; }
shapes=${1:-16 8192 8192,64 8192 8192,256 8192 8192,1024 8192 8192}
target=pipe_probe
extra=()
if [[ -n ${AB_BENCH:-} ]]; then
  target=w4a16-bench
  # AB_CONFIGS, if given, restricts the build here too (faster; --config all then times only these)
  [[ -n ${AB_CONFIGS:-} ]] && extra=(-DW4A16_CONFIGS="$AB_CONFIGS")
elif [[ -n ${AB_TIME:-} ]]; then
  target=quick_check
  extra=(-DW4A16_CONFIGS="${AB_CONFIGS:-t16_w3_k128_s10;t128_w2_k128_s5;t256_w2_k64_s6}")
fi
t0=$(date +%s)
for t in $trees; do
  [[ -d $t/src ]] || { echo "gpu-ab.sh: $t/ missing (see the header)"; exit 2; }
  ( cmake -S $t -B $t/build-ab -DCMAKE_CUDA_ARCHITECTURES=90a -DCMAKE_BUILD_TYPE=Release -DW4A16_BUILD_TOOLS=OFF \
      -DW4A16_BUILD_TESTS=OFF "${extra[@]}" >/dev/null 2>&1 && cmake --build $t/build-ab -j8 --target $target \
      >$t/build-ab.log 2>&1 || echo "gpu-ab.sh: build of $t failed" ) &
done
wait
echo "builds: $(( $(date +%s) - t0 )) s"
if [[ -n ${AB_BENCH:-} ]]; then
  rows=$(mktemp)
  for round in $(seq "${AB_ROUNDS:-4}"); do
    for t in $(round_trees "$round"); do
      # shellcheck disable=SC2086 # AB_BENCH is a list of options
      ./$t/build-ab/bench/w4a16-bench $AB_BENCH 2>/dev/null |
        awk -v t="$t" -v r="$round" '$1 ~ /^[0-9]+$/ && NF >= 16 { print t, r, $1 "x" $2 "x" $3 "/g" $4 "/" $5 "/" $6, $8, $7 }' >> "$rows"
    done
  done
  awk -v trees="$trees" '
    BEGIN { nt = split(trees, tr, " ") }
    { key[$3] = 1; if (!(($3) in order)) { order[$3] = ++nk; name[nk] = $3 }
      sum[$1, $3] += $4; list[$1, $3] = list[$1, $3] " " $4; cfg[$1, $3] = $5 }
    END {
      for (k = 1; k <= nk; k++) {
        line = name[k]
        for (i = 1; i <= nt; i++) line = line "  " tr[i] " " cfg[tr[i], name[k]] ":" list[tr[i], name[k]]
        for (i = 2; i <= nt; i++) if (sum[tr[1], name[k]] > 0 && sum[tr[i], name[k]] > 0) {
          r = sum[tr[i], name[k]] / sum[tr[1], name[k]]; line = line sprintf("  %s/%s %.3f", tr[i], tr[1], r)
          lg[i] += log(r); n[i]++ }
        print line }
      for (i = 2; i <= nt; i++) if (n[i]) printf "geometric mean of %s/%s over %d rows: %.4f\n", tr[i], tr[1], n[i], exp(lg[i] / n[i])
    }' "$rows"
  rm -f "$rows"
  exit 0
fi
if [[ -n ${AB_TIME:-} ]]; then
  IFS=, read -ra cases <<< "$AB_TIME"
  for round in $(seq "${AB_ROUNDS:-2}"); do
    for c in "${cases[@]}"; do
      for t in $(round_trees "$round"); do
        printf '%-8s r%d ' "$t" "$round"
        ./$t/build-ab/dev/quick_check --time $c 2>&1 | tail -1
      done
    done
  done
  exit 0
fi
IFS=, read -ra list <<< "$shapes"
for s in "${list[@]}"; do
  for t in $trees; do
    echo "== $t: $s"
    ./$t/build-ab/dev/pipe_probe $s 2>&1 | grep -E "^(heuristic|sm90_|cublas)"
  done
done
