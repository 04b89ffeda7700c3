#!/bin/bash
# bench/train.sh [ROUNDS] - training speed beside PyTorch (issue 15): `qwen3 train --config small`
# (3.15 M non-embedding parameters, micro-batch 8 x 256 tokens) and tools/train_speed_torch.py, the
# same model, batch and FLOP count in PyTorch (Debian's python3-torch), alternating ROUNDS times
# (default 3) so that both see the same machine. Ours: the median tok/s and GFLOP/s of steps 6-12 of
# a 12-step run (the first steps warm caches and the pool); PyTorch: the median of 5 steps.
# Prints a markdown table (mean ± sample stddev over the rounds, median and min-max beside), the
# ratio (mean ± stddev of the per-round ratios), the fraction of the f32 FMA peak that
# `qwen3 bench --machine` measures, and the load average before and after.
set -u
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
Q="$PWD/$BUILD/qwen3"
PY=/usr/bin/python3
R=${1:-3}
T=${BENCH_TRAIN_THREADS:-2}
D=build/bench/train
mkdir -p "$D"
machine=$("$Q" bench --machine --json) || exit 1
load0=$(cut -d' ' -f1-3 /proc/loadavg)
have_torch=1
"$PY" -c 'import torch' 2>/dev/null || have_torch=0
: > "$D/rounds.txt"
for r in $(seq 1 "$R"); do
    rm -rf "$D/run"
    "$Q" train --config small --steps 12 --out "$D/run" -t "$T" --ckpt-minutes 0 >"$D/train.log" 2>&1 ||
        { echo "bench/train: qwen3 train failed (see $D/train.log)" >&2; exit 1; }
    rows=$(sed -n 's/^head: \([0-9]*\) rows.*/\1/p' "$D/train.log")
    ours=$("$PY" -c '
import json, statistics, sys
s = [json.loads(l) for l in open(sys.argv[1])]
s = [d for d in s if d["step"] >= 6]
print(statistics.median(d["tok_s"] for d in s), statistics.median(d["gflops"] for d in s))' "$D/run/loss.jsonl")
    torch="- -"
    if [ $have_torch = 1 ]; then
        line=$("$PY" tools/train_speed_torch.py --vocab "$rows" --steps 5 --threads "$T") ||
            { echo "bench/train: train_speed_torch.py failed" >&2; exit 1; }
        torch=$(echo "$line" | sed -n 's/.* \([0-9.]*\) tok\/s, \([0-9.]*\) GFLOP\/s$/\1 \2/p')
        [ -n "$torch" ] || { echo "bench/train: no 'tok/s, GFLOP/s' in train_speed_torch.py's output: $line" >&2; exit 1; }
    fi
    echo "$ours $torch" >> "$D/rounds.txt"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
"$PY" - "$D/rounds.txt" "$machine" "$R" "$T" "$load0" "$load1" <<'PYEOF'
import json, statistics, sys
path, machine, R, T, load0, load1 = sys.argv[1:7]
m = json.loads(machine)
rows = [l.split() for l in open(path) if l.strip()]
def ms(xs):
    # mean, sample stddev (0 for one round), median, min, max
    return None if not xs else (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0,
                                statistics.median(xs), min(xs), max(xs))
def col(i):
    return ms([float(r[i]) for r in rows if r[i] != "-"])
def fmt(x, f):
    return "not measured (python3-torch missing)" if x is None else (f + " ± " + f + " (" + f + ", " + f + "-" + f + ")") % x
ot, og, pt, pg = col(0), col(1), col(2), col(3)
print("| engine | tok/s | GFLOP/s | of the f32 FMA peak |")
print("|---|--:|--:|--:|")
print("| qwen3 train --config small | %s | %s | %.0f%% |" % (fmt(ot, "%.0f"), fmt(og, "%.1f"), 100 * og[0] / m["peak_f32"]))
print("| PyTorch %s | %s | %s | %s |" % ("(tools/train_speed_torch.py)", fmt(pt, "%.0f"), fmt(pg, "%.1f"),
                                        "-" if pg is None else "%.1f%%" % (100 * pg[0] / m["peak_f32"])))
if pg:
    rs = ms([float(r[1]) / float(r[3]) for r in rows if r[3] != "-" and float(r[3]) > 0])
    print("\nratio (GFLOP/s, ours / PyTorch's within each round): %.1fx ± %.1f (%.1f, %.1f-%.1f)" % rs)
print("machine: %s threads used of the peaks measured by qwen3 bench --machine: read %.1f GB/s, f32 FMA %.0f GFLOP/s"
      % (T, m["read_gbps"], m["peak_f32"]))
print("figures: mean ± sample stddev (median, min-max) of %s alternating rounds; %% of peak: of the mean; "
      "load average before %s, after %s" % (R, load0, load1))
PYEOF
