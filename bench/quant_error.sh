#!/bin/bash
# bench/quant_error.sh - per weight type, the quantization error on gaussian weights and the decode
# dot product's error (bench/quant_error.c; the README's per-type table). Deterministic: a fixed seed.
set -eu
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
D=build/bench
mkdir -p "$D"
[ -f "$BUILD/libqwen3.a" ] || make -s -j2 "$BUILD/libqwen3.a"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -o "$D/quant_error" bench/quant_error.c "$BUILD/libqwen3.a" \
    -ljansson -lutf8proc -lmicrohttpd -ledit -lcurl -lm -pthread
"$D/quant_error"
