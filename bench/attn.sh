#!/bin/bash
# bench/attn.sh [N] [HEADS] - decode attention at depth, the kernel alone (bench/attn_bench.c): ns per
# cached position for each KV cache type and GQA group size, one thread, the cache read from memory.
set -eu
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
D=build/bench
mkdir -p "$D"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -o "$D/attn_bench" bench/attn_bench.c "$BUILD/libqwen3.a" \
    -ljansson -lutf8proc -lmicrohttpd -ledit -lm -pthread
"$D/attn_bench" "$@"
