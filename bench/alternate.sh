#!/bin/bash
# bench/alternate.sh - two engines or models measured in alternating rounds, for a shared machine
# whose load changes from minute to minute (issue 9's Q4_K_M-against-Q4 figures, docs/speed-log.md).
#
#   bench/alternate.sh R T P N QWEN3_A MODEL_A QWEN3_B MODEL_B [flags for B...]
#
# Each of R rounds runs `QWEN3_A bench MODEL_A -p P -n N -t T --json` then the same for B (the extra
# flags go to B only, e.g. --quant q4), with the machine's peaks given rather than measured (so
# each run is only the model). Per round: prefill and decode tok/s, the share of the T CPUs the run
# got (cpu_frac) and tokens per CPU-second (tok/s / cpu_frac), the load average; then per figure
# each side's mean ± sample stddev (median, min-max) and the per-round ratio A / B, the same way. On a saturated machine the raw
# tok/s swing with what the other jobs leave; tokens per CPU-second swing less (with T = 1 they hold
# no spinning at the hand-offs between threads).
set -u
[ $# -ge 8 ] || { sed -n 4,6p "$0"; exit 2; }
R=$1 T=$2 P=$3 N=$4 QA=$5 A=$6 QB=$7 B=$8
shift 8
PEAKS=(--bw 50 --peak-f32 400 --peak-bf16 800 --peak-int8 1600)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
echo "A: $QA $A; B: $QB $B $*; -p $P -n $N -t $T, $R rounds; $(uptime)"
for i in $(seq "$R"); do
    for w in A B; do
        if [ $w = A ]; then j=$("$QA" bench "$A" -p "$P" -n "$N" -t "$T" --json "${PEAKS[@]}" 2>/dev/null | tail -n 1)
        else j=$("$QB" bench "$B" -p "$P" -n "$N" -t "$T" --json "${PEAKS[@]}" "$@" 2>/dev/null | tail -n 1); fi
        echo "$w $i $(cut -d' ' -f1 /proc/loadavg) $j" >>"$OUT"
        tail -n 1 "$OUT" | /usr/bin/python3 -c '
import json, sys
w, i, load, j = sys.stdin.read().split(" ", 3)
d = json.loads(j); p, g = d["prefill"], d["decode"]
per = lambda x: x["tok_s"] / x["cpu_frac"] if x["cpu_frac"] > 0 else 0.0
print("%s round %s: prefill %.2f tok/s (cpu %.2f, %.1f per CPU-s), decode %.2f tok/s (cpu %.2f, %.1f per CPU-s), load %s"
      % (w, i, p["tok_s"], p["cpu_frac"], per(p), g["tok_s"], g["cpu_frac"], per(g), load))'
    done
done
/usr/bin/python3 - "$OUT" <<'PYEOF'
import json, statistics, sys
rows = {"A": [], "B": []}
for line in open(sys.argv[1]):
    w, i, load, j = line.split(" ", 3)
    rows[w].append(json.loads(j))
per = lambda x: x["tok_s"] / x["cpu_frac"] if x["cpu_frac"] > 0 else 0.0
figs = [("prefill tok/s", lambda d: d["prefill"]["tok_s"]), ("prefill per CPU-s", lambda d: per(d["prefill"])),
        ("decode tok/s", lambda d: d["decode"]["tok_s"]), ("decode per CPU-s", lambda d: per(d["decode"]))]
for name, f in figs:
    a, b = [f(d) for d in rows["A"]], [f(d) for d in rows["B"]]
    if not a or not b or max(a + b) == 0: continue
    r = [x / y for x, y in zip(a, b) if y > 0]
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    m = lambda v, f="%.1f": (f + " ± " + f + " (" + f + ", " + f + "-" + f + ")") % (
        statistics.mean(v), sd(v), statistics.median(v), min(v), max(v))
    print("%-18s A %-32s B %-32s A/B per round %s" % (name, m(a), m(b), m(r, "%.2f") if r else "-"))
PYEOF
echo "$(uptime)"
