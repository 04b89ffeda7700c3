#!/bin/bash
# bench/quant_error.sh - per weight type, the quantization error on gaussian weights and the decode
# dot product's error (bench/quant_error.c; the README's per-type table). Deterministic: a fixed seed.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_cc quant_error bench/quant_error.c
"$D/quant_error"
