#!/bin/bash
# repack.sh - Q8_0 and BF16 matrices interleaved by 16 rows at load (model/repack.c, kernels/repack.c)
# change nothing but speed.
#
# On tiny generated checkpoints (dense with tied embeddings, so the lm_head and the embedding
# lookup both read the interleaved matrix; MoE with an untied lm_head and experts), quantized to
# Q8_0 at load and read from a Q8_0 GGUF file (one the model copies out of the mapping, one it
# rearranges in place):
#   1. `qwen3 info` says how many matrices were interleaved, and QWEN3_REPACK=0 interleaves none
#      (so the comparisons below compare two layouts, not one with itself);
#   2. `qwen3 logits` gives the same bytes both ways: 40 tokens as one prefill (the interleaved
#      GEMM) and one at a time through the cache (--decode: the interleaved one-token kernel),
#      on 1 and 2 threads (rows split in groups of 16);
#   3. `qwen3 quantize` of the interleaved model writes the same file bytes as of the row-major one
#      (safetensors and GGUF: the writers gather the rows back);
#   4. BF16 weights on the fast path (--fast, AVX512_BF16: the bf16 dots' interleaved kernels), dense
#      and MoE, prefill and decode, 1 and 2 threads: the same logits' bytes both ways;
#   5. the same for Q4_K_M (Q4_K and Q6_K interleaved by 8 rows) and IQ4_NL (a 32-value block type)
#      quantized at load;
#   6. with the GGUF file's pages evicted from the page cache as its matrices are copied out
#      (QWEN3_FILE_CACHE=drop): `qwen3 info` reports it (and not by default on a small file), the
#      file's pages are no longer resident (fincore), and the logits keep their bytes, prefill and
#      decode.
# The kernels' bits against the scalar twin are test_gemm_q8's; the logits against an independent
# numpy dequantization are quant.sh's (which runs with the default, interleaved layout).
set -u
. "$(dirname "$0")/../lib.sh"
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/repack
mkdir -p "$TMP"
if [ ! -x "$QWEN3" ]; then expect 1; echo "FAIL repack: engine binary $QWEN3 not found (run make)"; exit 0; fi
if ! grep -qw avx512_vnni /proc/cpuinfo; then
    expect 1
    echo "SKIP repack: this CPU lacks AVX-512 VNNI, the only interleaved kernels so far (the model keeps its rows)"
    exit 0
fi
BF16=0
grep -qw avx512_bf16 /proc/cpuinfo && BF16=1
expect 43

IDS=$("$PY" -c "print(','.join(str((i * 7919 + 11) % 2000) for i in range(40)))")

gen() { # gen NAME flags...
    local name=$1; shift
    [ -f "$TMP/$name/model.safetensors" ] && return 0
    "$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/$name" --no-tokenizer -q "$@" 2>"$TMP/gen.err" ||
        { echo "FAIL repack-gen-$name: $(tail -n 1 "$TMP/gen.err")"; return 1; }
}
gen dense --preset tiny --hidden 256 --intermediate 512 || exit 0
gen moe --preset tiny-moe --hidden 256 || exit 0
rm -f "$TMP/dense.gguf"
QWEN3_REPACK=0 "$QWEN3" quantize "$TMP/dense" "$TMP/dense.gguf" --type q8_0 >/dev/null 2>"$TMP/err" ||
    { echo "FAIL repack-gguf: qwen3 quantize to GGUF: $(tail -n 1 "$TMP/err")"; exit 0; }

# info CASE MODEL FLAGS...: the layout line with the default, none with QWEN3_REPACK=0
info() {
    local case=$1 model=$2; shift 2
    local on off
    on=$("$QWEN3" info "$model" "$@" 2>&1 | sed -n 's/^layout: *//p')
    off=$(QWEN3_REPACK=0 "$QWEN3" info "$model" "$@" 2>&1 | sed -n 's/^layout: *//p')
    if [ -n "$on" ] && [ -z "$off" ]; then echo "PASS repack-info-$case ($on)"
    else echo "FAIL repack-info-$case: with the default '$on', with QWEN3_REPACK=0 '$off'"; fi
}

# same CASE MODEL FLAGS...: logits of both layouts, identical bytes
same() {
    local case=$1 model=$2; shift 2
    QWEN3_REPACK=0 "$QWEN3" logits "$model" --ids "$IDS" -o "$TMP/a.bin" "$@" 2>"$TMP/err" &&
        "$QWEN3" logits "$model" --ids "$IDS" -o "$TMP/b.bin" "$@" 2>>"$TMP/err" ||
        { echo "FAIL repack-$case: $(tail -n 1 "$TMP/err")"; return; }
    if [ -s "$TMP/a.bin" ] && cmp -s "$TMP/a.bin" "$TMP/b.bin"; then echo "PASS repack-$case ($(stat -c %s "$TMP/a.bin") bytes of logits identical)"
    else echo "FAIL repack-$case: the interleaved layout's logits differ from the row-major one's"; fi
}

info dense-quant "$TMP/dense" --quant q8_0
info moe-quant "$TMP/moe" --quant q8_0
info dense-gguf "$TMP/dense.gguf"
for t in 1 2; do
    same "dense-quant-prefill-t$t" "$TMP/dense" --quant q8_0 -t $t
    same "dense-quant-decode-t$t" "$TMP/dense" --quant q8_0 -t $t --decode
    same "moe-quant-prefill-t$t" "$TMP/moe" --quant q8_0 -t $t
    same "moe-quant-decode-t$t" "$TMP/moe" --quant q8_0 -t $t --decode
    same "dense-gguf-prefill-t$t" "$TMP/dense.gguf" -t $t
    same "dense-gguf-decode-t$t" "$TMP/dense.gguf" -t $t --decode
done

