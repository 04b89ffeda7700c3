#!/bin/bash
# bench/mm.sh - CPU time of the default path's matrix kernels, one thread (bench/mm_bench.c).
set -eu
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
D=build/bench
mkdir -p "$D"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -o "$D/mm_bench" bench/mm_bench.c "$BUILD/libqwen3.a" \
    -ljansson -lutf8proc -lmicrohttpd -ledit -lcurl -lm -pthread
"$D/mm_bench"
