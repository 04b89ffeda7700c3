#!/bin/bash
# train.sh - `qwen3 train` against the independent PyTorch reference (tests/ref/train_ref.py) and
# its own guarantees, on tiny checkpoints from tools/gen_checkpoint.py (seconds each).
#
#   grads     every parameter's gradient of one global batch (accumulated micro-batches) against
#             autograd: max|dgrad| / max|grad| <= 1e-4 per tensor; plus a float64 central finite
#             difference at 21 coordinates (measured: worst ~2e-6 relative, FD within 1e-3).
#             Dense (tied), MoE norm_topk (untied) with the balance loss none / micro / global,
#             MoE without norm_topk with a dense layer (mlp_only_layers), MHA, global LBL over 3
#             micro-batches.
#   logits    the trainer's forward against the reference (<= 1e-4), and against the inference
#             engine's `qwen3 logits` on the trainer's F32 export (<= 1e-4): the same model both ways.
#   steps     the loss of 10 AdamW steps (warm-up, cosine, clipping, decay, accumulation, global LBL)
#             against torch.optim.AdamW: <= 1e-5 relative (measured ~1e-7).
#   resume    a run stopped after 3 of 6 steps and resumed reaches the same F32 weights, bit for bit,
#             as the uninterrupted run; so does a run killed (SIGKILL) at a random moment while it
#             checkpoints every step, resumed from whatever checkpoint survived.
#   shared    the shared-row head (one row for the tokens the data never has) against the dense head
#             over 20 steps: the exported weights agree to <= 1e-5 relative.
#   bad input a malformed data file, an impossible config, a resume directory from another config,
#             a checkpoint write that fails (file size limit: the previous checkpoint stays intact).
# Injected faults this catches (tried once each): RoPE backward sin sign flipped (grads FAIL);
# renormalised-top-k backward without the -sum(dw*w) term (moe grads FAIL); global LBL using the
# micro-batch f (moe-global grads FAIL); AdamW without bias correction 2 (steps FAIL).
set -u
. "$(dirname "$0")/../lib.sh"
expect 26
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/train
GEN="$ROOT/tools/gen_checkpoint.py"
REF="$ROOT/tests/ref/train_ref.py"
rm -rf "$TMP"
mkdir -p "$TMP"

if [ ! -x "$QWEN3" ]; then echo "FAIL train: engine binary $QWEN3 not found (run make)"; exit 0; fi
if ! "$PY" -c "import torch" 2>/dev/null; then echo "FAIL train: python3-torch is not installed (scripts/setup.sh)"; exit 0; fi

gen() { "$PY" "$GEN" "$TMP/$1" --no-tokenizer -q --vocab 512 --hidden 64 --heads 4 --kv-heads 2 --head-dim 16 "${@:2}"; }
gen dense --preset tiny --dtype f32 --intermediate 96 --seed 3
gen moe --preset tiny-moe --dtype f32 --experts 8 --experts-per-tok 2 --moe-intermediate 32 --seed 4
gen moe2 --preset tiny-moe --dtype bf16 --no-norm-topk --layers 3 --mlp-only-layers 1 --kv-heads 4 --experts 6 \
    --experts-per-tok 3 --moe-intermediate 32 --seed 5
"$PY" -c "import numpy as np; print(','.join(map(str, np.random.default_rng(1).integers(0, 512, 400))))" >"$TMP/ids.txt"

# grads NAME MODEL M LBL: C gradients, then the reference compares them (and finite differences)
grads() {
    local name=$1 model=$2 M=$3 lbl=$4
    if ! "$QWEN3" train-grads --init "$TMP/$model" --ids "$TMP/ids.txt" --batch 2 --seq 16 --accum "$M" --lbl "$lbl" \
        --lbl-alpha 0.5 --grads "$TMP/$name.grads" -t 2 >"$TMP/$name.out" 2>"$TMP/$name.err"; then
        echo "FAIL train-grads-$name-$lbl: qwen3 train-grads: $(tail -n 1 "$TMP/$name.err")"
        return
    fi
    "$PY" "$REF" grads "$TMP/$model" "$TMP/ids.txt" 2 16 "$M" "$TMP/$name.grads" 0 --name "$name" --lbl "$lbl" --alpha 0.5
}
grads dense dense 2 none
grads moe moe 1 micro
grads moe moe 2 global
grads moe2 moe2 3 global

