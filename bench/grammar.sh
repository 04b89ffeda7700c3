#!/bin/bash
# bench/grammar.sh [MODEL] - the cost of constrained decoding per generated token: `qwen3 run --json`
# on a random-weight checkpoint (default: the tiny preset with Qwen3's 151,936-token vocabulary,
# generated under build/bench/) with a JSON Schema, several seeds. A noise model almost never samples
# a token the grammar allows, so nearly every step needs the whole mask: the worst case (a trained
# model's own choice passes the one-token check most of the time). Prints per seed: tokens, decode
# ms/token, grammar ms/token, steps that needed the mask, and the grammar's share of decode time.
# Wall-clock figures: run it on a quiet machine (the 2-core machine here is shared).
set -u
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
Q="$PWD/$BUILD/qwen3"
M=${1:-build/bench/grammar-tiny}
if [ ! -f "$M/config.json" ]; then
    /usr/bin/python3 tools/gen_checkpoint.py "$M" --preset tiny --vocab 151936 -q --seed 3 || exit 1
fi
S=build/bench/grammar-schema.json
mkdir -p build/bench
cat > "$S" <<'JSON'
{"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"},
 "tags": {"type": "array", "items": {"enum": ["a", "b", 3, null]}, "maxItems": 3}, "ok": {"type": "boolean"}},
 "required": ["name", "age"]}
JSON
echo "| seed | tokens | finish | decode ms/token | grammar ms/token | masked steps | grammar / decode |"
echo "|--:|--:|--|--:|--:|--:|--:|"
for seed in 1 2 3 4 5; do
    "$Q" run "$M" "Give me a record" --json-schema "$S" --no-think -n 300 --seed $seed --json -t "${THREADS:-2}" |
        /usr/bin/python3 -c "
import json, sys
o = json.load(sys.stdin); t = o['timings']; n = o['completion_tokens']
print('| $seed | %d | %s | %.1f | %.2f | %d | %.1f%% |' % (n, o['finish_reason'], t['decode_ms'] / n, t['grammar_ms'] / n,
      t['grammar_masks'], 100 * t['grammar_ms'] / t['decode_ms']))"
done