# The file's pages evicted from the page cache as the matrices are copied out (QWEN3_FILE_CACHE=drop,
# the default for files over half the machine's memory): `qwen3 info` says so only then, and the
# logits keep their bytes (the matrices were read before their pages went)
fc_on=$(QWEN3_FILE_CACHE=drop "$QWEN3" info "$TMP/dense.gguf" 2>&1 | grep -c '^file cache:')
fc_off=$("$QWEN3" info "$TMP/dense.gguf" 2>&1 | grep -c '^file cache:')
if [ "$fc_on" = 1 ] && [ "$fc_off" = 0 ]; then echo "PASS repack-file-cache-info (the eviction is reported with drop, not by default on a small file)"
else echo "FAIL repack-file-cache-info: 'file cache:' lines: $fc_on with QWEN3_FILE_CACHE=drop, $fc_off by default"; fi
# and the pages are gone from the cache (fincore, util-linux: resident bytes of the file), where
# they had all been resident before
res() { fincore -b -n -o RES "$1" 2>/dev/null | tr -d ' '; }
cat "$TMP/dense.gguf" >/dev/null
r0=$(res "$TMP/dense.gguf")
QWEN3_FILE_CACHE=drop "$QWEN3" info "$TMP/dense.gguf" >/dev/null 2>&1
r1=$(res "$TMP/dense.gguf")
size=$(stat -c %s "$TMP/dense.gguf")
if [ -z "$r0" ] || [ -z "$r1" ]; then echo "SKIP repack-file-cache-evicted: fincore cannot read the page cache here"
elif [ "$r0" -ge "$size" ] && [ $((r1 * 2)) -lt "$size" ]; then echo "PASS repack-file-cache-evicted ($r0 -> $r1 of $size bytes resident)"
else echo "FAIL repack-file-cache-evicted: $r0 -> $r1 of the file's $size bytes resident after a load with QWEN3_FILE_CACHE=drop"; fi
# same_fc CASE FLAGS...: logits with the pages kept and evicted, identical bytes
same_fc() {
    local case=$1; shift
    QWEN3_FILE_CACHE=keep "$QWEN3" logits "$TMP/dense.gguf" --ids "$IDS" -o "$TMP/a.bin" "$@" 2>"$TMP/err" &&
        QWEN3_FILE_CACHE=drop "$QWEN3" logits "$TMP/dense.gguf" --ids "$IDS" -o "$TMP/b.bin" "$@" 2>>"$TMP/err" ||
        { echo "FAIL repack-$case: $(tail -n 1 "$TMP/err")"; return; }
    if [ -s "$TMP/a.bin" ] && cmp -s "$TMP/a.bin" "$TMP/b.bin"; then echo "PASS repack-$case (logits identical with the file's pages evicted)"
    else echo "FAIL repack-$case: the logits differ when the file's pages leave the page cache"; fi
}
same_fc file-cache-prefill -t 2
same_fc file-cache-decode -t 1 --decode

# Q4_K_M: the K-quants' 8-row kernels on interleaved superblocks
info dense-q4km "$TMP/dense" --quant q4_k_m
for t in 1 2; do
    same "dense-q4km-prefill-t$t" "$TMP/dense" --quant q4_k_m -t $t
    same "dense-q4km-decode-t$t" "$TMP/dense" --quant q4_k_m -t $t --decode
    same "moe-q4km-prefill-t$t" "$TMP/moe" --quant q4_k_m -t $t
    same "moe-q4km-decode-t$t" "$TMP/moe" --quant q4_k_m -t $t --decode
    same "dense-iq4nl-prefill-t$t" "$TMP/dense" --quant iq4_nl -t $t
    same "dense-iq4nl-decode-t$t" "$TMP/dense" --quant iq4_nl -t $t --decode
done

# BF16 on the fast path (bf16 dots), where the CPU has AVX512_BF16
if [ $BF16 = 1 ]; then
    info dense-bf16 "$TMP/dense" --fast
    for t in 1 2; do
        same "dense-bf16-prefill-t$t" "$TMP/dense" --fast -t $t
        same "dense-bf16-decode-t$t" "$TMP/dense" --fast -t $t --decode
        same "moe-bf16-prefill-t$t" "$TMP/moe" --fast -t $t
        same "moe-bf16-decode-t$t" "$TMP/moe" --fast -t $t --decode
    done
else
    echo "SKIP repack-info-dense-bf16: this CPU lacks AVX512_BF16 (BF16 keeps its rows)"
    for t in 1 2; do for c in dense-bf16-prefill dense-bf16-decode moe-bf16-prefill moe-bf16-decode; do
        echo "SKIP repack-$c-t$t: this CPU lacks AVX512_BF16"
    done; done
fi

# writers: the same file bytes from either layout
for out in st gguf; do
    rm -rf "$TMP/w0" "$TMP/w1"
    mkdir -p "$TMP/w0" "$TMP/w1"
    if [ $out = st ]; then d0=$TMP/w0/q; d1=$TMP/w1/q; f=model.safetensors; else d0=$TMP/w0/m.gguf; d1=$TMP/w1/m.gguf; f=""; fi
    QWEN3_REPACK=0 "$QWEN3" quantize "$TMP/moe" "$d0" --type q8_0 >/dev/null 2>"$TMP/err" &&
        "$QWEN3" quantize "$TMP/moe" "$d1" --type q8_0 >/dev/null 2>>"$TMP/err" ||
        { echo "FAIL repack-write-$out: $(tail -n 1 "$TMP/err")"; continue; }
    if cmp -s "$d0${f:+/$f}" "$d1${f:+/$f}"; then echo "PASS repack-write-$out (the interleaved model writes the row-major file)"
    else echo "FAIL repack-write-$out: the files differ"; fi
done
