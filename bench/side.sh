#!/bin/bash
# bench/side.sh FILE.gguf... - our engine beside llama.cpp's on the same GGUF files, in alternating
# rounds (the side-by-side tables in the README's Speed section and docs/speed-log.md; `make bench`
# does the same on its own generated checkpoints, this takes any files).
#
#   LLAMA_BIN=DIR [Q=build/rel/qwen3] [T=2] [R=3] [P=512] [N=128] bench/side.sh FILE.gguf...
#
# Each of R rounds runs, for every file, `Q bench FILE -p P -n N -t T --json` and
# `LLAMA_BIN/llama-bench -m FILE -p P -n N -r 1 -t T -o json`, the engine that goes first changing
# from round to round (a shared machine's load moves between runs). Prints per file and phase each
# engine's tok/s as mean ± sample stddev (median, min-max) over the rounds and the ratio ours /
# llama.cpp within each round, the same way; and the machine (CPU model, `qwen3 bench --machine`)
# and the load average before and after. Without LLAMA_BIN the peer's columns say "not measured".
# An earlier copy of this script (outside the repository, /work/benchtmp/side.sh, since lost) took
# the 2026-12-03 side-by-side figures (docs/speed-log.md); it printed ranges only.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
Q=${Q:-$ROOT/build/rel/qwen3}
T=${T:-2}; R=${R:-3}; P=${P:-512}; N=${N:-128}
LLAMA_BIN=${LLAMA_BIN:-}
[ $# -ge 1 ] || { sed -n 6p "$0" | sed 's/^# *//'; exit 2; }
for f in "$@"; do [ -f "$f" ] || { echo "side: $f: no such file" >&2; exit 2; }; done
if [ -n "$LLAMA_BIN" ] && [ ! -x "$LLAMA_BIN/llama-bench" ]; then
    echo "side: LLAMA_BIN=$LLAMA_BIN has no llama-bench" >&2; exit 2
fi
OUT=$(mktemp); ERR=$(mktemp)
trap 'rm -f "$OUT" "$ERR"' EXIT
machine=$("$Q" bench --machine --json) || exit 1
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
ours() { # ours ROUND FILE
    local j
    if j=$("$Q" bench "$2" -p "$P" -n "$N" -t "$T" --json 2>"$ERR" | tail -n 1) && [ -n "$j" ]; then
        echo "$1 qwen3 $2 $j" >> "$OUT"
    else echo "side: qwen3 bench $2 failed: $(tail -n 1 "$ERR")" >&2; fi
}
theirs() { # theirs ROUND FILE
    [ -n "$LLAMA_BIN" ] || return 0
    local j
    if j=$("$LLAMA_BIN/llama-bench" -m "$2" -p "$P" -n "$N" -r 1 -t "$T" -o json 2>"$ERR") && [ -n "$j" ]; then
        echo "$1 llama.cpp $2 $(echo "$j" | tr -d '\n')" >> "$OUT"
    else echo "side: llama-bench $2 failed: $(tail -n 1 "$ERR")" >&2; fi
}
for r in $(seq 1 "$R"); do
    for f in "$@"; do
        if [ $((r % 2)) = 1 ]; then ours "$r" "$f"; theirs "$r" "$f"; else theirs "$r" "$f"; ours "$r" "$f"; fi
    done
    echo "side: round $r of $R done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/python3 - "$OUT" "$machine" "$R" "$T" "$P" "$N" "$load0" "$load1" "$LLAMA_BIN" "$cpu" "$@" <<'PYEOF'
import json, statistics, sys
path, machine, R, T, P, N, load0, load1, llama, cpu = sys.argv[1:11]
files = sys.argv[11:]
m = json.loads(machine)
runs = {}  # (file, engine) -> {round: {"pp": tok/s, "tg": tok/s}}
for line in open(path):
    r, eng, f, j = line.rstrip("\n").split(" ", 3)
    d = json.loads(j)
    if eng == "qwen3":
        fig = {"pp": d["prefill"]["tok_s"], "tg": d["decode"]["tok_s"]}
    else:  # llama-bench -o json: one object per test, n_prompt > 0 for pp, n_gen > 0 for tg
        fig = {("pp" if t["n_prompt"] else "tg"): t["avg_ts"] for t in d}
    runs.setdefault((f, eng), {})[int(r)] = fig

def ms(xs):
    # mean, sample stddev (0 for one round), median, min, max
    if not xs:
        return None
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0, statistics.median(xs), min(xs), max(xs))

def fmt(x, f="%.1f"):
    return "not measured" if x is None else (f + " ± " + f + " (" + f + ", " + f + "-" + f + ")") % x

print("| file, %s threads | phase | ours tok/s | llama.cpp tok/s | ours / llama.cpp per round |" % T)
print("|---|---|--:|--:|--:|")
for f in files:
    o, l = runs.get((f, "qwen3"), {}), runs.get((f, "llama.cpp"), {})
    for k, phase in (("pp", "prefill %s" % P), ("tg", "decode %s" % N)):
        a = ms([v[k] for v in o.values() if k in v])
        b = ms([v[k] for v in l.values() if k in v])
        rs = ms([o[r][k] / l[r][k] for r in o if r in l and k in o[r] and l[r].get(k)])
        print("| %s | %s | %s | %s | %s |" % (f, phase, fmt(a), fmt(b), "–" if rs is None else fmt(rs, "%.2f")))
print("\nmachine: %s; qwen3 bench --machine: read %.1f GB/s, peaks f32 %.0f, bf16 %.0f, int8 %.0f GFLOP/s"
      % (cpu, m["read_gbps"], m["peak_f32"], m["peak_bf16"], m["peak_int8"]))
print("figures: mean ± sample stddev (median, min-max) of %s alternating rounds, -p %s -n %s -t %s; "
      "load average (1, 5, 15 min) before %s, after %s" % (R, P, N, T, load0, load1))
print("llama.cpp: %s" % ((llama + "/llama-bench -r 1") if llama else "not measured (set LLAMA_BIN to a llama.cpp build's bin directory)"))
PYEOF