# logits: the trainer's forward vs the reference, and vs the inference engine on the F32 export
if "$QWEN3" train-grads --init "$TMP/dense" --ids "$TMP/ids.txt" --batch 2 --seq 16 --logits "$TMP/dense.logits" \
    >/dev/null 2>"$TMP/l.err"; then
    "$PY" "$REF" logits "$TMP/dense" "$TMP/ids.txt" 2 16 1 "$TMP/dense.logits" 0 --name dense
else
    echo "FAIL train-logits-dense: $(tail -n 1 "$TMP/l.err")"
fi
for m in dense moe2; do
    # one step, exported as F32; then the trainer's forward of the next batch from the export, and the engine's
    if "$QWEN3" train --init "$TMP/$m" --ids "$TMP/ids.txt" --dense-head --batch 2 --seq 16 --steps 1 --f32 \
            --out "$TMP/$m-step1" -t 2 2>"$TMP/e.err" &&
       "$QWEN3" train-grads --init "$TMP/$m-step1" --ids "$TMP/ids.txt" --batch 1 --seq 16 --logits "$TMP/$m.tl" \
            >/dev/null 2>>"$TMP/e.err" &&
       "$QWEN3" logits "$TMP/$m-step1" --ids "$(cut -d, -f1-16 "$TMP/ids.txt")" -o "$TMP/$m.el" >/dev/null 2>>"$TMP/e.err"; then
        "$PY" - "$TMP/$m.tl" "$TMP/$m.el" "$m" <<'EOF'
import sys, numpy as np
a = np.fromfile(sys.argv[1], "<f4").astype(np.float64); b = np.fromfile(sys.argv[2], "<f4").astype(np.float64)
if a.size != b.size:
    print("FAIL train-engine-logits-%s: %d trainer values, %d engine values" % (sys.argv[3], a.size, b.size)); sys.exit()
d = np.abs(a - b).max()
print(("PASS" if d <= 1e-4 else "FAIL") + " train-engine-logits-%s%s (trained 1 step, exported F32; max |dlogit| %.2g of max |logit| %.1f)"
      % (sys.argv[3], "" if d <= 1e-4 else ": over 1e-4", d, np.abs(b).max()))
EOF
    else
        echo "FAIL train-engine-logits-$m: $(tail -n 1 "$TMP/e.err")"
    fi
done

# steps: 10 AdamW steps' losses against torch
for m in dense moe; do
    if "$QWEN3" train-grads --init "$TMP/$m" --ids "$TMP/ids.txt" --batch 2 --seq 16 --accum 2 --lbl global --lbl-alpha 0.1 \
            --steps 10 --lr 3e-3 --warmup 3 --losses -t 2 >"$TMP/$m.losses" 2>"$TMP/s.err"; then
        "$PY" "$REF" steps "$TMP/$m" "$TMP/ids.txt" 2 16 2 "$TMP/$m.losses" 10 --name "$m" --lbl global --alpha 0.1 --lr 3e-3 --warmup 3
    else
        echo "FAIL train-steps-$m: $(tail -n 1 "$TMP/s.err")"
    fi
done

# resume: stop after 3 of 6 steps and resume; kill -9 at a random moment and resume; vs uninterrupted
TR=(train --config "$TMP/moe/config.json" --ids "$TMP/ids.txt" --batch 2 --seq 16 --accum 2 --steps 6 --lbl global
    --f32 -t 2 --seed 7)
"$QWEN3" "${TR[@]}" --out "$TMP/r-full" 2>"$TMP/r.err" || echo "FAIL train-resume: uninterrupted run: $(tail -n 1 "$TMP/r.err")"
"$QWEN3" "${TR[@]}" --out "$TMP/r-half" --stop-after 3 2>"$TMP/r.err" &&
    "$QWEN3" "${TR[@]}" --out "$TMP/r-half" --resume "$TMP/r-half" 2>"$TMP/r.err" ||
    echo "FAIL train-resume: stopped/resumed run: $(tail -n 1 "$TMP/r.err")"
