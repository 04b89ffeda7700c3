#!/bin/bash
# serve_load.sh - load test of `qwen3 serve`: 1, 4 and 16 concurrent streaming clients against one
# server on loopback, on a Qwen3-0.6B-shaped random checkpoint (generated once by
# tools/gen_checkpoint.py --preset 0.6b). Prints a table: aggregate tokens/s, time to first token and
# inter-token latency percentiles, errors (must be 0), and the 4-client speed-up over 1 client.
#
#   bench/serve_load.sh                    standalone (from the repository root; builds nothing)
#   MODEL=dir QUANT=q8_0 CLIENTS="1 4 16" REQUESTS=1 MAX_TOKENS=32 THREADS=2 bench/serve_load.sh
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
ROUND_TIMEOUT=${ROUND_TIMEOUT:-900}
PY=${PY:-/usr/bin/python3}

if [ ! -f "$MODEL/config.json" ]; then
    echo "serve_load: writing a Qwen3-0.6B-shaped checkpoint to $MODEL"
    "$PY" tools/gen_checkpoint.py --preset 0.6b -q "$MODEL" || exit 1
fi
max_c=1
for c in $CLIENTS; do [ "$c" -gt "$max_c" ] && max_c=$c; done
LOG=$(mktemp)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -f "$LOG"; }
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

printf '\nmodel %s, weights %s, %s tokens per request, %s request(s) per client, %s cores, load %s\n\n' \
    "$MODEL" "$qdesc" "$MAX_TOKENS" "$REQUESTS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| clients | requests | tokens | wall s | aggregate tok/s | TTFT p50 / p90 / p99 ms | inter-token p50 / p90 / p99 ms | errors |\n'
printf '|--------:|---------:|-------:|-------:|----------------:|------------------------:|-------------------------------:|-------:|\n'
errors=0; one=""; four=""
for c in $CLIENTS; do
    j=$(timeout "$ROUND_TIMEOUT" node bench/serve_load.mjs --base "$BASE" --model bench --clients "$c" \
        --requests "$REQUESTS" --max-tokens "$MAX_TOKENS")
    if [ -z "$j" ]; then echo "| $c | round timed out after $ROUND_TIMEOUT s |"; errors=$((errors + 1)); continue; fi
    row=$(printf '%s' "$j" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);
        const p=(o)=>`${o.p50} / ${o.p90} / ${o.p99}`;
        console.log(`| ${j.clients} | ${j.requests} | ${j.tokens} | ${j.wall_s} | ${j.tok_s} | ${p(j.ttft_ms)} | ${p(j.itl_ms)} | ${j.errors} |\t${j.tok_s}\t${j.errors}\t${j.first_error||""}`)})')
    IFS=$'\t' read -r line toks errs first <<< "$row"
    echo "$line"
    [ "$errs" != 0 ] && { errors=$((errors + errs)); echo "  first error: $first"; }
    [ "$c" = 1 ] && one=$toks
    [ "$c" = 4 ] && four=$toks
done
if [ -n "$one" ] && [ -n "$four" ]; then
    printf '\n4 clients vs 1: %sx aggregate tokens/s\n' "$(node -e "console.log(($four / $one).toFixed(2))")"
fi
echo "errors: $errors"
[ "$errors" -eq 0 ]
