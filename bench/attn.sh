#!/bin/bash
# bench/attn.sh [N] [HEADS] - decode attention at depth, the kernel alone (bench/attn_bench.c): ns per
# cached position for each KV cache type and GQA group size, one thread, the cache read from memory.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_cc attn_bench bench/attn_bench.c
"$D/attn_bench" "$@"