if cmp -s "$TMP/r-full/model.safetensors" "$TMP/r-half/model.safetensors"; then
    echo "PASS train-resume (stopped after 3 of 6 steps and resumed: the same F32 weights, bit for bit)"
else
    echo "FAIL train-resume: the resumed run's weights differ from the uninterrupted run's"
fi
# a run killed at a random moment while checkpointing every step (slowed by a larger batch)
TK=(train --config "$TMP/moe/config.json" --ids "$TMP/ids.txt" --batch 2 --seq 64 --steps 12 --f32 -t 1 --seed 7 --ckpt-steps 1)
"$QWEN3" "${TK[@]}" --out "$TMP/k-full" 2>/dev/null
"$QWEN3" "${TK[@]}" --out "$TMP/k-kill" 2>/dev/null &
pid=$!
sleep 0.$((RANDOM % 9 + 1))
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -f "$TMP/k-kill/checkpoint/state.bin" ]; then
    "$QWEN3" "${TK[@]}" --out "$TMP/k-kill" --resume "$TMP/k-kill" 2>"$TMP/k.err"
else
    "$QWEN3" "${TK[@]}" --out "$TMP/k-kill" 2>"$TMP/k.err" # killed before the first checkpoint
fi
if cmp -s "$TMP/k-full/model.safetensors" "$TMP/k-kill/model.safetensors"; then
    echo "PASS train-kill-resume (killed with SIGKILL at a random moment, resumed: the same weights bit for bit)"
else
    echo "FAIL train-kill-resume: weights differ after kill and resume ($(tail -n 1 "$TMP/k.err"))"
fi

# the loss plot: an exponentially falling loss is a straight line on its log axis (eval_ref.py
# png-line), and a resumed run's re-logged steps (steps 401-500 logged twice, the first time with a
# loss of 100) are drawn once, the last time, or the line breaks. Injected: the trailing entries not
# dropped on a repeated step (FAIL: 100 px off the line).
"$PY" -c "
import math
L = [(s, 10 * math.exp(-s / 300)) for s in range(1, 501)] + [(s, 100.0) for s in range(401, 501)]
L = [l for l in L if not (l[0] > 400 and l[1] < 100)] + [(s, 10 * math.exp(-s / 300)) for s in range(401, 1001)]
print('\n'.join('{\"step\":%d,\"loss\":%.6f,\"lr\":1e-3}' % l for l in L))" >"$TMP/plot.jsonl"
mkdir -p "$TMP/plot" && mv "$TMP/plot.jsonl" "$TMP/plot/loss.jsonl"
if "$QWEN3" train --plot "$TMP/plot" >/dev/null 2>"$TMP/plot.err"; then
    "$PY" "$ROOT/tests/ref/eval_ref.py" png "$TMP/plot/loss.png" --name train-loss-png --series 2
    "$PY" "$ROOT/tests/ref/eval_ref.py" png-line "$TMP/plot/loss.png" --name train-loss-png-line
else
    echo "FAIL train-loss-png: qwen3 train --plot: $(tail -n 1 "$TMP/plot.err")"
    echo "FAIL train-loss-png-line: no plot"
fi

