#!/bin/bash
# bench/mm.sh - CPU time of the default path's matrix kernels, one thread (bench/mm_bench.c).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_cc mm_bench bench/mm_bench.c
"$D/mm_bench"
