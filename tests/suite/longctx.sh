#!/bin/bash
# longctx.sh - long-context switches end to end: YaRN by flag, the trained-length warning, the cache
# size per type, and the refusals.
#
# - RoPE tables: `qwen3 info --rope` (the engine's float32 inverse frequencies and attention factor)
#   against tests/ref/yarn_ref.py (transformers' _compute_yarn_parameters re-written in PyTorch
#   float32): no scaling, --rope-scaling yarn:4 on a Qwen3-like config (max_position_embeddings
#   40960, so the original context is 32768, head_dim 128, theta 1e6), yarn:8:16384, and a
#   config.json rope_scaling with its own beta_fast / beta_slow / attention_factor. Bound 1e-6
#   relative (measured: identical or one float32 rounding).
# - The flag is the config: a checkpoint without rope_scaling run with --rope-scaling yarn:4:1024
#   gives the same logits, bit for bit, as the same weights whose config.json says so (which
#   tests/suite/ref_forward.sh checks against the float64 reference over 2,100 tokens); without the
#   flag they differ; --rope-scaling none on the YaRN checkpoint gives the plain one's bits.
# - --ctx past the trained length with no scaling warns (not with yarn:4); a context past the
#   addressable positions is refused naming both and the flag; a bad --rope-scaling value is
#   refused; a prompt longer than --ctx is refused naming both lengths.
# - `qwen3 info --ctx 131072 --rope-scaling yarn:4` prints the cache size of each type, computed
#   here from the config (layers x kv_heads x 2 x bytes per head_dim row).
# - `qwen3 serve` logs a prompt past the trained length (no scaling) and names it in the response's
#   X-Qwen3-Warning header; a short prompt gets neither.
# - `qwen3 bench -d` runs with both ways of caching the depth and reports what it held.
# - a config.json with Qwen3-2507's dual_chunk_attention_config is accepted (dca.sh checks the logits).
set -u
. "$(dirname "$0")/../lib.sh"
expect 17
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/longctx
mkdir -p "$TMP"
if [ ! -x "$QWEN3" ]; then echo "FAIL longctx: engine binary $QWEN3 not found (run make)"; exit 0; fi

gen() { # gen NAME flags...
    local name=$1; shift
    [ -f "$TMP/$name/model.safetensors" ] && return 0
    "$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/$name" --no-tokenizer -q "$@" 2>"$TMP/gen.err" ||
        { echo "FAIL longctx-gen-$name: $(tail -n 1 "$TMP/gen.err")"; return 1; }
}
gen p40 --preset tiny --dtype f32 --head-dim 128 --max-pos 40960 --seed 11 || exit 0
gen plain --preset tiny --dtype f32 --head-dim 128 --max-pos 1024 --seed 11 || exit 0
gen yarnc --preset tiny --dtype f32 --head-dim 128 --yarn 4 --yarn-orig 1024 --seed 11 || exit 0
# a config.json rope_scaling with every YaRN field given
gen yarnb --preset tiny --dtype f32 --head-dim 64 --rope-theta 10000 --yarn 2 --yarn-orig 2048 --seed 11 || exit 0
"$PY" - "$TMP/yarnb/config.json" <<'PYEOF'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["rope_scaling"].update({"beta_fast": 16.0, "beta_slow": 2.0, "attention_factor": 1.25})
json.dump(c, open(p, "w"), indent=2)
PYEOF

rope_case() { # rope_case CASE MODEL [engine flags] -- [reference flags]
    local case=$1 model=$2; shift 2
    local eflags=() rflags=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do eflags+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    rflags=("$@")
    if ! "$QWEN3" info "$model" --rope "${eflags[@]}" >"$TMP/info.out" 2>"$TMP/err"; then
        echo "FAIL $case: qwen3 info: $(tail -n 1 "$TMP/err")"; return
    fi
    checked "$case" "$PY" "$ROOT/tests/ref/yarn_ref.py" "$case" "$model/config.json" "$TMP/info.out" "${rflags[@]}"
}
rope_case rope-default "$TMP/p40"
rope_case rope-yarn4-qwen3 "$TMP/p40" --rope-scaling yarn:4 -- --yarn 4
rope_case rope-yarn8-16384 "$TMP/p40" --rope-scaling yarn:8:16384 -- --yarn 8 --orig 16384
rope_case rope-config-betas "$TMP/yarnb"

