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
#
# The embedded tokenizer and chat template: gen_checkpoint --gguf also writes the tokenizer metadata
# convert_hf_to_gguf.py writes (tokens, token types, merges, ids, chat template; from the real Qwen3
# tokenizer files). With the GGUF alone in a directory, `qwen3 tokenize` (2,000+ texts of
# tokenizer_cases.py, with and without added-token matching), `detokenize` and `render` (the chat
# cases of tests/data/chat) must give exactly what the HF files give (those are checked against HF
# tokenizers and Jinja2 in tokenizer.sh and chat_render.sh). Decoding with skip_special differs
# only where the file cannot say what HF says (see src/tokenizer/gguf_tok.c): those cases are
# counted apart and checked to differ only by the FIM/repo tokens.
#
# Writing: `qwen3 quantize MODEL OUT.gguf` (keep, q8_0, q4_k_m; dense and MoE; from a HF directory
# and from a GGUF) loads back with identical logits to its source (keep) or to the same quantization
# written as safetensors, with the same tokenizer and template. llama.cpp's own GGUF code
# (tests/ref/gguf_llama.py: libggml-base.so of npm's @node-llama-cpp/linux-x64 through ctypes)
# parses our Q4_K_M file and finds llama.cpp's Q4_K_M types in it, and files llama.cpp writes from
# ours load with identical logits.
set -u
. "$(dirname "$0")/../lib.sh"
# 15 types through `qwen3 run`; the tokenizer comparison: one check per case group of
# tokenizer_cases.py (7) in each of two modes; the llama.cpp part: 4 checks with libggml-base.so
# (tests/ref/gguf_llama.py), else its one SKIP
expect $((43 + 15 + $([ -f "$(dirname "$0")/../node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so" ] && echo 4 || echo 1)))
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

# ---- tokenizer and chat template
T=${QWEN3_TOKENIZER:-$(cd "$ROOT/.." && pwd)/shared/qwen3-tokenizer}
TD="$TMP/tok"
rm -rf "$TD" "$TMP/tokgen"
if ! "$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/tokgen" --preset tiny --layers 1 -q --gguf 2>"$TMP/gen.err"; then
    echo "FAIL gguf-tokenizer-gen: $(tail -n 1 "$TMP/gen.err")"
else
    mkdir -p "$TD" && mv "$TMP/tokgen/model.gguf" "$TD/"
    "$PY" "$ROOT/tests/ref/tokenizer_cases.py" encode 2000 >"$TMP/enc_in.jsonl" 2>"$TMP/cases.log" ||
        echo "FAIL gguf-tokenizer-cases: $(tail -n 1 "$TMP/cases.log")"
    for mode in special plain; do
        fl=()
        [ $mode = plain ] && fl=(--no-special)
        "$QWEN3" tokenize "$T" "${fl[@]}" --jsonl <"$TMP/enc_in.jsonl" >"$TMP/enc_hf.jsonl" 2>"$TMP/err" ||
            echo "FAIL gguf-tokenizer-$mode: HF files: $(head -c 200 "$TMP/err")"
        "$QWEN3" tokenize "$TD" "${fl[@]}" --jsonl <"$TMP/enc_in.jsonl" >"$TMP/enc_gg.jsonl" 2>"$TMP/err" ||
            echo "FAIL gguf-tokenizer-$mode: GGUF: $(head -c 200 "$TMP/err")"
        "$PY" "$ROOT/tests/ref/tokenizer_compare.py" "gguf-tokenizer-$mode" "$TMP/enc_in.jsonl" "$TMP/enc_hf.jsonl" \
            "$TMP/enc_gg.jsonl" ids
    done
    "$PY" "$ROOT/tests/ref/tokenizer_cases.py" decode "$T/vocab.json" "$TMP/enc_hf.jsonl" >"$TMP/dec_in.jsonl" ||
        echo "FAIL gguf-detokenize-cases"
    "$QWEN3" detokenize "$T" --jsonl <"$TMP/dec_in.jsonl" >"$TMP/dec_hf.jsonl" 2>"$TMP/err" || echo "FAIL gguf-detokenize: HF files"
    "$QWEN3" detokenize "$TD" --jsonl <"$TMP/dec_in.jsonl" >"$TMP/dec_gg.jsonl" 2>"$TMP/err" || echo "FAIL gguf-detokenize: GGUF"
    "$PY" - "$T/tokenizer.json" "$TMP/dec_in.jsonl" "$TMP/dec_hf.jsonl" "$TMP/dec_gg.jsonl" <<'PYEOF'
