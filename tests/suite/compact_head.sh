#!/bin/bash
# compact_head.sh - the compact output layer (src/model/head.c, qwen3_load_opts.compact_head,
# QWEN3_COMPACT_HEAD): a model `qwen3 train` wrote has most of its 151,936 output rows identical to
# the last one; the engine then computes the distinct rows' logits only and copies the last one's.
#
#   compact-on       QWEN3_COMPACT_HEAD=1 on a trained toy model: `qwen3 info` says compact (and how
#                    many rows); =0 does not
#   compact-f32      F32 export: `qwen3 logits` of a prompt, prefill and one token at a time, and of
#                    three sequences batched together, byte-identical with and without it
#   compact-bf16     the same for the BF16 export
#   compact-random   a random-weight checkpoint (every row distinct) keeps the full product even when
#                    asked (`qwen3 info` has no compact line)
set -u
. "$(dirname "$0")/../lib.sh"
expect 4
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/compact_head
rm -rf "$TMP"
mkdir -p "$TMP"
NAMES="compact-on compact-f32 compact-bf16 compact-random"
if [ ! -x "$QWEN3" ]; then for n in $NAMES; do echo "FAIL $n: engine binary $QWEN3 not found (run make)"; done; exit 0; fi
if [ -z "${QWEN3_TOKENIZER:-}" ] || [ ! -f "$QWEN3_TOKENIZER/tokenizer.json" ]; then
    for n in $NAMES; do echo "SKIP $n: no Qwen3 tokenizer (\$QWEN3_TOKENIZER)"; done
    exit 0
fi
echo '{"model_type":"qwen3","vocab_size":151936,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
 "num_attention_heads":2,"num_key_value_heads":1,"head_dim":32,"rms_norm_eps":1e-6,"rope_theta":1000000.0,
 "max_position_embeddings":4096,"tie_word_embeddings":true,"bos_token_id":151643,"eos_token_id":151645}' >"$TMP/toy.json"
"$QWEN3" train --config "$TMP/toy.json" --synth 200 --batch 4 --seq 64 --steps 20 --lr 1e-2 --warmup 2 -t 2 --seed 5 \
    --tokenizer "$QWEN3_TOKENIZER" --out "$TMP/bf16" 2>"$TMP/train.err" || echo "training the toy failed: $(tail -n 1 "$TMP/train.err")" >&2
"$QWEN3" train --config "$TMP/toy.json" --synth 200 --batch 4 --seq 64 --steps 20 --lr 1e-2 --warmup 2 -t 2 --seed 5 --f32 \
    --tokenizer "$QWEN3_TOKENIZER" --out "$TMP/f32" 2>>"$TMP/train.err" || echo "training the toy failed: $(tail -n 1 "$TMP/train.err")" >&2

on=$(QWEN3_COMPACT_HEAD=1 "$QWEN3" info "$TMP/f32" 2>&1 | grep "^output:")
off=$(QWEN3_COMPACT_HEAD=0 "$QWEN3" info "$TMP/f32" 2>&1 | grep -c "^output:")
if echo "$on" | grep -q "compact, the logits of [0-9]* distinct rows of 151936" && [ "$off" = 0 ]; then
    echo "PASS compact-on (${on#output:       })"
else
    echo "FAIL compact-on: with QWEN3_COMPACT_HEAD=1: '$on'; lines with =0: $off"
fi

P='<|im_start|>user
What is 347 + 589?<|im_end|>
<|im_start|>assistant
<think>
column 1: 7+9=16'
same() { # same DIR: prefill, decode and batched logits byte-identical with the compact head and without
    local d=$1 k why=""
    for k in 0 1; do
        QWEN3_COMPACT_HEAD=$k "$QWEN3" logits "$d" --prompt "$P" -o "$TMP/p$k.bin" -t 2 2>>"$TMP/logits.err" &&
        QWEN3_COMPACT_HEAD=$k "$QWEN3" logits "$d" --prompt "$P" --decode -o "$TMP/d$k.bin" -t 2 2>>"$TMP/logits.err" &&
        QWEN3_COMPACT_HEAD=$k "$QWEN3" logits "$d" --ids 9707,11,1879 --ids 3838,374,220,18,10,19 --ids 151644,872,198 --decode \
            -o "$TMP/b$k.bin" -t 2 2>>"$TMP/logits.err" || why="qwen3 logits failed: $(tail -n 1 "$TMP/logits.err")"
    done
    [ -z "$why" ] && { cmp -s "$TMP/p0.bin" "$TMP/p1.bin" || why="prefill logits differ"; }
    [ -z "$why" ] && { cmp -s "$TMP/d0.bin" "$TMP/d1.bin" || why="decode logits differ"; }
    [ -z "$why" ] && { cmp -s "$TMP/b0.bin" "$TMP/b1.bin" || why="batched logits differ"; }
    echo "$why"
}
for t in f32 bf16; do
    why=$(same "$TMP/$t")
    if [ -z "$why" ]; then
        echo "PASS compact-$t (prefill $(($(stat -c %s "$TMP/p0.bin") / 607744)) positions, decode, 3 sequences batched: the same bytes)"
    else
        echo "FAIL compact-$t: $why"
    fi
done

if "$PY" "$ROOT/tools/gen_checkpoint.py" --help >/dev/null 2>&1 &&
   "$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/rand" --preset tiny --vocab 151936 --dtype f32 -q >"$TMP/gen.out" 2>&1 &&
   QWEN3_COMPACT_HEAD=1 "$QWEN3" info "$TMP/rand" >"$TMP/rand.info" 2>&1; then
    if grep -q "^output:" "$TMP/rand.info"; then
        echo "FAIL compact-random: a random checkpoint got the compact head: $(grep "^output:" "$TMP/rand.info")"
    else
        echo "PASS compact-random (every row distinct: the full product)"
    fi
else
    echo "FAIL compact-random: making or loading the random checkpoint failed: $(tail -n 1 "$TMP/gen.out") $(tail -n 1 "$TMP/rand.info" 2>/dev/null)"
fi