IDS=$("$PY" -c "print(','.join(str((i * 7919 + 11) % 2000) for i in range(300)))")
logits() { "$QWEN3" logits "$@" --ids "$IDS" -t 2 2>"$TMP/err" || { echo "FAIL longctx-logits: $(tail -n 1 "$TMP/err")"; return 1; }; }
if logits "$TMP/yarnc" -o "$TMP/yarnc.f32" && logits "$TMP/plain" --rope-scaling yarn:4:1024 -o "$TMP/flag.f32" &&
   logits "$TMP/plain" -o "$TMP/plain.f32" && logits "$TMP/yarnc" --rope-scaling none -o "$TMP/none.f32"; then
    if cmp -s "$TMP/yarnc.f32" "$TMP/flag.f32"; then echo "PASS yarn-flag-equals-config"
    else echo "FAIL yarn-flag-equals-config: --rope-scaling yarn:4:1024 logits differ from config.json's rope_scaling"; fi
    if ! cmp -s "$TMP/plain.f32" "$TMP/flag.f32"; then echo "PASS yarn-flag-changes-logits"
    else echo "FAIL yarn-flag-changes-logits: the flag changed nothing (not applied?)"; fi
    if cmp -s "$TMP/plain.f32" "$TMP/none.f32"; then echo "PASS yarn-none-equals-plain"
    else echo "FAIL yarn-none-equals-plain: --rope-scaling none on the YaRN checkpoint differs from the plain one"; fi
fi

"$QWEN3" info "$TMP/p40" --ctx 40000 >/dev/null 2>"$TMP/err"
if grep -q "warning: --ctx 40000 is more than the 32768 positions" "$TMP/err"; then echo "PASS warn-past-trained"
else echo "FAIL warn-past-trained: no warning for --ctx 40000 > 32768 trained positions: $(tail -n 1 "$TMP/err")"; fi
"$QWEN3" info "$TMP/p40" --ctx 40000 --rope-scaling yarn:4 >/dev/null 2>"$TMP/err"
if ! grep -q "warning" "$TMP/err"; then echo "PASS no-warn-with-yarn"
else echo "FAIL no-warn-with-yarn: $(tail -n 1 "$TMP/err")"; fi
if "$QWEN3" logits "$TMP/p40" --ctx 50000 --ids 1,2 -o "$TMP/x.f32" 2>"$TMP/err"; then echo "FAIL refuse-ctx: --ctx 50000 accepted"
elif grep -q "context 50000 exceeds the model's 40960 positions.*--rope-scaling yarn:4" "$TMP/err"; then echo "PASS refuse-ctx"
else echo "FAIL refuse-ctx: unclear message: $(tail -n 1 "$TMP/err")"; fi
"$QWEN3" info "$TMP/p40" --rope-scaling yarn:0.5 >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc = 2 ] && grep -q "not yarn:FACTOR" "$TMP/err"; then echo "PASS refuse-bad-scaling"
else echo "FAIL refuse-bad-scaling: exit $rc: $(tail -n 1 "$TMP/err")"; fi
if "$QWEN3" logits "$TMP/p40" --ctx 16 --ids "$(seq -s, 1 20)" -o "$TMP/x.f32" 2>"$TMP/err"; then echo "FAIL refuse-long-prompt: accepted"
elif grep -q "20 new tokens exceed the context of 16" "$TMP/err"; then echo "PASS refuse-long-prompt"
else echo "FAIL refuse-long-prompt: unclear message: $(tail -n 1 "$TMP/err")"; fi