import json, sys
tj = json.load(open(sys.argv[1], encoding="utf-8"))
# added tokens HF calls not special that the converter marks control (spelt <|...|>)
fim = {t["id"] for t in tj["added_tokens"] if not t["special"] and t["content"].startswith("<|") and t["content"].endswith("|>")}
ins = [json.loads(l) for l in open(sys.argv[2])]
hf = [json.loads(l)["text"] for l in open(sys.argv[3], encoding="utf-8")]
gg = [json.loads(l)["text"] for l in open(sys.argv[4], encoding="utf-8")]
if not (len(ins) == len(hf) == len(gg)) or not ins:
    print("FAIL gguf-detokenize: %d cases, %d and %d outputs" % (len(ins), len(hf), len(gg))); sys.exit()
same = apart = 0
bad = []
for i, a, b in zip(ins, hf, gg):
    if a == b:
        same += 1
    elif i["skip_special_tokens"] and fim & set(i["ids"]):
        apart += 1  # expected: GGUF drops these tokens under skip_special
        if len(b) >= len(a):
            bad.append(i)
    else:
        bad.append(i)
if bad:
    print("FAIL gguf-detokenize: %d of %d cases differ, first %s" % (len(bad), len(ins), json.dumps(bad[0])[:200]))
else:
    print("PASS gguf-detokenize (%d cases identical, %d differ only by FIM/repo tokens under skip_special)" % (same, apart))
PYEOF
    "$QWEN3" render "$T" --jsonl --keep-going <"$ROOT/tests/data/chat/cases.jsonl" >"$TMP/r_hf.jsonl" 2>/dev/null
    "$QWEN3" render "$TD" --jsonl --keep-going <"$ROOT/tests/data/chat/cases.jsonl" >"$TMP/r_gg.jsonl" 2>"$TMP/err"
    n=$(wc -l <"$TMP/r_hf.jsonl")
    if [ "$n" -gt 10 ] && cmp -s "$TMP/r_hf.jsonl" "$TMP/r_gg.jsonl"; then
        echo "PASS gguf-render ($n conversations byte-identical)"
    else
        echo "FAIL gguf-render: $n HF prompts; GGUF output differs: $(head -c 200 "$TMP/err")"
    fi
    # a model whose template is not one we implement is refused, as for HF directories
    "$PY" - "$TD/model.gguf" "$TMP/badtpl.gguf" <<'PYEOF'
import sys
raw = open(sys.argv[1], "rb").read()
key = b"tokenizer.chat_template"
i = raw.index(key) + len(key) + 4 + 8  # key, u32 type, u64 length
raw = bytearray(raw); raw[i] = ord("X") if raw[i] != ord("X") else ord("Y")  # same length, other text
open(sys.argv[2], "wb").write(raw)
PYEOF
    mkdir -p "$TMP/badtpl" && mv "$TMP/badtpl.gguf" "$TMP/badtpl/model.gguf"
    if printf '{"messages":[{"role":"user","content":"hi"}]}\n' | "$QWEN3" render "$TMP/badtpl" --jsonl >"$TMP/out" 2>&1; then
        echo "FAIL gguf-render-unknown-template: accepted"
    elif grep -q "differs from the Qwen3 templates" "$TMP/out"; then
        echo "PASS gguf-render-unknown-template"
    else
        echo "FAIL gguf-render-unknown-template: $(head -c 200 "$TMP/out")"
    fi
fi