# shared row vs dense head (the data uses 60 of the 512 ids: 452 rows shared). The dense twin starts
# from the compact run's step-0 export (its unseen rows are identical, as the method requires).
# One batch's gradients (<= 5e-5 relative per tensor; measured ~9e-6: the dense head's own float32
# sums over 512 rows), then the weights after 20 AdamW steps (<= 1e-5 relative in norm per tensor).
# lr 1e-4: at lr 3e-3 Adam's first, sign-like steps on near-zero gradients amplify float32 rounding
# into ~5e-5 differences (two dense runs with AVX2 vs AVX-512 kernels differ by ~8e-6 there too).
"$PY" -c "import numpy as np; print(','.join(map(str, np.random.default_rng(2).integers(100, 160, 600))))" >"$TMP/ids60.txt"
SH=(--ids "$TMP/ids60.txt" --batch 2 --seq 16 --steps 20 --f32 -t 2 --warmup 2 --lr 1e-4)
if "$QWEN3" train --config "$TMP/dense/config.json" --seed 3 "${SH[@]}" --out "$TMP/sh0" --stop-after 0 2>"$TMP/sh.err" &&
   "$QWEN3" train --init "$TMP/sh0" "${SH[@]}" --out "$TMP/sh-compact" 2>"$TMP/sh.err" &&
   "$QWEN3" train --init "$TMP/sh0" --dense-head "${SH[@]}" --out "$TMP/sh-dense" 2>"$TMP/sh.err" &&
   "$QWEN3" train-grads --init "$TMP/sh0" --ids "$TMP/ids60.txt" --batch 2 --seq 16 --grads "$TMP/shg-c" --shared-head >/dev/null 2>"$TMP/sh.err" &&
   "$QWEN3" train-grads --init "$TMP/sh0" --ids "$TMP/ids60.txt" --batch 2 --seq 16 --grads "$TMP/shg-d" >/dev/null 2>"$TMP/sh.err"; then
    "$PY" - "$TMP" <<'EOF'
