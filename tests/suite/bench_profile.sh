#!/bin/bash
# bench_profile.sh - `qwen3 bench --profile` (the per-step breakdown of a prefill and of a decode
# step, model/profile.h) on tiny dense and MoE checkpoints, 2 threads, with the machine's peaks
# given (so nothing is measured but the model):
#   profile_json_<m>       --json carries profile.prefill and profile.decode
#   profile_sums_<m>       the steps + sampling + other add up to the pass's time (within 2%), and no
#                          step is negative ("other" is the pass minus the timed steps)
#   profile_calls_<m>      per decode pass: one call of each product per layer (dense: q/k/v together,
#                          o, gate/up together, down; MoE: router and experts instead of gate/up and
#                          down), one LM head, one sampling; hand-offs counted, and at most 6 per
#                          layer + 2 (dense: q/k/v, attention, o, gate/up, down, and the LM head)
#   profile_text_<m>       the table names the LM head and the thread hand-offs
#   profile_experts_moe    distinct experts run per MoE layer: a decode step runs exactly
#                          num_experts_per_tok (2), a 12-token prefill more (the tokens spread)
#   profile_zero_experts   gen_checkpoint --zero-experts --gguf-only (bench/run.sh's 30B-A3B source):
#                          the GGUF equals the --gguf one's but for the expert tensors, which are all
#                          zero and holes of the file, and o_proj (scaled by 0.1), and routing still
#                          spreads a 12-token prefill over more than 2 experts per layer
set -u
. "$(dirname "$0")/../lib.sh"
expect 10
T="$QWEN3_TMP/bench_profile"
mkdir -p "$T"
for m in dense moe; do
    M="$T/$m"
    preset=tiny; [ $m = moe ] && preset=tiny-moe
    if [ ! -f "$M/model.safetensors" ]; then
        "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset $preset --no-tokenizer -q --layers 3 --seed 7 2>"$T/gen.err" \
            || { for c in json sums calls text; do echo "FAIL profile_${c}_$m: gen_checkpoint.py failed: $(tail -n 1 "$T/gen.err")"; done; continue; }
    fi
    peaks=(--bw 10 --peak-f32 100 --peak-bf16 100 --peak-int8 100)
    "$QWEN3" bench "$M" -p 12 -n 5 -t 2 --profile --json "${peaks[@]}" >"$T/$m.json" 2>"$T/$m.err"
    checked "profile_json_$m" "$PY" - "$T/$m.json" "$m" <<'PYEOF'
import json, sys
path, m = sys.argv[1], sys.argv[2]
try:
    j = json.load(open(path))
    pf = j["profile"]
    pre, dec = pf["prefill"], pf["decode"]
except Exception as e:
    print("FAIL profile_json_%s: no profile.prefill / profile.decode in the JSON (%s)" % (m, e)); sys.exit(0)
print("PASS profile_json_%s" % m)
bad = []
for name, p in (("prefill", pre), ("decode", dec)):
    tot = sum(v[0] for v in p["steps"].values())
    if abs(tot - p["us_per_pass"]) > 0.02 * p["us_per_pass"]:
        bad.append("%s: steps add up to %.1f us, pass %.1f us" % (name, tot, p["us_per_pass"]))
    neg = [k for k, v in p["steps"].items() if v[0] < 0]
    if neg: bad.append("%s: negative steps %s" % (name, neg))
print(("FAIL profile_sums_%s: %s" % (m, "; ".join(bad))) if bad else "PASS profile_sums_%s" % m)
s, L = dec["steps"], 3
want = {"q, k, v projections": L, "o projection": L, "LM head": 1, "sampling": 1}
if m == "dense": want.update({"gate, up projections": L, "down projection": L})
else: want.update({"MoE router": L, "MoE experts (gate, up, SiLU, down)": L})
bad = ["%s: %s calls, want %s" % (k, s.get(k, [0, 0])[1], v) for k, v in want.items() if abs(s.get(k, [0, 0])[1] - v) > 1e-9]
if dec["handoffs_per_pass"] <= 0: bad.append("no hand-offs counted on 2 threads")
if m == "dense" and dec["handoffs_per_pass"] > 6 * L + 2: bad.append("%.0f hand-offs per decode step" % dec["handoffs_per_pass"])
print(("FAIL profile_calls_%s: %s" % (m, "; ".join(bad))) if bad else "PASS profile_calls_%s" % m)
if m == "moe":
    d, p = dec.get("experts_per_moe_layer"), pre.get("experts_per_moe_layer")
    ok = d == 2.0 and p is not None and 2.0 < p <= 8.0
    print(("PASS" if ok else "FAIL") + " profile_experts_moe: distinct experts per MoE layer: decode %s (want 2), prefill %s (want > 2)" % (d, p))
