#!/bin/bash
# dca.sh - Dual Chunk Attention against the independent numpy reference (tests/ref/dca_ref.py, written
# from the paper and Qwen's published configuration, not from our C).
#
# A tiny F32 checkpoint with dual_chunk_attention_config {chunk_size 48, local_size 16} (chunks of 32
# positions) reads a 300-token prompt: ten chunks, so every query past position 64 uses all three
# parts (intra, successive, inter) and the successive part's clamp (positions 49+ of each chunk pair).
# - prefill and decode (one token per call) of the exact path: max |dlogit| <= 1e-3 (measured ~8e-6);
# - the same with original_max_position_embeddings 100 (Qwen's length scaling of q and k past it,
#   which depends on each call's length: prefill and decode each against the reference run the same
#   way), a tiny MoE checkpoint, and the fast path's F16 cache (bound 2e-2, measured ~6e-3);
# - `--dca 48:16` on the checkpoint without the key gives the config's logits bit for bit, and DCA
#   differs from plain attention past position 48 (so the comparison cannot pass on plain attention);
# - refusals naming the field: local_size >= chunk_size, chunk_size 1, a bad --dca value, DCA with
#   --rope-scaling; no trained-length warning when DCA is on.
# - under MPI tensor parallelism (2 ranks, each a share of the heads) the logits are one process's
#   within 1e-4 (SKIP without mpirun or qwen3-mpi).
# Batched sequences and cache truncation under DCA: tests/unit/test_dca.c (against one sequence at a
# time, which this suite checks against the reference).
set -u
. "$(dirname "$0")/../lib.sh"
expect 15
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/dca
mkdir -p "$TMP"
if [ ! -x "$QWEN3" ]; then echo "FAIL dca: engine binary $QWEN3 not found (run make)"; exit 0; fi

gen() { # gen NAME flags...
    local name=$1; shift
    [ -f "$TMP/$name/model.safetensors" ] && return 0
    "$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/$name" --no-tokenizer -q "$@" 2>"$TMP/gen.err" ||
        { echo "FAIL dca-gen-$name: $(tail -n 1 "$TMP/gen.err")"; return 1; }
}
# with_dca SRC DST JSON: SRC's weights with config.json's dual_chunk_attention_config set to JSON
with_dca() {
    mkdir -p "$2" && ln -sf "$1/model.safetensors" "$2/model.safetensors" &&
    "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); c["dual_chunk_attention_config"]=json.loads(sys.argv[3]); json.dump(c,open(sys.argv[2],"w"))' \
        "$1/config.json" "$2/config.json" "$3"
}
gen plain --preset tiny --dtype f32 --max-pos 1024 --seed 5 || exit 0
gen moe --preset tiny-moe --dtype f32 --max-pos 1024 --seed 6 || exit 0
with_dca "$TMP/plain" "$TMP/dca" '{"chunk_size": 48, "local_size": 16}'
with_dca "$TMP/plain" "$TMP/scaled" '{"chunk_size": 48, "local_size": 16, "original_max_position_embeddings": 100}'
with_dca "$TMP/moe" "$TMP/dcamoe" '{"chunk_size": 40, "local_size": 24}'
V=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$TMP/plain/config.json")
VM=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$TMP/moe/config.json")
IDS=$("$PY" -c "print(','.join(str((i * 7919 + 11) % 1000) for i in range(300)))")

