#!/bin/bash
# perplexity.sh - `qwen3 perplexity`'s tokens and arithmetic, against numpy on `qwen3 logits`:
#   ppl_special   --special: a text of rendered chats is scored as the ids `qwen3 tokenize` gives
#                 (<|im_start|> one token), and the perplexity is exp(mean NLL of each next id) that
#                 numpy computes from `qwen3 logits` of the same ids (relative 1e-4; one chunk, exact
#                 path, so both runs are one float32 prefill)
#   ppl_plain     without it, the ids `tokenize --no-special` gives (llama-perplexity's default), the
#                 same check, and a note on stderr that names both token counts (issue 9: such texts
#                 gave perplexities of 1e4-2e5 on a trained model, which never saw "<|im_start|>" as
#                 the plain-text pieces "<|", "im", "_start", ...)
#   ppl_no_note   a text without added-token spellings gets no note
set -u
. "$(dirname "$0")/../lib.sh"
expect 3
T="$QWEN3_TMP/perplexity"
mkdir -p "$T"
M="$T/tiny"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 -q --seed 9 2>"$T/gen.err" ||
        { for c in ppl_special ppl_plain ppl_no_note; do echo "FAIL $c: gen_checkpoint.py failed: $(tail -n 1 "$T/gen.err")"; done; exit 0; }
fi
chat="$T/chat.txt"
# the files end without a newline, as "$(cat FILE)" gives their text to tokenize
for q in "What is 2 + 3?" "Sort 4, 1, 3" "Solve 2*x = 8"; do
    printf '<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nok<|im_end|>\n' "$q"
done | head -c -1 >"$chat"

# check NAME FILE TOKENIZE_FLAG PERPLEXITY_FLAG: perplexity's figure and count against numpy's
check() {
    local name=$1 file=$2 tflag=$3 pflag=$4 ids n
    # shellcheck disable=SC2086 # an empty flag is no argument
    ids=$("$QWEN3" tokenize "$M" $tflag "$(cat "$file")") || { echo "FAIL $name: tokenize failed"; return 1; }
    n=$(echo "$ids" | tr ',' '\n' | wc -l)
    "$QWEN3" logits "$M" --ids "$ids" -t 1 -o "$T/$name.f32" 2>"$T/$name.logits.err" ||
        { echo "FAIL $name: logits failed: $(tail -n 1 "$T/$name.logits.err")"; return 1; }
    # shellcheck disable=SC2086
    "$QWEN3" perplexity "$M" -f "$file" -c "$n" --exact -t 1 $pflag >"$T/$name.out" 2>"$T/$name.err" ||
        { echo "FAIL $name: perplexity failed: $(tail -n 1 "$T/$name.err")"; return 1; }
    checked "$name" "$PY" - "$name" "$T/$name.f32" "$ids" "$T/$name.out" <<'EOF'
import math, re, sys
import numpy as np
name, f, ids, out = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")], open(sys.argv[4]).read()
lg = np.fromfile(f, dtype=np.float32).astype(np.float64).reshape(len(ids), -1)
m = lg.max(axis=1, keepdims=True)
lse = (m[:, 0] + np.log(np.exp(lg - m).sum(axis=1)))
nll = np.mean([lse[t] - lg[t, ids[t + 1]] for t in range(len(ids) - 1)])
want = math.exp(nll)
r = re.search(r"perplexity ([0-9.]+) over (\d+) scored tokens", out)
if not r: print("FAIL %s: no perplexity line in %r" % (name, out)); sys.exit(0)
got, scored = float(r.group(1)), int(r.group(2))
if scored != len(ids) - 1: print("FAIL %s: %d scored tokens, want %d (the ids tokenize gives, less one)" % (name, scored, len(ids) - 1))
elif abs(got - want) > 1e-4 * want: print("FAIL %s: perplexity %.6f, numpy on the logits %.6f" % (name, got, want))
else: print("PASS %s: %d ids, perplexity %.4f (numpy %.4f)" % (name, len(ids), got, want))
EOF
}
check ppl_special "$chat" "" --special
out=$(check ppl_plain "$chat" --no-special "")
nsp=$("$QWEN3" tokenize "$M" "$(cat "$chat")" | tr ',' '\n' | wc -l)
npl=$("$QWEN3" tokenize "$M" --no-special "$(cat "$chat")" | tr ',' '\n' | wc -l)
if ! echo "$out" | grep -q '^PASS'; then echo "$out"
elif ! grep -q "note: .*added-token text.*($npl tokens; $nsp with --special" "$T/ppl_plain.err"; then
    echo "FAIL ppl_plain: no note naming $npl and $nsp tokens on stderr: $(head -c 300 "$T/ppl_plain.err")"
else echo "$out"; fi

printf 'What is 2 + 3? The answer is 5. Sort 4, 1, 3: 1, 3, 4.' >"$T/plain.txt"
if ! "$QWEN3" perplexity "$M" -f "$T/plain.txt" -t 1 >/dev/null 2>"$T/plain.err"; then
    echo "FAIL ppl_no_note: perplexity failed: $(tail -n 1 "$T/plain.err")"
elif grep -q "note:" "$T/plain.err"; then echo "FAIL ppl_no_note: $(grep note: "$T/plain.err")"
else echo "PASS ppl_no_note"; fi
