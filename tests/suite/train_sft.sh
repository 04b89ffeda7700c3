#!/bin/bash
# train_sft.sh - `qwen3 train --mode sft`: per-token loss weights carried with the token stream, and
# the SFT mask (loss only on the assistant replies) of chat data rendered by the Qwen3 template.
#
#   weighted grads  every parameter's gradient of one global batch (2 micro-batches) of a tiny dense
#                   model with per-token loss weights (0 on ~40% of the targets, 1, and other values:
#                   0.5, 2, -0.7) against PyTorch autograd of sum(w * CE) / #(w != 0) per micro-batch
#                   (tests/ref/train_ref.py --weights): <= 1e-4 relative per tensor, plus float64
#                   finite differences at 21 coordinates.
#   sft mask        the training stream of a JSONL of conversations (system turn, thinking and
#                   non-thinking replies, multi-turn with /think and /no_think, a tool call and its
#                   response) against Jinja2 running the model's own chat template (chat_ref.py):
#                   each document decodes to the template's text + <|endoftext|>, and the weighted
#                   tokens decode to exactly the replies after the last user query, from after
#                   "<|im_start|>assistant\n" through "<|im_end|>" (spans found in the text by Python).
#   fusion data     `qwen3 synth --format fusion`: every final reply follows the last /think or /no_think
#                   of its conversation (empty reasoning after /no_think, the restated question and
#                   worked solution otherwise), earlier replies carry no reasoning, the phrasings vary
#                   (more than 8 distinct question shapes per family over 300 conversations).
#   sft run         3 steps of --mode sft on the fusion data: finite loss lines, an export.
#   bad input       --mode sft without --data; a conversation with no reply to train on (names the line).
# Injected faults this catches (tried once each): the weight left out of the backward (weighted grads
# FAIL); the mask starting at the role header instead of after it (sft mask FAIL); the mask stopping
# before <|im_end|> (sft mask FAIL).
set -u
. "$(dirname "$0")/../lib.sh"
expect 7
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/train_sft
REF="$ROOT/tests/ref/train_ref.py"
rm -rf "$TMP"
mkdir -p "$TMP"

if [ ! -x "$QWEN3" ]; then echo "FAIL train-sft: engine binary $QWEN3 not found (run make)"; exit 0; fi
if ! "$PY" -c "import torch" 2>/dev/null; then echo "FAIL train-sft: python3-torch is not installed (scripts/setup.sh)"; exit 0; fi

"$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/dense" --no-tokenizer -q --vocab 512 --hidden 64 --heads 4 --kv-heads 2 \
    --head-dim 16 --preset tiny --dtype f32 --intermediate 96 --seed 3
"$PY" - "$TMP" <<'PYEOF'
import sys, numpy as np
r = np.random.default_rng(5)
ids = r.integers(0, 512, 400)
w = np.where(r.random(400) < 0.4, 0.0, r.choice([1.0, 1.0, 1.0, 0.5, 2.0, -0.7], 400))
open(sys.argv[1] + "/ids.txt", "w").write(",".join(map(str, ids)))
open(sys.argv[1] + "/w.txt", "w").write(" ".join("%g" % x for x in w))
PYEOF
if "$QWEN3" train-grads --init "$TMP/dense" --ids "$TMP/ids.txt" --weights "$TMP/w.txt" --batch 2 --seq 16 --accum 2 \
        --grads "$TMP/w.grads" -t 2 >"$TMP/w.out" 2>"$TMP/w.err"; then
    checked train-grads-weighted "$PY" "$REF" grads "$TMP/dense" "$TMP/ids.txt" 2 16 2 "$TMP/w.grads" 0 --name weighted --weights "$TMP/w.txt"
else
    echo "FAIL train-grads-weighted-none: qwen3 train-grads: $(tail -n 1 "$TMP/w.err")"
    echo "FAIL train-fd-weighted-none: no gradients"
fi

TOK=${QWEN3_TOKENIZER:-}
if [ ! -d "$TOK" ]; then
    for n in mask fusion run bad-nodata bad-noreply; do echo "SKIP train-sft-$n: no tokenizer directory (QWEN3_TOKENIZER)"; done
    exit 0
fi