import sys, json, numpy as np
T = sys.argv[1]
def rd(p):
    b = open(p, "rb").read(); n = int.from_bytes(b[:8], "little"); h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: np.frombuffer(d[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").astype(np.float64).reshape(v["shape"])
            for k, v in h.items() if k != "__metadata__"}
gc, gd = rd(T + "/shg-c"), rd(T + "/shg-d")
seen = sorted(set(int(x) for x in open(T + "/ids60.txt").read().split(",")))
unseen = [i for i in range(512) if i not in seen]
worst = 0.0
for k in gd:
    c, d = gc[k], gd[k]
    if c.shape != d.shape:  # compact head: seen rows in order, then the shared row (one unseen row's gradient)
        c = np.concatenate([c[:-1], np.repeat(c[-1:], len(unseen), 0)])
        d = np.concatenate([d[seen], d[unseen]])
    worst = max(worst, np.abs(c - d).max() / np.abs(d).max())
print(("PASS" if worst <= 5e-5 else "FAIL") + " train-shared-row-grads%s (one batch, shared row vs dense head: worst rel %.2g)" % ("" if worst <= 5e-5 else ": over 5e-5", worst))
a, b, z = rd(T + "/sh-compact/model.safetensors"), rd(T + "/sh-dense/model.safetensors"), rd(T + "/sh0/model.safetensors")
worst = mx = moved = 0.0
for k in b:
    worst = max(worst, np.linalg.norm(a[k] - b[k]) / np.linalg.norm(b[k]))
    mx = max(mx, np.abs(a[k] - b[k]).max() / np.abs(b[k]).max())
    moved = max(moved, np.abs(b[k] - z[k]).max())
ok = worst <= 1e-5 and moved > 5e-4
print(("PASS" if ok else "FAIL") + " train-shared-row-20-steps%s (exported weights: worst rel diff %.2g in norm, %.2g element-wise; weights moved up to %.3g)"
      % ("" if ok else ": over 1e-5 or nothing trained", worst, mx, moved))
EOF
else
    echo "FAIL train-shared-row: $(tail -n 1 "$TMP/sh.err")"
fi
# a run draws its own loss curve beside loss.jsonl
"$PY" "$ROOT/tests/ref/eval_ref.py" png "$TMP/sh-compact/loss.png" --name train-run-loss-png --series 2

# eval on held-out synthetic tasks (real tokenizer, shared-row head, MoE routing per family): the
# structure of eval.json, finite losses, shares in [0, 1], loads >= 1
if [ -d "${QWEN3_TOKENIZER:-}" ]; then
    sed -e 's/"vocab_size": 512/"vocab_size": 151936/' "$TMP/moe/config.json" >"$TMP/moe-real.json"
    if "$QWEN3" train --config "$TMP/moe-real.json" --steps 2 --synth 300 --batch 2 --seq 32 --eval 5 -t 2 --lbl global \
            --tokenizer "$QWEN3_TOKENIZER" --out "$TMP/ev" 2>"$TMP/ev.err"; then
        "$PY" - "$TMP/ev/eval.json" <<'PYEOF'
import json, math, sys
e = json.load(open(sys.argv[1]))
F = e["families"]
ok = sorted(F) == sorted(["add", "sub", "mul", "sort", "count", "linear"]) and math.isfinite(e["loss"])
for f in F.values():
    ok &= math.isfinite(f["loss"]) and f["tokens"] > 0 and len(f["layers"]) == 2
    ok &= all(0 <= l["top_frac"] <= 1 and l["load_max_mean"] >= 1 - 1e-6 for l in f["layers"])
print(("PASS" if ok else "FAIL") + " train-eval (held-out tasks: 6 families, loss %.3f, routing stats per MoE layer)%s" % (e["loss"], "" if ok else ": malformed " + json.dumps(e)[:200]))
PYEOF
    else
        echo "FAIL train-eval: $(tail -n 1 "$TMP/ev.err")"
    fi
else
    echo "SKIP train-eval: no tokenizer directory (QWEN3_TOKENIZER)"
fi

# bad input: clear errors, non-zero exit, nothing lost
expect_fail() { # NAME PATTERN CMD...
    local name=$1 pat=$2; shift 2
    if "$@" >/dev/null 2>"$TMP/bad.err"; then echo "FAIL train-bad-$name: succeeded"; return; fi
    if grep -q -- "$pat" "$TMP/bad.err"; then echo "PASS train-bad-$name ($(head -c 140 "$TMP/bad.err"))"
    else echo "FAIL train-bad-$name: expected '$pat' in: $(cat "$TMP/bad.err")"; fi
}
printf '{"text": "hello"}\n{"text": oops}\n' >"$TMP/bad.jsonl"
expect_fail jsonl "bad.jsonl:2" "$QWEN3" train --config small --data "$TMP/bad.jsonl" --steps 1 --out "$TMP/bad1"
sed 's/"num_key_value_heads": 2/"num_key_value_heads": 3/' "$TMP/dense/config.json" >"$TMP/badcfg.json"
expect_fail config "must divide num_attention_heads" "$QWEN3" train --config "$TMP/badcfg.json" --ids "$TMP/ids.txt" --batch 2 --seq 16 --steps 1 --out "$TMP/bad2"
expect_fail resume "another model" "$QWEN3" train --config "$TMP/dense/config.json" --ids "$TMP/ids.txt" --batch 2 --seq 16 --accum 2 --steps 6 --f32 --seed 7 --out "$TMP/bad3" --resume "$TMP/r-half"
{ cat "$TMP/ids.txt"; echo ",600"; } | tr -d '\n' >"$TMP/badids.txt"
expect_fail ids "outside the model's vocabulary" "$QWEN3" train --config "$TMP/dense/config.json" --ids "$TMP/badids.txt" --batch 2 --seq 16 --steps 1 --out "$TMP/bad4"
# a checkpoint write that fails (file size limit, SIGXFSZ ignored so write() returns EFBIG)
cp -r "$TMP/r-half" "$TMP/full-disk"
before=$(md5sum <"$TMP/full-disk/checkpoint/state.bin")
( trap '' XFSZ; ulimit -f 64; exec "$QWEN3" "${TR[@]}" --steps 7 --out "$TMP/full-disk" --resume "$TMP/full-disk" ) >/dev/null 2>"$TMP/bad.err"
rc=$?
after=$(md5sum <"$TMP/full-disk/checkpoint/state.bin")
if [ $rc -ne 0 ] && [ "$before" = "$after" ] && grep -q "previous" "$TMP/bad.err" && [ ! -e "$TMP/full-disk/checkpoint/state.bin.tmp" ]; then
    echo "PASS train-bad-full-disk (exit $rc: $(head -c 120 "$TMP/bad.err"); previous checkpoint intact)"
else
    echo "FAIL train-bad-full-disk: exit $rc, checkpoint $( [ "$before" = "$after" ] && echo intact || echo CHANGED): $(cat "$TMP/bad.err")"
fi
exit 0
