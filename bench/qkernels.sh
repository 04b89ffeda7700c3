#!/bin/bash
# bench/qkernels.sh - CPU time of the integer dot kernels per block type (bench/qkernels_bench.c: weights
# in cache), then the decode kernels with weights streamed from memory (bench/qkernels_mem.c).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_cc qkernels_bench bench/qkernels_bench.c
"$D/qkernels_bench"
bench_cc qkernels_mem bench/qkernels_mem.c
"$D/qkernels_mem"