PYEOF
    "$QWEN3" bench "$M" -p 12 -n 3 -t 2 --profile "${peaks[@]}" >"$T/$m.txt" 2>&1
    grep -q "LM head" "$T/$m.txt" && grep -q "thread hand-offs" "$T/$m.txt" && echo "PASS profile_text_$m" \
        || echo "FAIL profile_text_$m: the table lacks the LM head or the hand-offs line: $(head -c 300 "$T/$m.txt")"
done

# the 30B-A3B source of bench/run.sh's BENCH_BIG rows, in small: experts as holes, the rest random
Z="$T/zero"
if "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$Z" --preset tiny-moe --no-tokenizer -q --layers 3 --seed 7 --dtype q8_0 \
        --gguf --gguf-only --zero-experts 2>"$T/gen.err" &&
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$T/full" --preset tiny-moe --no-tokenizer -q --layers 3 --seed 7 --dtype q8_0 \
        --gguf 2>"$T/gen.err"; then
    "$QWEN3" bench "$Z/model.gguf" -p 12 -n 3 -t 2 --profile --json "${peaks[@]}" >"$T/zero.json" 2>"$T/zero.err"
    checked profile_zero_experts "$PY" - "$Z" "$T/full" "$T/zero.json" "$QWEN3_ROOT/tools" <<'PYEOF'
import json, os, sys
z, full, js, tools = sys.argv[1:5]
sys.path.insert(0, tools)
import gguf_write
bad = []
if os.path.exists(os.path.join(z, "model.safetensors")):
    bad.append("--gguf-only wrote model.safetensors")
a, b = gguf_write.Parsed(os.path.join(z, "model.gguf")), gguf_write.Parsed(os.path.join(full, "model.gguf"))
if a.kvs != b.kvs or [t[:3] for t in a.tensors] != [t[:3] for t in b.tensors]:
    bad.append("metadata or tensor list differs from the --gguf file's")
ends = [t[3] for t in a.tensors[1:]] + [len(a.data)]
nexp = 0
for t, t2, end in zip(a.tensors, b.tensors, ends):
    x, y = a.data[t[3]:end], b.data[t2[3]:end]
    if "_exps." in t[0]:
        nexp += 1
        if any(x):
            bad.append("%s is not all zero" % t[0])
    elif "attn_output" in t[0]:
        if x == y:
            bad.append("%s is not scaled" % t[0])
    elif x != y:
        bad.append("%s differs from the --gguf file's" % t[0])
if nexp != 9:
    bad.append("%d expert tensors, want 9 (3 layers x gate/up/down)" % nexp)
st = os.stat(os.path.join(z, "model.gguf"))
if st.st_blocks * 512 >= st.st_size:
    bad.append("no hole: %d bytes on disk for %d" % (st.st_blocks * 512, st.st_size))
try:
    p = json.load(open(js))["profile"]["prefill"]["experts_per_moe_layer"]
    if not p > 2.0:
        bad.append("a 12-token prefill ran %.2f experts per layer (want > 2: the tokens spread)" % p)
except Exception as e:
    bad.append("qwen3 bench on the file: %s" % e)
print(("FAIL profile_zero_experts: %s" % "; ".join(bad)) if bad else "PASS profile_zero_experts")
PYEOF
else
    echo "FAIL profile_zero_experts: gen_checkpoint.py failed: $(tail -n 1 "$T/gen.err")"
fi