: >"$TMP/list"
run() { # run NAME MODEL VOCAB REF_FLAGS -- ENGINE_FLAGS: one engine run, its reference, a line for compare.py
    local name=$1 model=$2 vocab=$3 rflags=() eflags=(); shift 3
    while [ $# -gt 0 ] && [ "$1" != -- ]; do rflags+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    eflags=("$@")
    if ! "$PY" "$ROOT/tests/ref/dca_ref.py" "$model" --ids "$IDS" -o "$TMP/$name.ref" "${rflags[@]}" 2>"$TMP/err"; then
        echo "FAIL $name: reference: $(tail -n 1 "$TMP/err")"; return
    fi
    if ! "$QWEN3" logits "$model" --ids "$IDS" -o "$TMP/$name.got" -t 2 "${eflags[@]}" 2>"$TMP/err"; then
        echo "FAIL $name: engine: $(tail -n 1 "$TMP/err")"; return
    fi
    echo "logits $name $TMP/$name.ref $TMP/$name.got $vocab -" >>"$TMP/list"
}
run dca-prefill "$TMP/dca" "$V" --
run dca-decode "$TMP/dca" "$V" -- --decode
run dca-scaled-prefill "$TMP/scaled" "$V" --
run dca-scaled-decode "$TMP/scaled" "$V" --decode -- --decode
run dca-moe "$TMP/dcamoe" "$VM" --
checked dca-f32 "$PY" "$ROOT/tests/ref/compare.py" batch "$TMP/list" --tol 1e-3
echo "logits dca-fast-f16 $TMP/dca-prefill.ref $TMP/fast.got $V -" >"$TMP/list2"
if "$QWEN3" logits "$TMP/dca" --ids "$IDS" -o "$TMP/fast.got" -t 2 --fast 2>"$TMP/err"; then
    checked dca-fast-f16 "$PY" "$ROOT/tests/ref/compare.py" batch "$TMP/list2" --tol 2e-2
else echo "FAIL dca-fast-f16: engine: $(tail -n 1 "$TMP/err")"; fi

# the flag is the config; DCA is not plain attention
if "$QWEN3" logits "$TMP/plain" --dca 48:16 --ids "$IDS" -o "$TMP/flag.got" -t 2 2>"$TMP/err" &&
   "$QWEN3" logits "$TMP/plain" --ids "$IDS" -o "$TMP/plain.got" -t 2 2>>"$TMP/err"; then
    if cmp -s "$TMP/flag.got" "$TMP/dca-prefill.got"; then echo "PASS dca-flag-equals-config"
    else echo "FAIL dca-flag-equals-config: --dca 48:16 logits differ from config.json's"; fi
    checked dca-not-plain "$PY" - "$TMP/plain.got" "$TMP/flag.got" "$V" <<'PYEOF'
import sys, numpy as np
a = np.fromfile(sys.argv[1], "<f4").reshape(-1, int(sys.argv[3])); b = np.fromfile(sys.argv[2], "<f4").reshape(a.shape)
d = np.abs(a - b).max(axis=1)
# positions 0..48 see relative distances below chunk_size only: DCA equals plain attention there
if d[:49].max() < 1e-4 and d[49:].min() > 1e-3: print("PASS dca-not-plain (same to position 48: %.1e, after: >= %.2g)" % (d[:49].max(), d[49:].min()))
else: print("FAIL dca-not-plain: max diff to 48 %.3g, min after %.3g" % (d[:49].max(), d[49:].min()))
PYEOF
else echo "FAIL dca-flag-equals-config: $(tail -n 1 "$TMP/err")"; echo "FAIL dca-not-plain: not run"; fi

MPIBIN=${QWEN3_MPI:-$(dirname "$QWEN3")/qwen3-mpi}
[ -x "$MPIBIN" ] || MPIBIN=$ROOT/build/rel/qwen3-mpi
# (the sanitizer build: Open MPI's own allocations are not ours to report, as in mpi.sh)
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$MPIBIN" ]; then echo "SKIP dca-mpi-tp: mpirun or qwen3-mpi missing"
elif ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout 120 mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none \
        -n 2 "$MPIBIN" logits "$TMP/dca" --mpi tp --ids "$IDS" -o "$TMP/tp.got" -t 1 >"$TMP/err" 2>&1; then
    echo "logits dca-mpi-tp $TMP/dca-prefill.got $TMP/tp.got $V -" >"$TMP/list3"
    checked dca-mpi-tp "$PY" "$ROOT/tests/ref/compare.py" batch "$TMP/list3" --tol 1e-4
else echo "FAIL dca-mpi-tp: $(tail -n 1 "$TMP/err")"; fi

refuse() { # refuse NAME PATTERN qwen3-args...
    local name=$1 pat=$2; shift 2
    if "$QWEN3" "$@" >/dev/null 2>"$TMP/err"; then echo "FAIL $name: accepted"
    elif grep -q -- "$pat" "$TMP/err"; then echo "PASS $name"
    else echo "FAIL $name: unclear message: $(tail -n 1 "$TMP/err")"; fi
}
with_dca "$TMP/plain" "$TMP/bad1" '{"chunk_size": 32, "local_size": 32}'
with_dca "$TMP/plain" "$TMP/bad2" '{"chunk_size": 1, "local_size": 0}'
refuse refuse-dca-local 'field "local_size" (32) must be smaller than chunk_size (32)' info "$TMP/bad1"
refuse refuse-dca-chunk 'dual_chunk_attention_config): field "chunk_size" is 1' info "$TMP/bad2"
refuse refuse-dca-flag "--dca: '16:32' is not CHUNK" info "$TMP/plain" --dca 16:32
refuse refuse-dca-yarn 'Dual Chunk Attention (config.json dual_chunk_attention_config) and YaRN' info "$TMP/dca" --rope-scaling yarn:4
"$QWEN3" info "$TMP/plain" --ctx 4000 --dca 1024:128 >"$TMP/info.out" 2>"$TMP/err"
if ! grep -q warning "$TMP/err" && grep -q "dca:          chunk_size 1024, local_size 128" "$TMP/info.out"; then echo "PASS dca-no-trained-warning"
else echo "FAIL dca-no-trained-warning: $(cat "$TMP/err" "$TMP/info.out" | grep -E 'warning|dca' | head -n 2)"; fi
"$QWEN3" info "$TMP/plain" --ctx 4000 >/dev/null 2>"$TMP/err"
if grep -q "warning: --ctx 4000 is more than the 1024 positions" "$TMP/err"; then echo "PASS dca-off-warns"
else echo "FAIL dca-off-warns: no trained-length warning without DCA: $(tail -n 1 "$TMP/err")"; fi
