#!/bin/bash
# mpi.sh - the MPI pipeline (qwen3-mpi, `make MPI=1`; `make test` builds it when mpicc exists):
# `mpirun -n N qwen3-mpi CMD` against `qwen3 CMD` in one process, on generated checkpoints.
#   logits_*        the logits of every position, prefill and token by token (--decode), BIT FOR
#                   BIT equal (each layer runs the same kernels on the same rows; only the residual
#                   stream travels): dense 4 layers on 2 and 3 ranks, MoE (a dense layer too) on 2,
#                   Q8_0 (--quant) on 2; *_batch: three sequences of 13, 3 and 7 ids in every pass
#                   (`logits --ids A --ids B --ids C`, as the server batches requests; with --decode
#                   the k-th sequence gives k tokens to each pass) on 2 and 4 ranks
#   generate_*      greedy continuations identical (generate_greedy_2_batch: three generations
#                   stepped together); with --draft (the draft runs on rank 0 alone)
#   run_chat        `qwen3 run` (fast path): the same ids
#   info_shares     `qwen3 info` lists each rank's layers and weight bytes
#   too_many_ranks  5 ranks for 4 layers: a message, non-zero exit, no hang
#   rank_killed     rank 1 killed with SIGKILL mid-generation: mpirun ends the job (non-zero) within
#                   30 s, no rank left running
set -u
. "$(dirname "$0")/../lib.sh"
expect 13
names="logits_dense_2_batch logits_dense_4_decode_batch logits_dense_3_decode logits_moe_2 logits_q8_0_2_decode generate_greedy_2_batch generate_draft_2 run_chat_2 info_shares too_many_ranks rank_killed serve_2 serve_stop"
. "$(dirname "$0")/../mpi_lib.sh"
mpi_skip_unless_built mpi "$names"
T="$QWEN3_TMP/mpi"
mkdir -p "$T"
gen() {
    local d=$1; shift
    [ -f "$d/model.safetensors" ] || "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$d" "$@" -q 2>"$T/gen.err" \
        || { echo "FAIL mpi_checkpoints: $(tail -n 2 "$T/gen.err")"; exit 0; }
}
gen "$T/dense" --preset tiny --vocab 151936 --layers 4 --seed 31
gen "$T/draft" --preset tiny --vocab 151936 --layers 1 --seed 31
gen "$T/moe" --preset tiny-moe --layers 3 --mlp-only-layers 1 --seed 32 --no-tokenizer
pass() { echo "PASS mpi_$1"; }
fail() { echo "FAIL mpi_$1: $2"; }

IDS=$("$QWEN3" tokenize "$T/dense" "The quick brown fox jumps over the lazy dog, and then")
MIDS=5,77,300,9,1200,3,8,2047,16,400,22

same_logits() { # NAME RANKS MODEL IDS FLAGS... (IDS: one list, or several separated by spaces: a batch)
    local name=$1 n=$2 m=$3 ids=() x; shift 3
    for x in $1; do ids+=(--ids "$x"); done
    shift
    "$QWEN3" logits "$m" "${ids[@]}" -o "$T/$name.one" -t 1 "$@" 2>"$T/$name.err1" \
        || { fail "$name" "one process: $(tail -n 1 "$T/$name.err1")"; return; }
    rm -f "$T/$name.mpi"
    mrun "$n" logits "$m" "${ids[@]}" -o "$T/$name.mpi" -t 1 "$@" >"$T/$name.out" 2>"$T/$name.err" \
        || { fail "$name" "mpirun: $(errs "$T/$name.err")"; return; }
    if cmp -s "$T/$name.one" "$T/$name.mpi" && [ -s "$T/$name.one" ]; then
        pass "$name ($n ranks, $(( $(stat -c %s "$T/$name.one") / 4 )) logits bit for bit)"
    else
        fail "$name" "logits differ ($(stat -c %s "$T/$name.one") / $(stat -c %s "$T/$name.mpi") bytes)"
    fi
}
BATCH="$IDS 9,1,4 700,1701,33,402,1999,64,5"
same_logits logits_dense_2_batch 2 "$T/dense" "$BATCH"
same_logits logits_dense_4_decode_batch 4 "$T/dense" "$BATCH" --decode
same_logits logits_dense_3_decode 3 "$T/dense" "$IDS" --decode
same_logits logits_moe_2 2 "$T/moe" "$MIDS"
same_logits logits_q8_0_2_decode 2 "$T/dense" "$IDS" --quant q8_0 --decode

