#!/bin/sh
# run_fuzz.sh - builds the libFuzzer target with clang (ASan + UBSan) in build-fuzz/ and runs
# it over the seed corpus for a number of executions (default 10^7), keeping what it finds in
# build-fuzz/fuzz-work/. Crashes land in build-fuzz/crash-*: add each one (minimized) to
# tests/tools/corpus/ once fixed.
#     tools/fuzz/run_fuzz.sh [executions] [extra libFuzzer flags...]
# Needs: clang, libclang-rt-<version>-dev (the libFuzzer runtime), libjansson-dev.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-10000000}
[ $# -gt 0 ] && shift
build=$root/build-fuzz
# Only the host code matters here, but every kernel configuration is built (W4A16_CONFIGS empty):
# a subset would have to follow the names in src/kernels/configs.def.
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DW4A16_FUZZ=ON \
      -DW4A16_BUILD_TESTS=OFF -DW4A16_BUILD_BENCH=OFF -DW4A16_CONFIGS= >/dev/null
cmake --build "$build" --target w4a16_fuzz_tools -j"$(nproc)"
mkdir -p "$build/fuzz-work"
cd "$build"
exec ./tools/w4a16_fuzz_tools -dict="$root/tools/fuzz/fuzz_tools.dict" -runs="$runs" -print_final_stats=1 \
     -artifact_prefix="$build/crash-" "$@" "$build/fuzz-work" "$root/tests/tools/corpus"