# the SFT mask against the template run by Jinja2
cat >"$TMP/chats.jsonl" <<'JEOF'
{"messages": [{"role": "user", "content": "What is 12 + 30?"}, {"role": "assistant", "reasoning_content": "column 1: 2+0=2\ncolumn 2: 1+3=4", "content": "42"}]}
{"messages": [{"role": "system", "content": "You add numbers."}, {"role": "user", "content": "Add 5 and 7. /no_think"}, {"role": "assistant", "reasoning_content": "", "content": "12"}]}
{"messages": [{"role": "user", "content": "What is 3 * 4? /no_think"}, {"role": "assistant", "content": "12"}, {"role": "user", "content": "And 9 - 2? /think"}, {"role": "assistant", "reasoning_content": "9-2=7", "content": "7"}]}
{"messages": [{"role": "user", "content": "Sort 3, 1, 2"}, {"role": "assistant", "content": "<think>\nsmallest 1\n</think>\n\n1, 2, 3"}, {"role": "user", "content": "Now count the a's in banana"}, {"role": "assistant", "reasoning_content": "b no\na yes 1\nn no\na yes 2\nn no\na yes 3", "content": "3"}]}
{"messages": [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "weather", "arguments": {"city": "Paris"}}}]}, {"role": "tool", "content": "sunny"}, {"role": "assistant", "content": "It is sunny."}]}
JEOF
if "$QWEN3" train-grads --config small --mode sft --data "$TMP/chats.jsonl" --tokenizer "$TOK" --batch 1 --seq 8 \
        --stream "$TMP/stream.txt" >/dev/null 2>"$TMP/m.err" &&
   "$PY" "$ROOT/tests/ref/chat_ref.py" "$TOK" <"$TMP/chats.jsonl" >"$TMP/ref.jsonl"; then
    # decode each document and each weighted span with the engine's detokenizer (tested against HF elsewhere)
    "$PY" - "$TMP" "$QWEN3" "$TOK" <<'PYEOF'
import json, subprocess, sys
T, Q, TOK = sys.argv[1:4]
rows = [l.split() for l in open(T + "/stream.txt")]
ids = [int(a) for a, _ in rows]
w = [float(b) for _, b in rows]
def dec(seq):
    r = subprocess.run([Q, "detokenize", TOK, ",".join(map(str, seq))], capture_output=True, text=True, check=True)
    return r.stdout[:-1] if r.stdout.endswith("\n") else r.stdout
docs, cur, spans = [], [], []
for i, t in enumerate(ids):
    cur.append(i)
    if t == 151643:  # <|endoftext|> ends a document
        docs.append(cur); cur = []
refs = [json.loads(l) for l in open(T + "/ref.jsonl")]
chats = [json.loads(l) for l in open(T + "/chats.jsonl")]
bad = []
if len(docs) != len(refs):
    bad.append("%d documents in the stream, %d conversations" % (len(docs), len(refs)))
for k, (d, r, c) in enumerate(zip(docs, refs, chats)):
    text = r["prompt"]
    if dec([ids[i] for i in d]) != text + "<|endoftext|>":
        bad.append("doc %d does not decode to the template's text" % k)
    # expected spans: the replies after the last user query (not a tool response), from the text
    starts = []
    pos = 0
    while True:
        j = text.find("<|im_start|>", pos)
        if j < 0: break
        starts.append(j); pos = j + 1
    last_q = max(j for j in starts if text.startswith("<|im_start|>user\n", j) and not text.startswith("<|im_start|>user\n<tool_response>", j))
    want = []
    for j in starts:
        if j > last_q and text.startswith("<|im_start|>assistant\n", j):
            b = j + len("<|im_start|>assistant\n")
            want.append(text[b:text.index("<|im_end|>", b) + len("<|im_end|>")])
    got, run = [], []
    for i in d + [None]:
        if i is not None and w[i] != 0:
            run.append(ids[i])
        elif run:
            got.append(dec(run)); run = []
    if got != want:
        bad.append("doc %d: weighted spans %r, expected %r" % (k, got, want))
    if any(w[i] not in (0.0, 1.0) for i in d):
        bad.append("doc %d: a weight other than 0/1" % k)
