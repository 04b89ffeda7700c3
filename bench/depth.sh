#!/bin/bash
# bench/depth.sh [MODEL.gguf] [DEPTHS] [ROUNDS] - prefill and decode speed after D tokens are cached,
# ours (`qwen3 bench -d`) beside llama.cpp's (`llama-bench -d`) on the same GGUF file, alternating
# engines in each round (this machine is shared: the load moves between runs); each figure the mean ±
# sample stddev over the rounds (median in brackets).
# Prints a Markdown table (README: Long context) and the load average before and after.
#   MODEL   default build/bench/q06b-q8_0/model.gguf (the 0.6B shape, Q8_0, as `LLAMA_BIN=... make bench` writes it)
#   DEPTHS  default 0,4096,16384        ROUNDS default 3
# Env: QWEN3 (our binary), LLAMA_BENCH (default $LLAMA_BIN/llama-bench, a llama.cpp build
# outside the repository), T threads (2), P prefill tokens (128), N decode tokens (32), KV (the
# cache type of both engines: our --kv, llama-bench's -ctk/-ctv with -fa on; default f16, llama.cpp's
# default), FILL (our --depth-fill: random, default, writes
# the depth's K/V rows directly in seconds; prefill fills it as llama-bench does, minutes at 16K).
# llama-bench always fills its depth by a real prefill, untimed, so its rounds take longer.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
QWEN3=${QWEN3:-$ROOT/qwen3}
LB=${LLAMA_BENCH:-${LLAMA_BIN:+$LLAMA_BIN/llama-bench}}
MODEL=${1:-$ROOT/build/bench/q06b-q8_0/model.gguf}
DEPTHS=${2:-0,4096,16384}
R=${3:-3}
T=${T:-2}; P=${P:-128}; N=${N:-32}; KV=${KV:-f16}; FILL=${FILL:-random}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$LB" ] || echo "depth.sh: no llama-bench (set LLAMA_BIN or LLAMA_BENCH): llama.cpp not measured" >&2
ours() {
    "$QWEN3" bench "$MODEL" -p "$P" -n "$N" -d "$DEPTHS" --depth-fill "$FILL" --kv "$KV" -t "$T" --json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    j = json.loads(l); print("ours", j["depth"], "%.2f" % j["prefill"]["tok_s"], "%.2f" % j["decode"]["tok_s"])' >>"$TMP/rows"
}
theirs() {
    [ -n "$LB" ] || return 0
    local kvx=()
    [ "$KV" != f16 ] && kvx=(-ctk "$KV" -ctv "$KV" -fa on) # llama.cpp quantizes V only with flash attention
    "$LB" -m "$MODEL" -p "$P" -n "$N" -d "$DEPTHS" -r 1 -t "$T" "${kvx[@]}" -o json 2>/dev/null |
        python3 -c 'import json,sys
rows = json.load(sys.stdin); out = {}
for x in rows:
    d = x.get("n_depth", 0); k = "pp" if x["n_prompt"] > 0 else "tg"
    out.setdefault(d, {})[k] = x["avg_ts"]
for d, v in sorted(out.items()): print("llama", d, "%.2f" % v.get("pp", 0), "%.2f" % v.get("tg", 0))' >>"$TMP/rows"
}
for r in $(seq "$R"); do
    if [ $((r % 2)) = 1 ]; then ours; theirs; else theirs; ours; fi
    echo "round $r done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
python3 - "$TMP/rows" "$P" "$N" <<'PYEOF'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
P, N = sys.argv[2], sys.argv[3]
depths = sorted({int(r[1]) for r in rows})
def stat(eng, d, i):
    # mean, sample stddev (0 for one round), median, number of rounds
    v = [float(r[i]) for r in rows if r[0] == eng and int(r[1]) == d]
    if not v:
        return (float("nan"), 0.0, float("nan"), 0)
    return (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0, statistics.median(v), len(v))
def fmt(x, f):
    return (f + " ± " + f + " (" + f + ")") % x[:3]
print("| depth | ours pp%s tok/s | llama.cpp pp%s tok/s | ours tg%s tok/s | llama.cpp tg%s tok/s | tg vs depth 0, of the means (ours, llama.cpp) |" % (P, P, N, N))
print("|--:|--:|--:|--:|--:|--:|")
t0o, t0l = stat("ours", depths[0], 3)[0], stat("llama", depths[0], 3)[0]
for d in depths:
    po = stat("ours", d, 2); pl = stat("llama", d, 2); to = stat("ours", d, 3); tl = stat("llama", d, 3)
    n1, n2 = po[3], pl[3]
    print("| %d | %s | %s | %s | %s | %.2f, %.2f |" % (d, fmt(po, "%.1f"), fmt(pl, "%.1f"), fmt(to, "%.2f"), fmt(tl, "%.2f"),
                                                     to[0] / t0o, tl[0] / t0l))
print("\nmean ± sample stddev (median) of %d rounds (ours) / %d (llama.cpp)" % (n1, n2))
PYEOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
