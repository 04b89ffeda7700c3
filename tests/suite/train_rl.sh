#!/bin/bash
# train_rl.sh - the post-training losses of `qwen3 train` (GRPO, off-policy and on-policy
# distillation) against the independent PyTorch reference tests/ref/rl_ref.py, on tiny checkpoints.
#
#   rl-grads  the gradient of sum_t w_t l_t over one global batch (2 micro-batches of 2 x 16) for
#             every parameter against autograd: max|dgrad| / max|grad| <= 1e-4 per tensor, and the
#             loss (<= 1e-4 relative). GRPO (clip 0.2, k3 KL with beta 0.1, ratios on both sides of
#             the clip range), forward KL and reverse KL to a teacher scored by the inference
#             engine; each with the dense head and with the shared-row head (its tied row against
#             the mean of the reference's rows it stands for; GRPO targets include tied tokens), the
#             policy restricted to ids < 500 of 512 (the padding rows the tokenizer does not know).
# Injected faults this catches (tried together once): the clipped branch given the unclipped
# gradient and the tied column's gradient not divided by its rows (all three grpo cases FAIL).
set -u
. "$(dirname "$0")/../lib.sh"
expect 7
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/train_rl
GEN="$ROOT/tools/gen_checkpoint.py"
REF="$ROOT/tests/ref/rl_ref.py"
rm -rf "$TMP"
mkdir -p "$TMP"

if [ ! -x "$QWEN3" ]; then echo "FAIL train-rl: engine binary $QWEN3 not found (run make)"; exit 0; fi
if ! "$PY" -c "import torch" 2>/dev/null; then echo "FAIL train-rl: python3-torch is not installed (scripts/setup.sh)"; exit 0; fi

gen() { "$PY" "$GEN" "$TMP/$1" --no-tokenizer -q --vocab 512 --hidden 64 --heads 4 --kv-heads 2 --head-dim 16 "${@:2}"; }
gen dense --preset tiny --dtype f32 --intermediate 96 --seed 3
gen teach --preset tiny --dtype f32 --intermediate 96 --seed 9
gen moe --preset tiny-moe --dtype f32 --experts 4 --experts-per-tok 2 --moe-intermediate 32 --seed 4
"$PY" -c "import numpy as np; print(','.join(map(str, np.random.default_rng(1).integers(0, 500, 400))))" >"$TMP/ids.txt"
"$PY" -c "import numpy as np; print(','.join(map(str, np.random.default_rng(2).integers(100, 160, 600))))" >"$TMP/ids60.txt"
# the shared-row head needs a start whose unseen rows are identical: a fresh trainer's export
"$QWEN3" train --config "$TMP/dense/config.json" --seed 3 --ids "$TMP/ids60.txt" --batch 2 --seq 16 --steps 2 --f32 -t 2 \
    --out "$TMP/sh0" --stop-after 0 2>"$TMP/sh0.err" || echo "FAIL train-rl: making the shared-head start: $(tail -n 1 "$TMP/sh0.err")"

# rlg NAME LOSS MODEL IDS [shared]
rlg() {
    local name=$1 loss=$2 model=$3 ids=$4 shared=${5:-}
    "$PY" "$REF" prep "$TMP/$model" "$ids" 2 16 2 "$TMP/$name.tok" --loss "$loss" --known 500 --unseen-targets 2>"$TMP/$name.err" ||
        { echo "FAIL rl-grads-$name: reference prep: $(tail -n 1 "$TMP/$name.err")"; return; }
    if ! "$QWEN3" train-grads --init "$TMP/$model" --ids "$ids" --batch 2 --seq 16 --accum 2 --loss "$loss" --tokfile "$TMP/$name.tok" \
        --beta 0.1 --clip-eps 0.2 --known 500 --teacher "$TMP/teach" ${shared:+--shared-head} --grads "$TMP/$name.grads" -t 2 \
        >"$TMP/$name.loss" 2>"$TMP/$name.err"; then
        echo "FAIL rl-grads-$name: qwen3 train-grads: $(tail -n 1 "$TMP/$name.err")"
        return
    fi
    "$PY" "$REF" check "$TMP/$model" "$ids" 2 16 2 "$TMP/$name.tok" "$TMP/$name.grads" "$TMP/$name.loss" --loss "$loss" \
        --beta 0.1 --clip-eps 0.2 --known 500 --teacher "$TMP/teach" ${shared:+--shared} --name "$name"
}
rlg grpo-dense grpo dense "$TMP/ids.txt"
rlg grpo-moe grpo moe "$TMP/ids.txt"
rlg grpo-shared grpo sh0 "$TMP/ids60.txt" shared
rlg kl-fwd-dense kl-fwd dense "$TMP/ids.txt"
rlg kl-fwd-shared kl-fwd sh0 "$TMP/ids60.txt" shared
rlg kl-rev-dense kl-rev dense "$TMP/ids.txt"
rlg kl-rev-shared kl-rev sh0 "$TMP/ids60.txt" shared
