#!/bin/bash
# kv.sh - the block-quantized KV caches (`--kv q8_0`, `--kv q4_0`) end to end.
#
# On small generated BF16 checkpoints (tiny: head_dim 32, one block per row; and tiny with
# head_dim 128, the real Qwen3 width, four blocks per row), 60 prompt tokens run through
# `qwen3 logits` with the default exact path (float32 cache) and with --kv q8_0 / q4_0, both as one
# prefill and one token at a time through the cache (--decode). The only difference is the cache's
# rounding of K and V, so every position's logits must stay within max |dlogit| <= B * max |logit|
# of the exact run and the mean KL(F32 cache || quantized cache) over the positions under K:
# Q8_0 B 0.05, K 1e-3 (measured: 0.008-0.010 of max |logit|, KL 2.7e-4 - 3.2e-4); Q4_0 B 0.25,
# K 0.2 (measured: 0.11-0.15, KL 0.064-0.092: 4 bits cost these random models far more). A wrong block layout, scale or row stride gives O(1) and KL > 1.
# The accuracy at 8K+ tokens on the real 0.6B shape is tools/kv_accuracy.sh's (README: Long
# context). `qwen3 info --kv q8_0` must name the cache type, and a head_dim that is not a multiple
# of 32 must be refused at load with a message.
set -u
. "$(dirname "$0")/../lib.sh"
expect 12
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/kv
mkdir -p "$TMP"
if [ ! -x "$QWEN3" ]; then echo "FAIL kv: engine binary $QWEN3 not found (run make)"; exit 0; fi

IDS=$("$PY" -c "print(','.join(str((i * 7919 + 11) % 2000) for i in range(60)))")

gen() { # gen NAME flags...
    local name=$1; shift
    [ -f "$TMP/$name/model.safetensors" ] && return 0
    "$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/$name" --no-tokenizer -q "$@" 2>"$TMP/gen.err" ||
        { echo "FAIL kv-gen-$name: $(tail -n 1 "$TMP/gen.err")"; return 1; }
}

# compare CASE EXACT QUANT VOCAB BOUND KLBOUND: max |dlogit| relative to max |logit|, mean KL
compare() {
    checked "$1" "$PY" - "$@" <<'PYEOF'
import sys
import numpy as np
case, a, b, vocab = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
bound, klb = float(sys.argv[5]), float(sys.argv[6])
x = np.fromfile(a, dtype="<f4").reshape(-1, vocab).astype(np.float64)
y = np.fromfile(b, dtype="<f4").reshape(-1, vocab).astype(np.float64)
if x.shape != y.shape or not np.isfinite(y).all():
    print("FAIL %s: shapes %s vs %s or non-finite logits" % (case, x.shape, y.shape)); sys.exit()
d = float(np.abs(x - y).max()); m = float(np.abs(x).max())
lp = x - x.max(1, keepdims=True); lp -= np.log(np.exp(lp).sum(1, keepdims=True))
lq = y - y.max(1, keepdims=True); lq -= np.log(np.exp(lq).sum(1, keepdims=True))
kl = float((np.exp(lp) * (lp - lq)).sum(1).mean())
msg = "max |dlogit| %.4g, max |logit| %.4g, ratio %.4f (bound %g); mean KL %.3g (bound %g)" % (d, m, d / m, bound, kl, klb)
if d <= bound * m and d > 0 and kl <= klb:
    print("PASS %s (%s)" % (case, msg))
else:
    print("FAIL %s: %s%s" % (case, msg, " (identical: the cache type was not applied?)" if d == 0 else ""))
PYEOF
}

run() { # run CASE MODEL OUT flags...: prints FAIL on error
    local case=$1 model=$2 out=$3; shift 3
    "$QWEN3" logits "$model" --ids "$IDS" -o "$out" -t 2 "$@" 2>"$TMP/err" ||
        { echo "FAIL $case: $(tail -n 1 "$TMP/err")"; return 1; }
}

for m in d32 d128; do
    if [ $m = d32 ]; then gen $m --preset tiny --dtype bf16 || continue
    else gen $m --preset tiny --dtype bf16 --head-dim 128 || continue; fi
    for mode in prefill decode; do
        flag=; [ $mode = decode ] && flag=--decode
        run kv-$m-$mode "$TMP/$m" "$TMP/$m.$mode.f32" $flag || continue
        run kv-$m-$mode "$TMP/$m" "$TMP/$m.$mode.q8" $flag --kv q8_0 &&
            compare kv-q8_0-$m-$mode "$TMP/$m.$mode.f32" "$TMP/$m.$mode.q8" 2048 0.05 1e-3
        run kv-$m-$mode "$TMP/$m" "$TMP/$m.$mode.q4" $flag --kv q4_0 &&
            compare kv-q4_0-$m-$mode "$TMP/$m.$mode.f32" "$TMP/$m.$mode.q4" 2048 0.25 0.2
    done
done

# --kv f32 means F32 on the fast path too: the same bytes as the exact path, and --kv f16 on the
# exact path the same bytes as the fast path's default. On an F32 model: F32 weights on the fast
# path differ from exact only in the cache (their batch-invariant products are float32), where BF16
# weights also take bf16 dot products (dot_bf16.c) on AVX512_BF16 CPUs.
if gen d32f --preset tiny --dtype f32 && run kv-f32-exact "$TMP/d32f" "$TMP/d32f.exact.f32" &&
   run kv-f32-fast "$TMP/d32f" "$TMP/d32f.fast-f32.f32" --fast --kv f32 &&
   run kv-f16-exact "$TMP/d32f" "$TMP/d32f.exact-f16.f32" --exact --kv f16 && run kv-fast "$TMP/d32f" "$TMP/d32f.fast.f32" --fast; then
    if cmp -s "$TMP/d32f.fast-f32.f32" "$TMP/d32f.exact.f32"; then echo "PASS kv-f32-on-fast-path"
    else echo "FAIL kv-f32-on-fast-path: --fast --kv f32 logits differ from the exact path's (the cache was not F32?)"; fi
    if cmp -s "$TMP/d32f.exact-f16.f32" "$TMP/d32f.fast.f32"; then echo "PASS kv-f16-on-exact-path"
    else echo "FAIL kv-f16-on-exact-path: --exact --kv f16 logits differ from the fast path's F16 cache"; fi
fi

if "$QWEN3" info "$TMP/d32" --kv q8_0 2>&1 | grep -q "KV cache Q8_0"; then echo "PASS kv-info"
else echo "FAIL kv-info: qwen3 info --kv q8_0 does not name the Q8_0 cache"; fi

if gen d48 --preset tiny --dtype bf16 --head-dim 48; then
    if "$QWEN3" info "$TMP/d48" --kv q8_0 >/dev/null 2>"$TMP/err"; then echo "FAIL kv-refuse-d48: head_dim 48 accepted for Q8_0"
    elif grep -q "multiple of 32" "$TMP/err"; then echo "PASS kv-refuse-d48"
    else echo "FAIL kv-refuse-d48: unclear message: $(tail -n 1 "$TMP/err")"; fi
fi