# ---- writing GGUF: qwen3 quantize MODEL OUT.gguf, read back by us and by llama.cpp ----
# logits_same NAME A B: `qwen3 logits` over $IDS of models A and B are byte-identical
logits_same() {
    if "$QWEN3" logits "$2" --ids $IDS -o "$TMP/a.f32" 2>"$TMP/err" && "$QWEN3" logits "$3" --ids $IDS -o "$TMP/b.f32" 2>>"$TMP/err" &&
        [ -s "$TMP/a.f32" ] && cmp -s "$TMP/a.f32" "$TMP/b.f32"; then
        echo "PASS $1 (identical logits)"
    else
        echo "FAIL $1: logits differ or a run failed: $(head -c 300 "$TMP/err")"
    fi
}
W="$TMP/write"
rm -rf "$W" && mkdir -p "$W"
LL="$ROOT/tests/ref/gguf_llama.py"
if "$PY" "$ROOT/tools/gen_checkpoint.py" "$W/dense" --preset tiny --dtype bf16 --hidden 256 --intermediate 512 --layers 4 -q \
        --gguf 2>"$TMP/gen.err" &&
    "$PY" "$ROOT/tools/gen_checkpoint.py" "$W/moe" --preset tiny-moe --dtype f16 --mlp-only-layers 1 -q --no-tokenizer 2>>"$TMP/gen.err"; then
    # keep: the stored bytes, so the logits are the HF directory's; tokenizer and template come along
    "$QWEN3" quantize "$W/dense" "$W/keep.gguf" --type keep 2>"$TMP/err" || echo "FAIL gguf-write-keep: $(head -c 300 "$TMP/err")"
    mkdir -p "$W/keepdir" && mv "$W/keep.gguf" "$W/keepdir/"
    logits_same gguf-write-keep "$W/dense" "$W/keepdir/keep.gguf"
    head -n 1500 "$TMP/enc_in.jsonl" >"$TMP/enc_small.jsonl"
    "$QWEN3" tokenize "$T" --jsonl <"$TMP/enc_small.jsonl" >"$TMP/w_hf.jsonl" 2>/dev/null
    "$QWEN3" tokenize "$W/keepdir" --jsonl <"$TMP/enc_small.jsonl" >"$TMP/w_gg.jsonl" 2>"$TMP/err"
    "$PY" "$ROOT/tests/ref/tokenizer_compare.py" gguf-write-tokenizer "$TMP/enc_small.jsonl" "$TMP/w_hf.jsonl" "$TMP/w_gg.jsonl" ids
    "$QWEN3" render "$W/keepdir" --jsonl --keep-going <"$ROOT/tests/data/chat/cases.jsonl" >"$TMP/w_r.jsonl" 2>/dev/null
    if [ -s "$TMP/w_r.jsonl" ] && cmp -s "$TMP/r_hf.jsonl" "$TMP/w_r.jsonl"; then echo "PASS gguf-write-template"
    else echo "FAIL gguf-write-template: prompts from the written GGUF differ"; fi
    # MoE with a dense layer: 3-D expert tensors written from per-expert safetensors
    "$QWEN3" quantize "$W/moe" "$W/moe.gguf" --type keep 2>"$TMP/err" || echo "FAIL gguf-write-moe: $(head -c 300 "$TMP/err")"
    logits_same gguf-write-moe "$W/moe" "$W/moe.gguf"
    # the same quantization as the safetensors writer: Q8_0, and llama.cpp's Q4_K_M mix
    for t in q8_0 q4_k_m; do
        "$QWEN3" quantize "$W/dense" "$W/$t.gguf" --type $t 2>"$TMP/err" && "$QWEN3" quantize "$W/dense" "$W/$t" --type $t 2>>"$TMP/err" ||
            echo "FAIL gguf-write-$t: $(head -c 300 "$TMP/err")"
        logits_same "gguf-write-$t" "$W/$t" "$W/$t.gguf"
    done
    # a GGUF source: GGUF -> GGUF keeps every byte of the k-quant blocks
    "$QWEN3" quantize "$W/q4_k_m.gguf" "$W/again.gguf" --type keep 2>"$TMP/err" || echo "FAIL gguf-write-from-gguf: $(head -c 300 "$TMP/err")"
    logits_same gguf-write-from-gguf "$W/q4_k_m.gguf" "$W/again.gguf"
    # a GGUF source cannot become a safetensors directory without a config.json
    if "$QWEN3" quantize "$W/q4_k_m.gguf" "$W/nodir" --type q8_0 >"$TMP/out" 2>&1; then echo "FAIL gguf-write-to-dir: accepted"
    elif grep -q "OUT.gguf" "$TMP/out"; then echo "PASS gguf-write-to-dir (refused with a message)"
    else echo "FAIL gguf-write-to-dir: $(head -c 200 "$TMP/out")"; fi

    # llama.cpp's own GGUF code (npm @node-llama-cpp/linux-x64): it parses what we write, and we load
    # what it writes
    "$PY" "$LL" read "$W/q4_k_m.gguf" >"$TMP/ll.json" 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 2 ]; then
        echo "SKIP gguf-llama.cpp: libggml-base.so not installed (scripts/setup.sh installs tests/node)"
    else
        "$PY" - "$TMP/ll.json" <<'PYEOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("FAIL gguf-llama.cpp-reads-ours: no summary (%s)" % e); sys.exit()
if "error" in d:
    print("FAIL gguf-llama.cpp-reads-ours: %s" % d["error"]); sys.exit()
t = {x["name"]: x for x in d["tensors"]}
Q4K, Q6K, F32 = 12, 14, 0
# llama.cpp's Q4_K_M for 4 layers: attn_v and ffn_down Q6_K where use_more_bits(i, 4) holds
# (i < 4/8 || i >= 7*4/8 || (i - 4/8) % 3 == 2: layers 2 and 3), Q4_K elsewhere; other matrices
# Q4_K; norms F32 (as our quantizer's mix must give)
want = {"blk.2.attn_v.weight": Q6K, "blk.0.attn_v.weight": Q4K, "blk.3.ffn_down.weight": Q6K,
        "blk.1.ffn_down.weight": Q4K, "blk.0.attn_q.weight": Q4K, "blk.0.ffn_up.weight": Q4K,
        "blk.0.attn_norm.weight": F32, "output_norm.weight": F32}
