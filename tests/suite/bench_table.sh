#!/bin/bash
# bench_table.sh - `qwen3 bench -r N` and lists in -p / -n (the llama-bench report, cli/bench_table.c)
# on a tiny dense checkpoint, 1 thread, peaks given (nothing measured but the model):
#   bench_md          -p 8,16 -n 4 -r 3 -d 0,12: a markdown header and one row per test and depth
#                     (pp8, pp16, tg4, then the same "@ d12"), each "mean ± sd"
#   bench_json        --json: one object per test, "runs" 3 and 3 samples each, tok_s the samples'
#                     mean and tok_s_sd their sample standard deviation (recomputed here)
#   bench_single      no -r / list: the one-run report with its GFLOP/s and bandwidth lines, as before
#   bench_short       -p 0 -n 1 and -p 0 -n 0 (the context sized for the warm-up too: it had been
#                     p + n + 16 tokens, under the warm-up's 16 + 2, so both exited 1): exit 0, a
#                     decode line for -n 1, the model line for -n 0
#   bench_bad_list    -p 8,x is refused (exit 2) with a message naming -p
#   bench_bad_reps    -r 0 is refused (exit 2) naming -r
#   bench_profile_r   --profile with -r 2 is refused (exit 2): the profile reports one run
set -u
. "$(dirname "$0")/../lib.sh"
expect 7
T="$QWEN3_TMP/bench_table"
mkdir -p "$T"
M="$T/dense"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --no-tokenizer -q --layers 2 --seed 3 2>"$T/gen.err" \
        || { for c in md json single bad_list bad_reps profile_r; do echo "FAIL bench_$c: gen_checkpoint.py failed"; done; exit 0; }
fi
peaks=(--bw 10 --peak-f32 100 --peak-bf16 100 --peak-int8 100)
"$QWEN3" bench "$M" -p 8,16 -n 4 -r 3 -d 0,12 -t 1 "${peaks[@]}" >"$T/md.txt" 2>"$T/md.err"
checked bench_md "$PY" - "$T/md.txt" <<'PYEOF'
import re, sys
lines = [l.rstrip("\n") for l in open(sys.argv[1]) if l.startswith("|")]
want = ["pp8", "pp16", "tg4", "pp8 @ d12", "pp16 @ d12", "tg4 @ d12"]
bad = []
if len(lines) < 2 or not lines[0].startswith("| model | weights | threads | test | t/s |"): bad.append("header: %r" % lines[:1])
rows = lines[2:]
tests = [r.split("|")[4].strip() for r in rows]
if tests != want: bad.append("tests %r, want %r" % (tests, want))
for r in rows:
    if not re.search(r"\| [0-9.]+ ± [0-9.]+ \|$", r): bad.append("no 'mean ± sd' in %r" % r)
print("FAIL bench_md: " + "; ".join(bad) if bad else "PASS bench_md (%d rows)" % len(rows))
PYEOF
"$QWEN3" bench "$M" -p 8 -n 4 -r 3 -t 1 --json "${peaks[@]}" >"$T/j.txt" 2>"$T/j.err"
checked bench_json "$PY" - "$T/j.txt" <<'PYEOF'
import json, math, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = []
if [o["test"] for o in objs] != ["pp8", "tg4"]: bad.append("tests %r" % [o.get("test") for o in objs])
for o in objs:
    x = o["samples"]
    if o["runs"] != 3 or len(x) != 3: bad.append("%s: runs %r, %d samples" % (o["test"], o["runs"], len(x))); continue
    m = sum(x) / 3
    sd = math.sqrt(sum((v - m) ** 2 for v in x) / 2)
    if abs(m - o["tok_s"]) > 1e-3 * m + 0.01 or abs(sd - o["tok_s_sd"]) > 1e-3 * m + 0.01:
        bad.append("%s: mean/sd %g/%g, recomputed %g/%g" % (o["test"], o["tok_s"], o["tok_s_sd"], m, sd))
print("FAIL bench_json: " + "; ".join(bad) if bad else "PASS bench_json")
PYEOF
"$QWEN3" bench "$M" -p 8 -n 4 -t 1 "${peaks[@]}" >"$T/one.txt" 2>&1
if grep -q "^prefill .*GFLOP/s" "$T/one.txt" && grep -q "^decode .*GB/s" "$T/one.txt" && ! grep -q "^|" "$T/one.txt"; then
    echo "PASS bench_single"
else echo "FAIL bench_single: $(head -c 300 "$T/one.txt")"; fi
"$QWEN3" bench "$M" -p 0 -n 1 -t 1 "${peaks[@]}" >"$T/short1.txt" 2>&1; rc1=$?
"$QWEN3" bench "$M" -p 0 -n 0 -t 1 "${peaks[@]}" >"$T/short0.txt" 2>&1; rc0=$?
if [ $rc1 -eq 0 ] && grep -q "^decode  *1 tokens" "$T/short1.txt" && [ $rc0 -eq 0 ] && grep -q "^model " "$T/short0.txt"; then
    echo "PASS bench_short"
else echo "FAIL bench_short: -n 1 exit $rc1, -n 0 exit $rc0: $(head -c 300 "$T/short1.txt") $(head -c 200 "$T/short0.txt")"; fi
refused() { # NAME WORD ARGS...: exit 2 and a message naming WORD
    local name=$1 word=$2; shift 2
    "$QWEN3" bench "$M" -t 1 "${peaks[@]}" "$@" >"$T/$name.out" 2>&1; local rc=$?
    if [ $rc -eq 2 ] && grep -q -- "$word" "$T/$name.out"; then echo "PASS $name"
    else echo "FAIL $name: exit $rc, $(head -c 200 "$T/$name.out")"; fi
}
refused bench_bad_list "-p" -p 8,x
refused bench_bad_reps "-r" -r 0
refused bench_profile_r "profile" -r 2 --profile
