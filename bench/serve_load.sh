#!/bin/bash
# serve_load.sh - load test of `qwen3 serve`: 1, 4 and 16 concurrent streaming clients against one
# server on loopback, on a Qwen3-0.6B-shaped random checkpoint (generated once by
# tools/gen_checkpoint.py --preset 0.6b). Prints a table: aggregate tokens/s, time to first token and
# inter-token latency percentiles, errors (must be 0), and the 4-client speed-up over 1 client.
# Each client count is measured ROUNDS times (default 3; `make bench` passes BENCH_REPEAT), the
# counts taking turns within a round, against the one server; every figure is printed as the mean ±
# sample stddev over the rounds, the median and range (min-max) beside the throughput; the speed-up
# is the mean ± stddev of the per-round ratios.
#
#   bench/serve_load.sh                    standalone (from the repository root; builds nothing)
#   MODEL=dir QUANT=q8_0 CLIENTS="1 4 16" REQUESTS=1 MAX_TOKENS=32 THREADS=2 ROUNDS=3 bench/serve_load.sh
#
# QUANT (default q8_0) is passed as --quant; when the engine cannot load with it the test falls
# back to the stored weights and says so. Bounded: each round has a ROUND_TIMEOUT (default 900 s).
# Exit status 1 when any request failed.
set -u
cd "$(dirname "$0")/.."
QWEN3=${QWEN3:-./qwen3}
TMP=${QWEN3_TMP:-build/testdata}
MODEL=${MODEL:-$TMP/bench/qwen3-0.6b}
QUANT=${QUANT:-q8_0}
CLIENTS=${CLIENTS:-1 4 16}
REQUESTS=${REQUESTS:-1}
MAX_TOKENS=${MAX_TOKENS:-32}
THREADS=${THREADS:-}
ROUNDS=${ROUNDS:-3}
ROUND_TIMEOUT=${ROUND_TIMEOUT:-900}
PY=${PY:-/usr/bin/python3}

if [ ! -f "$MODEL/config.json" ]; then
    echo "serve_load: writing a Qwen3-0.6B-shaped checkpoint to $MODEL"
    "$PY" tools/gen_checkpoint.py --preset 0.6b -q "$MODEL" || exit 1
fi
max_c=1
for c in $CLIENTS; do [ "$c" -gt "$max_c" ] && max_c=$c; done
LOG=$(mktemp)
RES=$(mktemp)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -f "$LOG" "$RES"; }
trap cleanup EXIT

start() { # start QUANT_FLAGS...: launches the server, waits for its port; 1 if it exits
    : > "$LOG"
    "$QWEN3" serve "$MODEL" --port 0 --parallel "$max_c" --queue 64 --ctx 1024 --model-name bench --timeout 120 \
        ${THREADS:+-t "$THREADS"} "$@" 2> "$LOG" &
    PID=$!
    for _ in $(seq 1 600); do
        PORT=$(sed -n 's|.*listening on http://[^ ]*:\([0-9]*\)$|\1|p' "$LOG")
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || { PID=""; return 1; }
        sleep 0.5
    done
    return 1
}
qdesc=$QUANT
if ! start --quant "$QUANT"; then
    echo "serve_load: --quant $QUANT failed ($(tail -1 "$LOG")); using the stored weights"
    qdesc="stored (bf16)"
    start || { echo "serve_load: the server did not start:"; cat "$LOG"; exit 1; }
fi
BASE="http://127.0.0.1:$PORT"
grep '^qwen3 serve: model' "$LOG"
# warm-up (page in the weights)
node bench/serve_load.mjs --base "$BASE" --model bench --clients 1 --requests 1 --max-tokens 2 > /dev/null

load0=$(cut -d' ' -f1-3 /proc/loadavg)
errors=0
for r in $(seq 1 "$ROUNDS"); do
    for c in $CLIENTS; do
        j=$(timeout "$ROUND_TIMEOUT" node bench/serve_load.mjs --base "$BASE" --model bench --clients "$c" \
            --requests "$REQUESTS" --max-tokens "$MAX_TOKENS")
        if [ -z "$j" ]; then
            echo "serve_load: round $r, $c clients timed out after $ROUND_TIMEOUT s"; errors=$((errors + 1)); continue
        fi
        echo "$r $j" >> "$RES"
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
printf '\nmodel %s, weights %s, %s tokens per request, %s request(s) per client, %s cores\n\n' \
    "$MODEL" "$qdesc" "$MAX_TOKENS" "$REQUESTS" "$(nproc)"
"$PY" - "$RES" "$ROUNDS" "$load0" "$load1" <<'PYEOF'; failed=$?
import json, statistics, sys
path, R, load0, load1 = sys.argv[1:5]
runs = {}  # clients -> list of (round, result)
for line in open(path):
    r, j = line.split(" ", 1)
    d = json.loads(j)
    runs.setdefault(d["clients"], []).append((int(r), d))

def ms(xs):
    # mean, sample stddev (0 for one round), median, min, max
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0, statistics.median(xs), min(xs), max(xs))

def pm(xs, f="%.1f"):
    m = ms(xs)
    return "-" if m is None else (f + " ± " + f) % m[:2]

print("| clients | requests | tokens | wall s | aggregate tok/s | TTFT p50 / p90 / p99 ms | inter-token p50 / p90 / p99 ms | errors |")
print("|--------:|---------:|-------:|-------:|----------------:|------------------------:|-------------------------------:|-------:|")
errs = 0
for c in sorted(runs):
    ds = [d for _, d in runs[c]]
    tok = ms([d["tok_s"] for d in ds])
    lat = lambda k: " / ".join(pm([d[k][p] for d in ds], "%.0f" if k == "ttft_ms" else "%.1f") for p in ("p50", "p90", "p99"))
    e = sum(d["errors"] for d in ds)
    errs += e
    print("| %d | %d | %s | %s | %.2f ± %.2f (%.2f, %.2f-%.2f) | %s | %s | %d |" % (
        c, ds[0]["requests"], pm([d["tokens"] for d in ds], "%.0f"), pm([d["wall_s"] for d in ds], "%.2f"),
        *tok, lat("ttft_ms"), lat("itl_ms"), e))
    for d in ds:
        if d["errors"]:
            print("  first error (%d clients): %s" % (c, d["first_error"]))
            break
if 1 in runs and 4 in runs:
    one = {r: d["tok_s"] for r, d in runs[1]}
    rs = ms([d["tok_s"] / one[r] for r, d in runs[4] if one.get(r)])
    if rs:
        print("\n4 clients vs 1: %.2fx ± %.2f (%.2f, %.2f-%.2f) aggregate tokens/s (per-round ratios)" % rs)
print("figures: mean ± sample stddev over %s rounds (aggregate tok/s: median, min-max in brackets); "
      "load average (1, 5, 15 min) before %s, after %s" % (R, load0, load1))
sys.exit(1 if errs else 0)
PYEOF
# the summary exits 1 when a request failed (its count is in the table), 2 when it crashed
[ "$failed" -ne 0 ] && errors=$((errors + 1))
echo "errors: $errors (rounds timed out, plus 1 if any request failed)"
[ "$errors" -eq 0 ]
