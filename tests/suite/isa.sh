#!/bin/bash
# isa.sh - the whole engine gives the same logits whichever instruction set its kernels use.
#
# QWEN3_ISA=scalar|avx2|avx512 caps the features whose kernels a model loads (its kernel table, kernels/ktable.c), so one binary
# runs the scalar reference, the AVX2 kernels and the AVX-512 kernels on the same CPU (each
# comparison with an ISA the CPU lacks prints "SKIP ...": skipped, not passed). On small generated
# checkpoints (BF16 and F16 weights, hidden 256 so Q4 superblocks fit every matrix), prompts of 40
# tokens as one prefill and through the KV cache one token at a time:
#   exact path (float32 products of the float weights): max |dlogit| <= 1e-4 * max(1, max |logit|)
#     against scalar (summation order is all that differs);
#   --quant q8_0 / q4: within quant.sh's bound 0.05 * max |logit|. Not tighter: the integer dot
#     products agree (tests/unit/test_kernels.c checks each kernel against its scalar twin), but
#     the float sums' order moves an activation across a rounding boundary of the next int8
#     quantization now and then, a discrete step of ~0.1 logit on these random-weight models that
#     the KV cache carries to the later positions; AVX-512's prefill also takes the bf16 GEMM.
# Also checks that `qwen3 info` names the capped ISA.
set -u
. "$(dirname "$0")/../lib.sh"
expect 18
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/isa
mkdir -p "$TMP"
if [ ! -x "$QWEN3" ]; then echo "FAIL isa: engine binary $QWEN3 not found (run make)"; exit 0; fi
OUT=$TMP/run.$$ # this run's outputs (runs side by side must not share them)
mkdir -p "$OUT"
trap 'rm -rf "$OUT"' EXIT

IDS=$("$PY" -c "print(','.join(str((i * 7919 + 11) % 2000) for i in range(40)))")

gen() { # gen NAME flags...
    local name=$1; shift
    [ -f "$TMP/$name/model.safetensors" ] && return 0
    # written aside and renamed, so a run of the suite beside this one never reads half a file
    "$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/$name.$$" --no-tokenizer -q "$@" 2>"$TMP/gen.$$.err" ||
        { echo "FAIL isa-gen-$name: $(tail -n 1 "$TMP/gen.$$.err")"; rm -rf "$TMP/$name.$$"; return 1; }
    mv -T "$TMP/$name.$$" "$TMP/$name" 2>/dev/null || rm -rf "$TMP/$name.$$"
    rm -f "$TMP/gen.$$.err"
}

# compare CASE A B BOUND: BOUND is "exact" (1e-4 * max(1, max|logit|)) or "quant" (0.05 * max|logit|)
compare() {
    checked "$1" "$PY" - "$@" <<'PYEOF'
import sys
import numpy as np
case, fa, fb, mode = sys.argv[1:5]
a = np.fromfile(fa, np.float32).astype(np.float64)
b = np.fromfile(fb, np.float32).astype(np.float64)
if a.shape != b.shape or a.size == 0 or not np.isfinite(b).all():
    print("FAIL %s: sizes %d vs %d or non-finite logits" % (case, a.size, b.size)); sys.exit()
err, scale = np.abs(a - b).max(), np.abs(a).max()
bound = 1e-4 * max(1.0, scale) if mode == "exact" else 0.05 * scale
print(("PASS %s: max|dlogit| %.3g (bound %.3g, max|logit| %.2f)" if err <= bound else
       "FAIL %s: max|dlogit| %.3g > bound %.3g (max|logit| %.2f)") % (case, err, bound, scale))
PYEOF
}

gen bf16 --preset tiny --dtype bf16 --hidden 256 --intermediate 512 --heads 8 --head-dim 32 --kv-heads 4 --layers 2 --seed 31
gen f16 --preset tiny --dtype f16 --hidden 256 --intermediate 512 --heads 8 --head-dim 32 --kv-heads 4 --layers 2 --seed 32

# the ISA kernels report for a cap, from `qwen3 info`
info_isa() { QWEN3_ISA=$2 "$QWEN3" info "$1" 2>&1 | sed -n 's/.*kernels \([a-z0-9]*\).*/\1/p' | head -n 1; }

for m in bf16 f16; do
    [ -f "$TMP/$m/model.safetensors" ] || continue
    avail="" lacks=""
    for isa in scalar avx2 avx512; do
        got=$(info_isa "$TMP/$m" $isa)
        if [ "$got" = "$isa" ]; then avail="$avail $isa"; else lacks="$lacks $isa"; fi
    done
    case "$avail" in
    *scalar*) echo "PASS isa-$m-info-names-cap" ;;
    *) echo "FAIL isa-$m-info-names-cap: QWEN3_ISA=scalar gives kernels '$(info_isa "$TMP/$m" scalar)'"; continue ;;
    esac
    for q in none q8_0 q4; do
        [ $q != none ] && [ $m = f16 ] && continue
        flags=""; [ $q != none ] && flags="--quant $q"
        for mode in prefill decode; do
            dflag=""; [ $mode = decode ] && dflag="--decode"
            ok=1
            for isa in $avail; do
                # shellcheck disable=SC2086
                QWEN3_ISA=$isa "$QWEN3" logits "$TMP/$m" --ids "$IDS" -o "$OUT/$m.$q.$mode.$isa.f32" -t 2 $flags $dflag 2>"$OUT/err" ||
                    { echo "FAIL isa-$m-$q-$mode-$isa: $(tail -n 1 "$OUT/err")"; ok=0; }
            done
            for isa in $lacks; do # stated as skipped, one line per comparison not made
                echo "SKIP isa-$m-$q-$mode-$isa-vs-scalar: this CPU lacks $isa (QWEN3_ISA=$isa gives kernels $(info_isa "$TMP/$m" $isa))"
            done
            [ $ok = 1 ] || continue
            for isa in $avail; do
                [ $isa = scalar ] && continue
                bound=exact; [ $q != none ] && bound=quant
                compare "isa-$m-$q-$mode-$isa-vs-scalar" "$OUT/$m.$q.$mode.scalar.f32" "$OUT/$m.$q.$mode.$isa.f32" $bound
            done
        done
    done
done
exit 0
