#!/usr/bin/env bash
# The checkpoint tools' GPU test (tools_gpu: GPU quantize/pack equal to the CPU path, and a
# whole act-order GPTQ conversion on the GPU) on a machine that has a GPU but no jansson.
#   here (with libjansson-dev):  scripts/gpu-tools.sh prepare   -> .jansson/ (git-ignored)
#   on the GPU machine:          scripts/gpu-tools.sh run       (device run with carry [".jansson"])
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
    mkdir -p .jansson/include .jansson/lib
    cp /usr/include/jansson.h /usr/include/jansson_config.h .jansson/include/
    cp "$(find /usr/lib -name libjansson.a | head -1)" .jansson/lib/
    grep -qx '/.jansson/' .git/info/exclude 2>/dev/null || echo '/.jansson/' >> .git/info/exclude
    echo "gpu-tools: .jansson ready (static libjansson); carry it to the device run"
    ;;
run)
    [ -f .jansson/lib/libjansson.a ] || { echo "gpu-tools: no .jansson (run 'prepare' first, and carry it)"; exit 2; }
    B=build-gpu-tools
    cmake -S . -B $B -DCMAKE_CUDA_ARCHITECTURES=90a -DW4A16_BUILD_BENCH=OFF \
        -DW4A16_JANSSON_INCLUDE_DIR="$PWD/.jansson/include" -DW4A16_JANSSON_LIBRARY="$PWD/.jansson/lib/libjansson.a" >/dev/null
    cmake --build $B -j"$(nproc)" >/dev/null
    ctest --test-dir $B -R tools --output-on-failure
    ;;
*)
    echo "usage: scripts/gpu-tools.sh prepare|run"; exit 2 ;;
esac
