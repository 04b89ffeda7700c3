#!/bin/bash
# bench/bf16.sh - the bf16 prefill kernels alone, one thread, on the 0.6B's four product shapes, as
# shares of the bf16 peak (bench/bf16_prefill.c): the README's "Where each row's time goes now".
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_cc bf16_prefill bench/bf16_prefill.c
"$D/bf16_prefill"