"$QWEN3" info "$TMP/p40" --ctx 131072 --rope-scaling yarn:4 >"$TMP/info.out" 2>"$TMP/err"
checked info-ctx-sizes "$PY" - "$TMP/p40/config.json" "$TMP/info.out" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1])); out = open(sys.argv[2]).read()
rows = 2 * c["num_hidden_layers"] * c["num_key_value_heads"]; D = c["head_dim"]; n = 131072
size = {"F32": 4 * D, "F16": 2 * D, "Q8_0": D // 32 * 34, "Q4_0": D // 32 * 18}
def fmt(b):
    return "%.2f GiB" % (b / 2**30) if b >= 2**30 else "%.1f MiB" % (b / 2**20)
want = "kv cache:     131072 tokens: " + ", ".join("%s %s" % (k, fmt(n * rows * v)) for k, v in size.items())
line = [l for l in out.splitlines() if l.startswith("kv cache:")]
if line and line[0].startswith(want) and "131072 addressable (YaRN)" in out:
    print("PASS info-ctx-sizes (%s)" % line[0][14:].split(" (")[0])
else:
    print("FAIL info-ctx-sizes: want %r, got %r" % (want, line[0] if line else out[-300:]))
PYEOF

# bench --depth: both ways of caching the depth run, and the JSON says what was measured
if "$QWEN3" bench "$TMP/p40" -p 32 -n 4 -d 0,300 --depth-fill random --json -t 2 >"$TMP/bench.json" 2>"$TMP/err" &&
   "$QWEN3" bench "$TMP/p40" -p 32 -n 4 -d 300 --json -t 2 >>"$TMP/bench.json" 2>>"$TMP/err"; then
    checked bench-depth "$PY" - "$TMP/bench.json" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
got = [(r["depth"], r["depth_fill"]) for r in rows]
ok = got == [(0, "random"), (300, "random"), (300, "prefill")] and all(r["decode"]["tok_s"] > 0 and r["prefill"]["tok_s"] > 0 for r in rows)
# after the depth, the prefill of 32 and 4 decode steps: 332 positions x 2 KiB written, then cut back
ok = ok and all(0.6 < r["kv_resident_mib"] < 0.7 + 0.5 for r in rows[1:])
print(("PASS bench-depth (%s)" if ok else "FAIL bench-depth: %s") % [(d, f, r["kv_resident_mib"]) for (d, f), r in zip(got, rows)])
PYEOF
else echo "FAIL bench-depth: $(tail -n 1 "$TMP/err")"; fi

# Dual Chunk Attention as Qwen3-2507's config_1m.json gives it is accepted (tests/suite/dca.sh checks
# its logits): info names it and addresses at least 1,048,576 positions
mkdir -p "$TMP/dca" && ln -sf "$TMP/p40/model.safetensors" "$TMP/dca/model.safetensors" &&
"$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); c["dual_chunk_attention_config"]={"chunk_size":262144,"local_size":8192,"original_max_position_embeddings":262144}; json.dump(c,open(sys.argv[2],"w"))' "$TMP/p40/config.json" "$TMP/dca/config.json"
if ! "$QWEN3" info "$TMP/dca" --ctx 1024 >"$TMP/info.out" 2>"$TMP/err"; then echo "FAIL accept-dca: $(tail -n 1 "$TMP/err")"
elif grep -q 'dca:          chunk_size 262144, local_size 8192' "$TMP/info.out" && grep -q '1048576 addressable (Dual Chunk Attention)' "$TMP/info.out"; then echo "PASS accept-dca"
else echo "FAIL accept-dca: $(grep -E 'dca|positions' "$TMP/info.out")"; fi

# the server's trained-length warning: a prompt past the trained positions with no scaling (Qwen3's
# max_position_embeddings 40960 means 32768 trained) is logged and named in the response's
# X-Qwen3-Warning header; a short prompt gets neither. The long request streams, so its headers
# come at once, and the server is stopped during that prompt's prefill.
if [ ! -f "$TMP/srv/model.safetensors" ]; then # with the tokenizer files: the server needs them
    "$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/srv" -q --preset tiny --vocab 151936 --max-pos 40960 --seed 12 2>"$TMP/gen.err" ||
        { echo "FAIL serve-warn-past-trained: $(tail -n 1 "$TMP/gen.err")"; echo "FAIL serve-no-warn-short: no model"; exit 0; }
fi
srv_prompt() { # srv_prompt N STREAM: a completions body of N token ids
    "$PY" -c "import json,sys; print(json.dumps({'prompt': [(i * 37 + 5) % 5000 for i in range(int(sys.argv[1]))], 'max_tokens': 1, 'temperature': 0, 'stream': sys.argv[2] == '1'}))" "$1" "$2" >"$TMP/body.json"
}
if start_server "$TMP/serve.err" "$TMP/srv" -t 1 --ctx 40960 --exact --drain 0; then
    srv_prompt 20 0
    curl -s -D "$TMP/h.short" -o "$TMP/b.short" -H 'Content-Type: application/json' --data-binary @"$TMP/body.json" "http://127.0.0.1:$port/v1/completions"
    srv_prompt 32800 1
    curl -s -N --max-time 3 -D "$TMP/h.long" -o "$TMP/b.long" -H 'Content-Type: application/json' --data-binary @"$TMP/body.json" "http://127.0.0.1:$port/v1/completions"
    kill "$srv" 2>/dev/null; sleep 0.2; kill "$srv" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    if grep -qi '^X-Qwen3-Warning: prompt of 32800 tokens is longer than the 32768 positions' "$TMP/h.long" &&
       grep -q 'qwen3 serve: warning: prompt of 32800 tokens is longer than the 32768 positions' "$TMP/serve.err"; then echo "PASS serve-warn-past-trained"
    else echo "FAIL serve-warn-past-trained: header: $(grep -i warning "$TMP/h.long"), log: $(grep warning "$TMP/serve.err")"; fi
    if ! grep -qi 'X-Qwen3-Warning' "$TMP/h.short" && grep -q '"choices"' "$TMP/b.short" && [ "$(grep -c 'warning: prompt' "$TMP/serve.err")" = 1 ]; then echo "PASS serve-no-warn-short"
    else echo "FAIL serve-no-warn-short: $(grep -i warning "$TMP/h.short") $(head -c 200 "$TMP/b.short")"; fi
else
    echo "FAIL serve-warn-past-trained: server did not start: $(tail -n 2 "$TMP/serve.err")"; echo "FAIL serve-no-warn-short: no server"
fi