bad = [(k, t.get(k, {}).get("type"), v) for k, v in want.items() if t.get(k, {}).get("type") != v]
kv = d["kv"]
ok_kv = kv.get("general.architecture", {}).get("value") == "qwen3" and kv.get("qwen3.block_count", {}).get("value") == 4 \
    and kv.get("tokenizer.ggml.tokens", {}).get("n", 0) >= 151669 and "tokenizer.chat_template" in kv
if bad or not ok_kv or len(t) != 3 + 4 * 11 - 1 + (1 if "output.weight" in t else 0):
    print("FAIL gguf-llama.cpp-reads-ours: types %s, keys ok %s, %d tensors" % (bad, ok_kv, len(t)))
else:
    print("PASS gguf-llama.cpp-reads-ours (%d tensors, %d keys, Q4_K_M types as llama.cpp assigns them)" % (len(t), len(kv)))
PYEOF
        for m in dense-q8_0 moe-f16 untied-yarn; do
            src="$TMP/$m/model.gguf"
            mkdir -p "$W/ll-$m"
            if "$PY" "$LL" rewrite "$src" "$W/ll-$m/model.gguf" 2>"$TMP/err"; then
                logits_same "gguf-llama.cpp-writes-$m" "$TMP/$m" "$W/ll-$m/model.gguf"
            else
                echo "FAIL gguf-llama.cpp-writes-$m: rewrite failed: $(head -c 200 "$TMP/err")"
            fi
        done
    fi
else
    echo "FAIL gguf-write-gen: $(tail -n 1 "$TMP/gen.err")"
fi

# `qwen3 run FILE.gguf "question"` for a GGUF of every weight type the loader takes (issue 9's
# "works for a GGUF of each listed type"): each written by `qwen3 quantize --type T` from one small
# dense checkpoint with the real vocabulary (so the chat prompt's tokens exist); `info` must name T
# for the layer matrices, and a short greedy answer must come back with status 0. (The logits of
# these types are checked in quant.sh, on the same blocks written as safetensors.)
RT="$TMP/runtypes"
rm -rf "$RT" && mkdir -p "$RT"
RUN_TYPES="f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs"
if "$PY" "$ROOT/tools/gen_checkpoint.py" "$RT/dense" --preset tiny --dtype bf16 --hidden 256 --intermediate 512 --layers 1 \
        --vocab 151936 -q 2>"$TMP/gen.err"; then
    for t in $RUN_TYPES; do
        T=$(echo "$t" | tr a-z A-Z)
        # Under the sanitizers three types run (a float, a legacy block and a K-quant): quantizing
        # the 151,936-row embedding and answering took ~20 s a type there (over 5 minutes for the
        # 15, most of CI's sanitizer half; q5_1 and iq4_xs also ran until 2026-12-05, when CI
        # measured 885-897 s of its 900). Each type's kernels and loader run under the sanitizers
        # in quant.sh, test_quant_ggml and test_gemm_ggml; this check's own path is the same for
        # every type.
        if san_build; then
            case $t in
                bf16 | q8_0 | q4_k) ;;
                *) echo "SKIP gguf-run-$t: sanitizer build: three types run here (bf16, q8_0, q4_k); every type runs in the release build"; continue ;;
            esac
        fi
        if ! "$QWEN3" quantize "$RT/dense" "$RT/$t.gguf" --type "$t" >/dev/null 2>"$TMP/err"; then
            echo "FAIL gguf-run-$t: quantize: $(tail -n 1 "$TMP/err")"; continue
        fi
        if ! "$QWEN3" info "$RT/$t.gguf" >"$TMP/info" 2>&1 || ! grep -q "attention $T, mlp $T" "$TMP/info"; then
            echo "FAIL gguf-run-$t: info does not show $T: $(grep weights "$TMP/info" | head -c 200)"; continue
        fi
        if "$QWEN3" run "$RT/$t.gguf" "Why is the sky blue?" -n 4 --no-think --temp 0 >"$TMP/out" 2>"$TMP/err" && [ -s "$TMP/out" ]; then
            echo "PASS gguf-run-$t ($(wc -c <"$TMP/out") bytes of answer)"
        else
            echo "FAIL gguf-run-$t: $(head -c 200 "$TMP/err")"
        fi
        rm -f "$RT/$t.gguf"
    done
else
    for t in $RUN_TYPES; do echo "FAIL gguf-run-$t: gen_checkpoint: $(tail -n 1 "$TMP/gen.err")"; done
fi

# `qwen3 info` on a GGUF names the file and its types
d="$TMP/dense-q8_0"
if "$QWEN3" info "$d/model.gguf" >"$TMP/info" 2>&1 && grep -q "model.gguf" "$TMP/info" && grep -q "attention Q8_0" "$TMP/info"; then
    echo "PASS gguf-info"
else
    echo "FAIL gguf-info: $(head -c 300 "$TMP/info")"
fi
exit 0