same_out generate_greedy_2_batch 2 generate "$T/dense" --ids "$IDS" --ids 9,1,4 --ids 700,1701,33,402,1999,64,5 -n 24 --presence-penalty 1.5 -t 1
same_out generate_draft_2 2 generate "$T/dense" --ids "$IDS" -n 24 --draft "$T/draft" -t 1
ids_of() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ids"])'; }
a=$("$QWEN3" run "$T/dense" "Why is the sky blue?" --temp 0 -n 20 --no-think -t 1 --json 2>/dev/null | ids_of)
b=$(mrun 2 run "$T/dense" "Why is the sky blue?" --temp 0 -n 20 --no-think -t 1 --json 2>"$T/run.err" | ids_of)
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass run_chat_2; else fail run_chat_2 "ids $a vs $b: $(head -n 2 "$T/run.err")"; fi

out=$(mrun 2 info "$T/dense" 2>&1)
if printf '%s\n' "$out" | grep -q '^MPI rank 0: *layers 0-1 + embedding' && printf '%s\n' "$out" | grep -q '^MPI rank 1: *layers 2-3'; then
    pass info_shares
else
    fail info_shares "$(printf '%s\n' "$out" | tail -n 3 | tr '\n' ' ')"
fi

out=$(mrun 5 generate "$T/dense" --ids 1,2,3 -n 4 -t 1 2>&1); rc=$?
if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q "5 MPI ranks for 4 layers"; then pass too_many_ranks
else fail too_many_ranks "exit $rc: $(printf '%s\n' "$out" | head -n 2 | tr '\n' ' ')"; fi

# rank 1 killed mid-generation
"${MPIRUN[@]}" -n 2 "$MPIBIN" generate "$T/dense" --ids 1,2,3 -n 30000 --ctx 32000 -t 1 >/dev/null 2>"$T/kill.err" &
mp=$!
r1=""
for _ in $(seq 1 100); do
    for p in $(pgrep -P "$mp" 2>/dev/null); do
        grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$p/environ" 2>/dev/null && r1=$p
    done
    [ -n "$r1" ] && break
    sleep 0.1
done
sleep 1.5
[ -n "$r1" ] && kill -9 "$r1"
t0=$(date +%s)
for _ in $(seq 1 300); do kill -0 "$mp" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$mp" 2>/dev/null; then
    kill -9 "$mp" 2>/dev/null; pkill -9 -P "$mp" 2>/dev/null
    fail rank_killed "mpirun still running 30 s after rank 1 was killed"
else
    wait "$mp"; rc=$?
    left=$(pgrep -P "$mp" 2>/dev/null | wc -l)
    if [ -n "$r1" ] && [ $rc -ne 0 ] && [ "$left" -eq 0 ]; then
        pass "rank_killed (mpirun exited $rc after $(( $(date +%s) - t0 )) s: $(grep -m1 -i 'signal\|killed\|exited' "$T/kill.err" | head -c 90))"
    else
        fail rank_killed "rank 1 pid '$r1', mpirun exit $rc, $left processes left"
    fi
fi

# the server under mpirun: a greedy completion equals the one-process server's
serve_answer() { # OUT LAUNCH...
    local out=$1; shift
    local log="$T/serve.$(basename "$out").err"
    : >"$log" # an earlier run's port must not be read
    "$@" serve "$T/dense" -t 1 --ctx 512 --port 0 2>"$log" &
    local sp=$! port=""
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\).*/\1/p' "$log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "$port" ]; then echo "no server: $(tail -n 2 "$log")" >"$out"; kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null; return; fi
    curl -s --max-time 60 "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
        -d '{"prompt": "Once upon a time", "max_tokens": 16, "temperature": 0}' >"$out"
    kill -TERM "$sp" 2>/dev/null
    for _ in $(seq 1 300); do kill -0 "$sp" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$sp" 2>/dev/null; then echo "STUCK" >>"$out"; kill -9 "$sp"; fi
    wait "$sp" 2>/dev/null
}
serve_answer "$T/serve1.json" "$QWEN3"
serve_answer "$T/serve2.json" "${MPIRUN[@]}" -n 2 "$MPIBIN"
checked serve_2 "$PY" - "$T/serve1.json" "$T/serve2.json" <<'EOF'
import json, sys
raw = [open(f).read() for f in sys.argv[1:3]]
try:
    a, b = (json.loads(r.split("\nSTUCK")[0])["choices"][0]["text"] for r in raw)
    print("PASS mpi_serve_2 (%r)" % a[:40] if a == b and a else "FAIL mpi_serve_2: %r vs %r" % (a, b))
except Exception as e:
    print("FAIL mpi_serve_2: %r: %s" % (e, " | ".join(r[:200] for r in raw)))
print("PASS mpi_serve_stop (SIGTERM to mpirun ends the job)" if "STUCK" not in raw[1] else
      "FAIL mpi_serve_stop: mpirun still running 30 s after SIGTERM")
EOF
