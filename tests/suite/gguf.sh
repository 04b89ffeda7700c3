#!/bin/bash
# gguf.sh - GGUF input: the same checkpoint as a Hugging Face directory and as GGUF gives identical
# logits.
#
# tools/gen_checkpoint.py --gguf writes the safetensors files and a model.gguf (its own GGUF writer,
# tools/gguf_write.py, written from the format's specification) holding the same weights in the same
# storage type, with llama.cpp's metadata keys and tensor names (3-D expert tensors for MoE). The
# HF path is checked against the numpy reference in ref_forward.sh; here `qwen3 logits` over 7 ids,
# as one prefill and token by token (--decode), must give byte-identical float32 logits on both
# paths: dense F32 / BF16 / Q8_0 (ggml's block_q8_0, our safetensors "Q8_0"), untied + YaRN, MoE
# F16 / F32 without norm_topk_prob / Q8_0 with a dense layer, and a 3-part split set given as its
# directory. Any misread key (eps, theta, YaRN, norm_topk), tensor, expert slice or row order
# changes the logits.
set -u
. "$(dirname "$0")/../lib.sh"
expect 17
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/gguf
mkdir -p "$TMP"
if [ ! -x "$QWEN3" ]; then echo "FAIL gguf: engine binary $QWEN3 not found (run make)"; exit 0; fi

IDS=1,5,9,200,7,3,2000

# same NAME GGUF_PATH gen_checkpoint flags...
same() {
    local name=$1 rel=$2; shift 2
    local d="$TMP/$name"
    rm -rf "$d"
    if ! "$PY" "$ROOT/tools/gen_checkpoint.py" "$d" --no-tokenizer -q --gguf "$@" 2>"$TMP/gen.err"; then
        echo "FAIL gguf-$name: gen_checkpoint: $(tail -n 1 "$TMP/gen.err")"; return
    fi
    local g="$d/$rel"
    if [ "$rel" = split ]; then mkdir -p "$d/split" && mv "$d"/*.gguf "$d/split/"; fi
    for mode in prefill decode; do
        local fl=()
        [ $mode = decode ] && fl=(--decode)
        if ! "$QWEN3" logits "$d" --ids $IDS "${fl[@]}" -o "$TMP/hf.f32" 2>"$TMP/err"; then
            echo "FAIL gguf-$name-$mode: HF directory: $(head -c 300 "$TMP/err")"; continue
        fi
        if ! "$QWEN3" logits "$g" --ids $IDS "${fl[@]}" -o "$TMP/gg.f32" 2>"$TMP/err"; then
            echo "FAIL gguf-$name-$mode: GGUF: $(head -c 300 "$TMP/err")"; continue
        fi
        if [ ! -s "$TMP/hf.f32" ]; then echo "FAIL gguf-$name-$mode: no logits written"; continue; fi
        if cmp -s "$TMP/hf.f32" "$TMP/gg.f32"; then
            echo "PASS gguf-$name-$mode (identical logits, $(stat -c %s "$TMP/hf.f32") bytes)"
        else
            echo "FAIL gguf-$name-$mode: logits differ: $("$PY" -c "
import numpy as np, sys
a = np.fromfile('$TMP/hf.f32', '<f4'); b = np.fromfile('$TMP/gg.f32', '<f4')
print('sizes', a.size, b.size, 'max |d|', float(np.abs(a - b).max()) if a.size == b.size else '-')")"
        fi
    done
}

same dense-f32 model.gguf --preset tiny --dtype f32
same dense-bf16 model.gguf --preset tiny --dtype bf16
same dense-q8_0 model.gguf --preset tiny --dtype q8_0
same untied-yarn model.gguf --preset tiny --dtype bf16 --untied --yarn 4 --rope-theta 10000 --rms-eps 1e-5
same moe-f16 model.gguf --preset tiny-moe --dtype f16
same moe-f32-no-norm-topk model.gguf --preset tiny-moe --dtype f32 --no-norm-topk
same moe-q8_0-dense-layer model.gguf --preset tiny-moe --dtype q8_0 --mlp-only-layers 0
same moe-bf16-split split --preset tiny-moe --dtype bf16 --gguf-split 3

# `qwen3 info` on a GGUF names the file and its types
d="$TMP/dense-q8_0"
if "$QWEN3" info "$d/model.gguf" >"$TMP/info" 2>&1 && grep -q "model.gguf" "$TMP/info" && grep -q "attention Q8_0" "$TMP/info"; then
    echo "PASS gguf-info"
else
    echo "FAIL gguf-info: $(head -c 300 "$TMP/info")"
fi
exit 0
