#!/usr/bin/env bash
# A/B timing of two trees on the same H100 in one device call: the working tree and a base
# revision unpacked into ab-base/ (the device machine's .git may be stale, so the base travels
# as files: ab-base/ is git-ignored, pass it in the device call's carry list). Prepare it here,
# then run this script on the device:
#   rm -rf ab-base && mkdir ab-base && git archive REV | tar -x -C ab-base
#   scripts/gpu-ab.sh ["M N K,M N K,..."]      (default: decode and prefill shapes of 8192^2)
# Prints dev/pipe_probe's heuristic, configuration and cuBLAS rows of both trees, alternating
# base and working tree per shape. ab-base/ is not part of the project: delete it afterwards.
set -uo pipefail
[[ -d ab-base/src ]] || { echo "gpu-ab.sh: ab-base/ missing (see the header)"; exit 2; }
shapes=${1:-16 8192 8192,64 8192 8192,256 8192 8192,1024 8192 8192}
for t in ab-base .; do
  cmake -S $t -B $t/build-ab -DCMAKE_CUDA_ARCHITECTURES=90a -DCMAKE_BUILD_TYPE=Release -DW4A16_BUILD_TOOLS=OFF \
      -DW4A16_BUILD_TESTS=OFF >/dev/null 2>&1 && cmake --build $t/build-ab -j16 --target pipe_probe >/dev/null 2>&1 ||
      { echo "gpu-ab.sh: build of $t failed"; exit 1; }
done
IFS=, read -ra list <<< "$shapes"
for s in "${list[@]}"; do
  for t in ab-base .; do
    echo "== $t: $s"
    ./$t/build-ab/dev/pipe_probe $s 2>&1 | grep -E "^(heuristic|sm90_|cublas)"
  done
done
