#!/bin/bash
# demo.sh - `make demo`, the main job of the quick start: the trained default model (models/default,
# expanded by the build into build/rel/default-model; README "The default model") answering real
# questions in both modes, its thinking shown, and the thinking budget cutting the thinking short.
# The model is tiny (1.7 M parameters besides the embedding) and knows only its task language:
# addition and subtraction up to 3 digits, 2-digit x 1-digit multiplication, sorting a few numbers,
# counting a letter. Thinking, it gets about 7 in 10 of such questions right (all additions, nearly
# all subtractions); answering directly, more than half (README "The default model").
set -euo pipefail
cd "$(dirname "$0")/.."
M=build/rel/default-model
if [ ! -f "$M/model.safetensors" ]; then echo "demo: $M is missing (make builds it from models/default)"; exit 1; fi
run() { echo; echo "== ./qwen3 run $*"; ./qwen3 run "$@"; }
echo "== ./qwen3 info $M"
./qwen3 info "$M"
echo
echo "A 1.7 M-parameter model trained here on 2 CPU cores (24 M tokens): thinking, it works sums out column"
echo "by column and gets about 7 in 10 of its kind of question right; without thinking, more than half."
echo "It knows nothing else (README: The default model)."
echo
echo "Thinking mode (the default): the reasoning is shown between <think> lines, then the answer."
run "What is 347 + 589?" --temp 0
run "I had 905 coins and spent 368. How many coins are left?" --temp 0
run "Sort these numbers from smallest to largest: 42, 7, 89, 15" --temp 0
echo
echo "Non-thinking mode (/no_think in the question, or --no-think): an empty think block, the answer directly."
run "What is 347 + 589? /no_think" --temp 0
run "What is 64 * 7?" --no-think --temp 0
echo
echo "Answering directly goes wrong more often than working it out (the sort above, thinking, was right):"
run "Sort these numbers from smallest to largest: 42, 7, 89, 15" --no-think --temp 0
echo
echo "The thinking budget: at most 12 thinking tokens, then Qwen's stop-thinking text is forced and the"
echo "model answers from what it has (here it was cut before finishing the columns: the answer suffers)."
run "What is 347 + 589?" --temp 0 --think-budget 12
echo
echo "== the same as one JSON object (--json): reasoning_content, content, token counts, budget_hit"
./qwen3 run "What is 347 + 589?" --temp 0 --think-budget 12 --json | cut -c1-400
