#!/bin/bash
# tools/kl_table.sh MODEL TEXT OUT_DIR - what each weight type costs in accuracy, ours beside llama.cpp's.
#
# MODEL is a Hugging Face directory with float weights (a trained checkpoint: a random-weight model's
# next-token distributions are nearly uniform and say nothing), TEXT a UTF-8 text of a few thousand
# tokens. Writes MODEL as an F32 GGUF (the reference), then for each type:
#   - llama.cpp's file, made by llama-quantize from F32.gguf: a single block type (q4_0 ... q6_k,
#     iq4_xs) with --pure and the embedding / output Q8_0, which is the layout our quantizer writes for
#     it (without --pure llama-quantize mixes types: its Q3_K / Q4_K / Q5_K are the _M mixes and its
#     Q2_K, Q4_0 ... keep the output at Q6_K); the float types and the q4_k_m / q5_k_m mixes as it makes
#     them; an entry llama:NAME (e.g. llama:Q3_K_M, llama:Q2_K) is llama.cpp's own mix NAME, which our
#     quantizer does not make. KL(F32 || FILE) and top-1 agreement computed by us (qwen3 perplexity
#     --kl-base F32.gguf) and by llama.cpp (llama-perplexity --kl-divergence against the F32 file's
#     saved log-probabilities): the same file, the same tokens (--score-last C - C/2: the positions
#     llama-perplexity scores);
#   - our file: qwen3 quantize F32.gguf FILE --type TYPE (our quantizer and mix), scored by us;
#   - our own Q4 (no GGUF type: a safetensors directory from MODEL), scored by us.
# Prints one Markdown table (and keeps every run's output in OUT_DIR/*.log). Without llama.cpp's
# binaries (LLAMA_BIN unset or not holding them) the llama.cpp columns are "-".
#
# Environment: LLAMA_BIN (directory holding llama-quantize and llama-perplexity, default
# /work/llama.cpp/build/bin), QWEN3 (our binary, default build/rel/qwen3), C (tokens per chunk,
# default 256), T (threads, default 2), TYPES (default: every type, see below).
set -eu
[ $# -eq 3 ] || { echo "usage: tools/kl_table.sh MODEL_DIR TEXT OUT_DIR" >&2; exit 2; }
MODEL=$1 TEXT=$2 OUT=$3
LLAMA_BIN=${LLAMA_BIN:-/work/llama.cpp/build/bin}
Q=${QWEN3:-build/rel/qwen3} C=${C:-256} T=${T:-2}
TYPES=${TYPES:-"f32 f16 bf16 q8_0 q6_k q5_k_m q5_k q5_1 q5_0 q4_k_m q4_k q4_1 q4_0 iq4_nl iq4_xs q3_k q2_k llama:Q3_K_M llama:Q2_K"}
PEER=1
for b in llama-quantize llama-perplexity; do
    [ -x "$LLAMA_BIN/$b" ] || { echo "kl_table: $LLAMA_BIN/$b not found: llama.cpp's columns left out (set LLAMA_BIN to a llama.cpp build's bin directory)" >&2; PEER=0; }
done
mkdir -p "$OUT"
F32=$OUT/f32.gguf
[ -f "$F32" ] || "$Q" quantize "$MODEL" "$F32" --type f32 >"$OUT/f32.log" 2>&1
# llama.cpp's reference log-probabilities of the F32 model over TEXT
[ $PEER = 0 ] || [ -f "$OUT/base.kld" ] || "$LLAMA_BIN/llama-perplexity" -m "$F32" -f "$TEXT" -c "$C" -b "$C" -t "$T" \
    --kl-divergence-base "$OUT/base.kld" >"$OUT/base.log" 2>&1

# llama-quantize's flags and type name for TYPE (it takes FLAGS IN OUT TYPE THREADS): float types and
# the _M mixes by name; a single block type --pure with the embedding and output Q8_0 (our
# quantizer's layout); llama:NAME its own mix NAME
lflags() {
    case $1 in
        f32 | f16 | bf16 | q4_k_m | q5_k_m | llama:*) ;;
        *) echo "--pure --token-embedding-type q8_0 --output-tensor-type q8_0" ;;
    esac
}
ltype() { case $1 in llama:*) echo "${1#llama:}" ;; *) echo "$1" | tr "[:lower:]" "[:upper:]" ;; esac; }
tag() { case $1 in llama:*) echo "llama-${1#llama:}" ;; *) echo "$1" ;; esac; }
ours() { # FILE TAG -> "KL top1"
    # a finished run's log is kept and reused (a rerun, e.g. once llama.cpp is built, redoes only what is new)
    grep -q "top-1 agreement" "$OUT/ours-$2.log" 2>/dev/null ||
        "$Q" perplexity "$1" -f "$TEXT" -c "$C" -t "$T" --score-last $((C - C / 2)) --kl-base "$F32" >"$OUT/ours-$2.log" 2>&1 || true
    local r
    r=$(sed -n 's/.*KL(base || model) mean \([0-9.e+-]*\) max .*top-1 agreement \([0-9.]*\)%.*/\1, \2%/p' "$OUT/ours-$2.log")
    echo "${r:--}"
}
theirs() { # FILE TAG -> "KL top1"
    grep -q "^Mean *KLD" "$OUT/llama-$2.log" 2>/dev/null ||
        "$LLAMA_BIN/llama-perplexity" -m "$1" -f "$TEXT" -c "$C" -b "$C" -t "$T" --kl-divergence-base "$OUT/base.kld" \
            --kl-divergence >"$OUT/llama-$2.log" 2>&1 || true
    local kl top
    kl=$(sed -n 's/^Mean *KLD: *\([0-9.e+-]*\).*/\1/p' "$OUT/llama-$2.log" | head -1)
    top=$(sed -n 's/^Same top p: *\([0-9.]*\).*/\1/p' "$OUT/llama-$2.log" | head -1)
    [ -n "$kl" ] && echo "$kl, $top%" || echo "-"
}
echo "| type | llama.cpp's file, our engine: KL, top-1 | same file, llama.cpp: KL, top-1 | our quantizer's file, our engine: KL, top-1 |"
echo "|---|---|---|---|"
for t in $TYPES; do
    case $t in llama:*) [ $PEER = 1 ] || continue ;; esac # llama.cpp's own mixes: nothing to show without it
    g=$(tag "$t") lf=$OUT/llama-$(tag "$t").gguf of=$OUT/ours-$(tag "$t").gguf a=- b=- c=-
    if [ $PEER = 1 ]; then
        # shellcheck disable=SC2046 # lflags' words are separate arguments
        [ -f "$lf" ] || "$LLAMA_BIN/llama-quantize" $(lflags "$t") "$F32" "$lf" "$(ltype "$t")" "$T" >"$OUT/quantize-llama-$g.log" 2>&1 ||
            { echo "kl_table: llama-quantize $t failed (see $OUT/quantize-llama-$g.log)" >&2; rm -f "$lf"; }
        [ -f "$lf" ] && { a=$(ours "$lf" "llamafile-$g"); b=$(theirs "$lf" "$g"); }
    fi
    case $t in
        llama:*) ;;
        *) [ -f "$of" ] || "$Q" quantize "$F32" "$of" --type "$t" >"$OUT/quantize-ours-$g.log" 2>&1 ||
               { echo "kl_table: qwen3 quantize $t failed (see $OUT/quantize-ours-$g.log)" >&2; rm -f "$of"; }
           [ -f "$of" ] && c=$(ours "$of" "$g") ;;
    esac
    case $t in
        llama:*) name="${t#llama:} (llama.cpp's mix)" ;;
        f32 | f16 | bf16 | q4_k_m | q5_k_m) name=$(echo "$t" | tr "[:lower:]" "[:upper:]") ;;
        *) name="$(echo "$t" | tr "[:lower:]" "[:upper:]") (single type)" ;;
    esac
    echo "| $name | $a | $b | $c |"
done
# our own Q4 (no GGUF type): a quantized safetensors directory
[ -d "$OUT/ours-q4" ] || "$Q" quantize "$MODEL" "$OUT/ours-q4" --type q4 >"$OUT/quantize-ours-q4.log" 2>&1
echo "| our Q4 | - | - | $(ours "$OUT/ours-q4" q4) |"
