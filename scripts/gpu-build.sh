#!/usr/bin/env bash
# Sourced by the scripts/gpu-*.sh scripts of the H100 machine: gpu_build BUILD_DIR OUT_DIR configures
# (Release, sm_90a, no checkpoint tools) and builds everything into BUILD_DIR, logs to
# OUT_DIR/{configure,build}.log, and prints the build time and what ptxas said: C75xx notes
# (a kernel's wgmmas serialized; the library's kernels are gemm_kernel<..., VARIANT 0>, mangled
# "...Li0EEEv", and gemm_kernel_pp, the others dev/pipe_probe's variants) and spill or
# local-memory warnings. Returns non-zero, with the errors, when a step fails.
gpu_build() {
  local b=$1 o=$2 t0 c75 c75lib
  t0=$(date +%s)
  cmake -S . -B "$b" -DCMAKE_CUDA_ARCHITECTURES=90a -DCMAKE_BUILD_TYPE=Release -DW4A16_BUILD_TOOLS=OFF \
      > "$o/configure.log" 2>&1 || { tail -30 "$o/configure.log"; return 1; }
  cmake --build "$b" -j16 > "$o/build.log" 2>&1 || { grep -E "error" -A3 "$o/build.log" | head -60; return 1; }
  c75=$(grep -E "C75[0-9]{2}" "$o/build.log"); c75lib=$(grep -cE "Li0EEEv|gemm_kernel_pp" <<< "$c75")
  echo "build: $(( $(date +%s) - t0 )) s; C75 notes: $c75lib in the library's kernels, $(( $(grep -c . <<< "$c75") - c75lib )) in dev variants; spill or local-memory warnings: $(grep -ciE 'spill|local memory' "$o/build.log")"
  grep -oE "C75[0-9]{2}|gemm_kernel(_pp)?I[^']*" <<< "$c75" | paste - - | sed 's/^/  /' | head -8
  return 0
}
