#!/bin/bash
# bench/qkernels.sh - CPU time of the integer dot kernels per block type (bench/qkernels_bench.c: weights
# in cache), then the decode kernels with weights streamed from memory (bench/qkernels_mem.c).
set -eu
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
D=build/bench
mkdir -p "$D"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -o "$D/qkernels_bench" bench/qkernels_bench.c "$BUILD/libqwen3.a" \
    -ljansson -lutf8proc -lmicrohttpd -ledit -lm -pthread
"$D/qkernels_bench"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -o "$D/qkernels_mem" bench/qkernels_mem.c "$BUILD/libqwen3.a" \
    -ljansson -lutf8proc -lmicrohttpd -ledit -lm -pthread
"$D/qkernels_mem"
