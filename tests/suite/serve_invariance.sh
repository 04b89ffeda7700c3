#!/bin/bash
# serve_invariance.sh - `qwen3 serve` answers a greedy request the same way whatever shares the
# server: warm vs cold prefix cache, streamed vs whole, 16 concurrent copies vs alone, requests
# arriving mid-generation (tests/node/invariance_test.mjs; README: Determinism). ~10-20 s (a minute or more under SAN=1).
set -u
. "$(dirname "$0")/../lib.sh"
expect 5
T="$QWEN3_TMP/serve"
mkdir -p "$T"
shared_ckpt serve_invariance_checkpoint "$T/tiny" --preset tiny --vocab 151936 || exit 0   # shared with serve.sh
SERVE_TINY="$T/tiny" checked serve_invariance timeout 400 node "$QWEN3_ROOT/tests/node/invariance_test.mjs"
