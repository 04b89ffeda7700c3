#!/bin/bash
# default_model.sh - the shipped default model (models/default, expanded by the build into
# $QWEN3_BUILD/default-model; README "The default model").
#
#   roundtrip   packing the expanded model gives back the repository's compact files byte for byte
#               (model.safetensors, rows.json), so the expansion loses and invents nothing
#   layout      the expanded directory is an ordinary Hugging Face one: config.json with the full
#               151,936-token vocabulary, model.safetensors whose embedding has 151,936 rows,
#               generation_config.json and the tokenizer files
#   unpack-no-tokenizer  `qwen3 unpack --tokenizer DIR` with no tokenizer files in DIR fails naming DIR
#               and writes nothing (it once wrote a model without them, found only by this layout check)
#   reference   the engine's logits (--exact) over a rendered chat prompt of 19 tokens equal those of
#               the float64 numpy reference written from transformers' Qwen3 code (tests/ref/qwen3_ref.py)
#               on the expanded directory: <= 1e-3
#   greedy-N    the model's greedy answer (reasoning and answer, --exact, -n 300) to each question of
#               tests/data/default_model/questions.jsonl in its mode equals the one recorded in
#               expected.jsonl. These change only when the model is retrained; then regenerate the
#               expected file with:  tests/suite/default_model.sh --regen   (and commit it)
# Injected: one expected answer edited (greedy FAIL); a row of rows.json dropped (roundtrip FAIL).
set -u
. "$(dirname "$0")/../lib.sh"
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
QWEN3=${QWEN3:-$ROOT/qwen3}
PY=${PY:-/usr/bin/python3}
D="$ROOT/tests/data/default_model"
REGEN=0
[ "${1:-}" = "--regen" ] && REGEN=1
NQ=$(grep -c . "$D/questions.jsonl")
[ $REGEN = 1 ] || expect $((NQ + 4))
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/default_model
rm -rf "$TMP"
mkdir -p "$TMP"
BIN=$(readlink -f "$QWEN3")
MODEL=${QWEN3_DEFAULT_MODEL:-$(dirname "$BIN")/default-model}
if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "FAIL default-model: $MODEL/model.safetensors missing (make builds it from models/default)"
    exit 0
fi

if [ $REGEN = 0 ]; then
    if "$QWEN3" pack "$MODEL" "$TMP/pk" 2>"$TMP/pk.err" && cmp -s "$TMP/pk/model.safetensors" "$ROOT/models/default/model.safetensors" &&
        cmp -s "$TMP/pk/rows.json" "$ROOT/models/default/rows.json"; then
        echo "PASS default-model-roundtrip (pack of the expanded model = models/default, byte for byte)"
    else
        echo "FAIL default-model-roundtrip: packing $MODEL does not give models/default back $(tail -n 1 "$TMP/pk.err")"
    fi
    mkdir -p "$TMP/notok"
    if "$QWEN3" unpack "$ROOT/models/default" "$TMP/up" --tokenizer "$TMP/notok" 2>"$TMP/up.err"; then
        echo "FAIL default-model-unpack-no-tokenizer: unpack succeeded with an empty tokenizer directory"
    elif grep -q "notok.*tokenizer.json" "$TMP/up.err" && [ ! -f "$TMP/up/model.safetensors" ]; then
        echo "PASS default-model-unpack-no-tokenizer ($(tail -n 1 "$TMP/up.err"))"
    else
        echo "FAIL default-model-unpack-no-tokenizer: message '$(tail -n 1 "$TMP/up.err")', or a model was written"
    fi
    "$PY" - "$MODEL" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
bad = []
c = json.load(open(d + "/config.json"))
if c.get("vocab_size") != 151936: bad.append("config vocab_size %r" % c.get("vocab_size"))
b = open(d + "/model.safetensors", "rb").read(1 << 16)
n = int.from_bytes(b[:8], "little"); h = json.loads(b[8:8 + n])
e = h.get("model.embed_tokens.weight", {})
if e.get("shape") != [151936, c.get("hidden_size")] or e.get("dtype") != "BF16": bad.append("embedding %r" % e)
for f in ["generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"]:
    if not os.path.isfile(os.path.join(d, f)): bad.append(f + " missing")
print(("FAIL default-model-layout: " + "; ".join(bad)) if bad else
      "PASS default-model-layout (HF directory: vocab 151936, embedding [151936, %d] BF16, tokenizer files)" % c["hidden_size"])
PYEOF
    P='<|im_start|>user\nWhat is 12 + 34?<|im_end|>\n<|im_start|>assistant\n'
    ids=$("$QWEN3" tokenize "$MODEL" "$(printf "$P")" 2>/dev/null | tr -d '[] ' )
    if [ -n "$ids" ] && "$QWEN3" logits "$MODEL" --exact --ids "$ids" -o "$TMP/got.f32" >/dev/null 2>"$TMP/l.err" &&
        "$PY" "$ROOT/tests/ref/qwen3_ref.py" "$MODEL" --ids "$ids" -o "$TMP/ref.f32" >/dev/null 2>>"$TMP/l.err"; then
        checked default-model-reference "$PY" "$ROOT/tests/ref/compare.py" logits default-model-reference "$TMP/ref.f32" "$TMP/got.f32" --vocab 151936
    else
        echo "FAIL default-model-reference: $(tail -n 1 "$TMP/l.err") (ids '$ids')"
    fi
fi

i=0
: >"$TMP/got.jsonl"
while IFS= read -r line; do
    i=$((i + 1))
    q=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["q"])' "$line")
    mode=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["mode"])' "$line")
    flag=()
    [ "$mode" = no_think ] && flag=(--no-think)
    if ! "$QWEN3" run "$MODEL" "${flag[@]}" --json --temp 0 --exact -n 300 -- "$q" >"$TMP/o.json" 2>"$TMP/o.err"; then
        echo "FAIL default-model-greedy-$i: qwen3 run: $(tail -n 1 "$TMP/o.err")"
        echo '{}' >>"$TMP/got.jsonl"
        continue
    fi
    "$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); print(json.dumps({"q": sys.argv[2], "mode": sys.argv[3], "reasoning_content": o["reasoning_content"], "content": o["content"]}))' \
        "$TMP/o.json" "$q" "$mode" >>"$TMP/got.jsonl"
    [ $REGEN = 1 ] && continue
    want=$(sed -n "${i}p" "$D/expected.jsonl" 2>/dev/null)
    got=$(tail -n 1 "$TMP/got.jsonl")
    if [ "$want" = "$got" ]; then
        echo "PASS default-model-greedy-$i ($mode: $q -> $("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["content"])' "$got"))"
    else
        echo "FAIL default-model-greedy-$i: $mode '$q': got $got; expected $want"
    fi
done <"$D/questions.jsonl"
if [ $REGEN = 1 ]; then cp "$TMP/got.jsonl" "$D/expected.jsonl"; echo "wrote $D/expected.jsonl ($i answers)" >&2; fi
exit 0
