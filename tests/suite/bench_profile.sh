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
set -u
. "$(dirname "$0")/../lib.sh"
expect 8
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
PYEOF
    "$QWEN3" bench "$M" -p 12 -n 3 -t 2 --profile "${peaks[@]}" >"$T/$m.txt" 2>&1
    grep -q "LM head" "$T/$m.txt" && grep -q "thread hand-offs" "$T/$m.txt" && echo "PASS profile_text_$m" \
        || echo "FAIL profile_text_$m: the table lacks the LM head or the hand-offs line: $(head -c 300 "$T/$m.txt")"
done
