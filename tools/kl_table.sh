#!/bin/bash
# tools/kl_table.sh MODEL TEXT OUT_DIR - what each weight type costs in accuracy, ours beside llama.cpp's.
#
# MODEL is a Hugging Face directory with float weights (a trained checkpoint: a random-weight model's
# next-token distributions are nearly uniform and say nothing), TEXT a UTF-8 text of a few thousand
# tokens. Writes MODEL as an F32 GGUF (the reference), then for each type:
#   - llama.cpp's file: llama-quantize F32.gguf FILE TYPE (llama.cpp's own quantizer and mix);
#     KL(F32 || FILE) and top-1 agreement computed by us (qwen3 perplexity --kl-base F32.gguf) and by
#     llama.cpp (llama-perplexity --kl-divergence against the F32 file's saved log-probabilities):
#     the same file, the same tokens (--score-last C - C/2: the positions llama-perplexity scores);
#   - our file: qwen3 quantize F32.gguf FILE --type TYPE (our quantizer and mix), scored by us;
#   - our own Q4 (no GGUF type: a safetensors directory from MODEL), scored by us.
# Prints one Markdown table (and keeps every run's output in OUT_DIR/*.log).
#
# Environment: LLAMA_BIN (directory holding llama-quantize and llama-perplexity, default
# /work/peer/llama.cpp/build/bin), QWEN3 (our binary, default build/rel/qwen3), C (tokens per chunk,
# default 256), T (threads, default 2), TYPES (default "q8_0 q6_k q5_k_m q4_k_m q4_0 iq4_xs q3_k q2_k").
set -eu
[ $# -eq 3 ] || { echo "usage: tools/kl_table.sh MODEL_DIR TEXT OUT_DIR" >&2; exit 2; }
MODEL=$1 TEXT=$2 OUT=$3
LLAMA_BIN=${LLAMA_BIN:-/work/peer/llama.cpp/build/bin}
Q=${QWEN3:-build/rel/qwen3} C=${C:-256} T=${T:-2}
TYPES=${TYPES:-"q8_0 q6_k q5_k_m q4_k_m q4_0 iq4_xs q3_k q2_k"}
for b in llama-quantize llama-perplexity; do
    [ -x "$LLAMA_BIN/$b" ] || { echo "kl_table: $LLAMA_BIN/$b not found; set LLAMA_BIN to a llama.cpp build's bin directory" >&2; exit 1; }
done
mkdir -p "$OUT"
F32=$OUT/f32.gguf
[ -f "$F32" ] || "$Q" quantize "$MODEL" "$F32" --type f32 >"$OUT/f32.log" 2>&1
# llama.cpp's reference log-probabilities of the F32 model over TEXT
[ -f "$OUT/base.kld" ] || "$LLAMA_BIN/llama-perplexity" -m "$F32" -f "$TEXT" -c "$C" -b "$C" -t "$T" \
    --kl-divergence-base "$OUT/base.kld" >"$OUT/base.log" 2>&1

# llama-quantize's type names: the K mixes as llama.cpp names them (Q3_K means Q3_K_M there)
ltype() { case $1 in q3_k) echo Q3_K_M ;; *) echo "$1" | tr a-z A-Z ;; esac; }
ours() { # FILE TAG -> "KL top1"
    "$Q" perplexity "$1" -f "$TEXT" -c "$C" -t "$T" --score-last $((C - C / 2)) --kl-base "$F32" >"$OUT/ours-$2.log" 2>&1
    sed -n 's/.*KL(base || model) mean \([0-9.e+-]*\) max .*top-1 agreement \([0-9.]*\)%.*/\1 \2/p' "$OUT/ours-$2.log"
}
theirs() { # FILE TAG -> "KL top1"
    "$LLAMA_BIN/llama-perplexity" -m "$1" -f "$TEXT" -c "$C" -b "$C" -t "$T" --kl-divergence-base "$OUT/base.kld" \
        --kl-divergence >"$OUT/llama-$2.log" 2>&1
    local kl top
    kl=$(sed -n 's/^Mean *KLD: *\([0-9.e+-]*\).*/\1/p' "$OUT/llama-$2.log" | head -1)
    top=$(sed -n 's/^Same top p: *\([0-9.]*\).*/\1/p' "$OUT/llama-$2.log" | head -1)
    echo "$kl $top"
}
echo "| type | llama.cpp's file, our engine: KL, top-1 | same file, llama.cpp: KL, top-1 | our quantizer's file, our engine: KL, top-1 |"
echo "|---|---|---|---|"
for t in $TYPES; do
    lf=$OUT/llama-$t.gguf of=$OUT/ours-$t.gguf
    [ -f "$lf" ] || "$LLAMA_BIN/llama-quantize" "$F32" "$lf" "$(ltype "$t")" "$T" >"$OUT/quantize-llama-$t.log" 2>&1
    [ -f "$of" ] || "$Q" quantize "$F32" "$of" --type "$t" >"$OUT/quantize-ours-$t.log" 2>&1
    set -- $(ours "$lf" "llamafile-$t") ; a="$1, $2%"
    set -- $(theirs "$lf" "$t") ; b="$1, $2%"
    set -- $(ours "$of" "$t") ; c="$1, $2%"
    echo "| $(ltype "$t") | $a | $b | $c |"
done
# our own Q4 (no GGUF type): a quantized safetensors directory
[ -d "$OUT/ours-q4" ] || "$Q" quantize "$MODEL" "$OUT/ours-q4" --type q4 >"$OUT/quantize-ours-q4.log" 2>&1
set -- $(ours "$OUT/ours-q4" q4)
echo "| our Q4 | - | - | $1, $2% |"
