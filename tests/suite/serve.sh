#!/bin/bash
# serve.sh - `qwen3 serve` with real clients (tests/node/serve_test.mjs: the official OpenAI Node SDK,
# fetch and raw sockets): chat and completions whole and streamed, reasoning vs content, thinking
# switch and budgets, stop strings, seeds, usage, tools, prefix cache, batching, every error status
# while another stream runs, slowloris / endless body / disconnect, 401, 429, drain on SIGTERM.
# Servers listen on free loopback ports (--port 0) and are killed at the end. ~30-60 s.
set -u
. "$(dirname "$0")/../lib.sh"
expect 94
T="$QWEN3_TMP/serve"
mkdir -p "$T"
if [ ! -d "$QWEN3_ROOT/tests/node/node_modules/openai" ]; then
    echo "FAIL serve_setup: the openai npm package is missing (cd tests/node && npm install --ignore-scripts)"
    exit 0
fi
# checkpoints: tiny shapes, the real vocabulary (real token ids through the real tokenizer)
# (tiny is shared with serve_invariance.sh, which may be writing it at the same time)
shared_ckpt serve_checkpoint_tiny "$T/tiny" --preset tiny --vocab 151936 || exit 0
shared_ckpt serve_checkpoint_thinker "$T/thinker" --preset tiny --vocab 151936 --thinker || exit 0
SERVE_TINY="$T/tiny" SERVE_THINKER="$T/thinker" checked serve_test timeout 400 node "$QWEN3_ROOT/tests/node/serve_test.mjs"
