#!/bin/bash
# demo.sh - `make demo`, the main job of the quick start.
#
# The project ships no trained weights (none can be downloaded here), so the demo generates a
# random-weight checkpoint in the Hugging Face format, with the real Qwen3 tokenizer, and runs the
# engine on it end to end: load, describe, tokenize, chat-template, generate, parse. The text it
# generates is gibberish because the weights are random; point the same commands at a real
# Qwen/Qwen3-0.6B directory for real answers.
set -euo pipefail
cd "$(dirname "$0")/.."
TOK=${QWEN3_TOKENIZER:-$(cd .. && pwd)/shared/qwen3-tokenizer}
M=build/demo/qwen3-thinker
if [ ! -f "$M/config.json" ]; then
    echo "== generating a random-weight Qwen3 checkpoint in $M (real tokenizer, 4 layers, hidden 256;"
    echo "   its weights are built to open <think> and keep thinking, so the thinking budget shows)"
    QWEN3_TOKENIZER="$TOK" /usr/bin/python3 tools/gen_checkpoint.py --preset tiny --layers 4 --hidden 256 \
        --heads 8 --kv-heads 4 --head-dim 32 --intermediate 768 --vocab 151936 --dtype bf16 --thinker \
        --seed 7 -q "$M"
fi
echo "== ./qwen3 info $M"
./qwen3 info "$M"
echo
echo "== ./qwen3 tokenize $M --show \"Hello, world! 你好\""
./qwen3 tokenize "$M" --show "Hello, world! 你好"
echo
echo "== ./qwen3 run $M \"What is the capital of France?\" -n 48 --seed 1 --think-budget 16"
echo "   (RANDOM WEIGHTS: the words are noise; the template, thinking budget and parsing are real:"
echo "   16 thinking tokens, then Qwen's stop-thinking text is forced and the model answers)"
./qwen3 run "$M" "What is the capital of France?" -n 48 --seed 1 --think-budget 16
echo
echo "== the same as one JSON object (--json)"
./qwen3 run "$M" "What is the capital of France?" -n 48 --seed 1 --think-budget 16 --json