n_w = sum(1 for x in w if x)
print(("FAIL train-sft-mask: " + "; ".join(bad)[:600]) if bad else
      "PASS train-sft-mask (%d conversations: streams decode to the Jinja template's text, %d weighted tokens = the replies after the last user query through <|im_end|>)" % (len(docs), n_w))
PYEOF
else
    echo "FAIL train-sft-mask: $(tail -n 1 "$TMP/m.err")"
fi

# the fusion data: modes follow the last flag, varied phrasings
"$QWEN3" synth -n 300 --levels 1-2 --format fusion --families add,sub,mul:1,sort,count --seed 5 >"$TMP/fusion.jsonl"
checked train-sft-fusion "$PY" - "$TMP/fusion.jsonl" <<'PYEOF'
import json, re, sys
bad, shapes, modes = [], {}, {"think": 0, "no_think": 0}
for k, line in enumerate(open(sys.argv[1])):
    m = json.loads(line)["messages"]
    users = [x for x in m if x["role"] == "user"]
    last = None
    for u in users:
        f = re.findall(r"/(no_think|think)\b", u["content"])
        if f: last = f[-1]
    final = m[-1]
    if any("reasoning_content" in x and x["reasoning_content"] for x in m[:-1]): bad.append("line %d: an earlier reply has reasoning" % k)
    if last == "no_think":
        modes["no_think"] += 1
        if final["reasoning_content"] != "": bad.append("line %d: /no_think with reasoning" % k)
    else:
        modes["think"] += 1
        if not final["reasoning_content"]: bad.append("line %d: thinking without reasoning" % k)
    q = re.sub(r"\s*/(no_)?think\s*", " ", users[-1]["content"]).strip()
    shape = re.sub(r"[0-9]+", "N", re.sub(r"\b[a-f]{6,}\b", "W", q))
    shapes[shape] = 1
ok = not bad and len(shapes) > 40 and min(modes.values()) > 60
print(("PASS" if ok else "FAIL") + " train-sft-fusion (300 conversations: %d thinking, %d /no_think, replies follow the last flag; %d distinct question shapes)%s"
      % (modes["think"], modes["no_think"], len(shapes), "" if ok else ": " + "; ".join(bad[:3])))
PYEOF

# a short SFT run on the fusion data
head -n 60 "$TMP/fusion.jsonl" >"$TMP/syn.jsonl"
if "$QWEN3" train --config small --mode sft --data "$TMP/syn.jsonl" --tokenizer "$TOK" --steps 3 --batch 2 --seq 64 -t 2 \
        --out "$TMP/run" 2>"$TMP/run.err" && [ -f "$TMP/run/model.safetensors" ] && [ "$(wc -l <"$TMP/run/loss.jsonl")" = 3 ] &&
        "$PY" -c "import json,math,sys; sys.exit(0 if all(math.isfinite(json.loads(l)['loss']) for l in open('$TMP/run/loss.jsonl')) else 1)"; then
    echo "PASS train-sft-run (3 SFT steps on synthetic chats, finite losses, exported)"
else
    echo "FAIL train-sft-run: $(tail -n 2 "$TMP/run.err")"
fi

expect_fail() { # NAME PATTERN CMD...
    local name=$1 pat=$2; shift 2
    if "$@" >/dev/null 2>"$TMP/bad.err"; then echo "FAIL train-sft-$name: succeeded"; return; fi
    if grep -q -- "$pat" "$TMP/bad.err"; then echo "PASS train-sft-$name ($(head -c 140 "$TMP/bad.err"))"
    else echo "FAIL train-sft-$name: expected '$pat' in: $(cat "$TMP/bad.err")"; fi
}
expect_fail bad-nodata "needs --data" "$QWEN3" train --config small --mode sft --tokenizer "$TOK" --steps 1 --out "$TMP/b1"
printf '%s\n%s\n' "$(head -n 1 "$TMP/chats.jsonl")" '{"messages": [{"role": "user", "content": "hi"}]}' >"$TMP/noreply.jsonl"
expect_fail bad-noreply "noreply.jsonl:2: no assistant reply" "$QWEN3" train --config small --mode sft --data "$TMP/noreply.jsonl" \
    --tokenizer "$TOK" --steps 1 --batch 1 --seq 8 --out "$TMP/b2"
exit 0
