#!/bin/bash
# mpi_tp.sh - tensor and expert parallelism (`mpirun -n N qwen3-mpi CMD --mpi tp|ep`), bytes
# exchanged, and faults, against `qwen3 CMD` in one process, on generated checkpoints.
#   logits_*       the logits of every position within float summation order of the one-process
#                  ones: max |mpi - one| <= 1e-5 x max |one| (the ranks' partial sums of o_proj and
#                  down_proj are added in another order; measured ~4e-7): dense F32 on 2 and 4
#                  ranks (prefill; 4 ranks token by token), MoE with a dense layer as tp and ep on 2
#                  and 4 ranks, Q8_0 GGUFs (dense tp, MoE ep) on 2 ranks, a 71-token prompt on 3 ranks
#                  (the reduce-scatter all-reduce, slices of uneven size). *_batch: three sequences
#                  of 11-13, 3 and 7 ids in every forward pass (`logits --ids A --ids B --ids C`, as
#                  the server batches requests; with --decode the k-th sequence gives k tokens to
#                  each pass, so one-token steps and short chunks share a pass): tp dense 2 and 4,
#                  tp MoE 4, ep MoE 2 and 4 (the other logits_* checks are one sequence)
#   generate_*     greedy continuations identical (*_batch: three generations stepped together,
#                  `generate --ids A --ids B --ids C`: dense tp 4, MoE ep 2 and 4, MoE tp 2);
#                  run_chat: `run`
#   serve_batch    two requests decoded together (--parallel 2) by a tp server on 2 ranks: the texts
#                  as the one-process server's, every token's logprob within 0.05 (tp sums the o and
#                  down products' halves in another order: logits within ~1e-5, as logits_* show,
#                  but the bf16 rounding of the next activations turns such a difference into a
#                  whole bf16 step now and then; prompts "Once upon a time 3".."10" measured up to
#                  0.015 apart on 800a291, "1" and "2" happened to be 1e-5), or the same up to a
#                  token where both runs had a near-tie (each one's pick in the other's top 2
#                  within 0.05: with the bf16 dots' one-lane sums of 2026-12-08, request 2 of these
#                  random weights meets one at its 7th token); by a pp server on 4 ranks (a layer
#                  each): the same texts and logprobs exactly
#   info_tp        `qwen3 info` lists each rank's heads, columns and experts
#   bytes_*        QWEN3_MPI_STATS: rank 1's bytes sent after a generation equal the formula
#                  (README "More than one machine"): pp, tp on 2 ranks, ep on 4, tp on 4 with a
#                  71-token prompt (its prefill all-reduces take the reduce-scatter path)
#   split_refused  a Q4_K GGUF whose o_proj would be cut inside a 256-value block: a message naming
#                  the tensor, non-zero exit
#   too_many_tp    5 ranks for 4 query heads: a message
#   other_command  mpirun's MPMD form with another model on rank 1: refused, naming both commands
#   other_model    the same relative path holding another model in rank 1's directory: refused
#   rank_stopped   rank 1 stopped (SIGSTOP) mid-generation with QWEN3_MPI_TIMEOUT=3: rank 0 times out
#                  in the collective it waits in (says which), the job ends within 20 s, no rank left
#   rank_killed_tp rank 1 killed (SIGKILL) mid-generation: the job ends within 30 s, no rank left
#   oom_load       rank 1 limited to 1.5 GiB of address space (ulimit -v, by a wrapper in mpirun's
#                  command) and an 8B-shaped checkpoint (16 GB, a sparse file of zeros): the load
#                  fails with rank 0 naming rank 1, the file, its size, the limit and rank 1's share
#                  of the file in bytes (its layers 18-35: summed here from the file's header); the
#                  job ends, no rank left
#   oom_kv         the same limit, a model that loads in it and a 2 GiB KV cache per rank (--ctx
#                  32768, tp): rank 1 fails inside the first forward pass, names the cache and its
#                  size, and ends the job (MPI_Abort) within 30 s, no rank left
#                  (both SKIPped where the build cannot start under ulimit -v: AddressSanitizer
#                  reserves terabytes of address space for its shadow memory)
set -u
. "$(dirname "$0")/../lib.sh"
expect 34
names="logits_dense_tp2_batch logits_dense_tp4_decode_batch logits_dense_tp3_long logits_moe_gguf_q8_0_ep2 bytes_tp4_long logits_moe_tp2 logits_moe_tp4_batch logits_moe_ep2_decode_batch logits_moe_ep4_batch
       logits_gguf_q8_0_tp2 generate_dense_tp4_batch generate_moe_ep2_batch generate_moe_ep4_batch generate_moe_tp2_batch run_chat_tp2 serve_batch_tp2 info_tp
       bytes_pp2 bytes_tp2 bytes_ep4 split_refused too_many_tp other_command other_model rank_stopped rank_stopped_left
       rank_killed_tp serve_batch_tp2_stop serve_batch_pp4 serve_batch_pp4_stop oom_load oom_load_left oom_kv oom_kv_left"
. "$(dirname "$0")/../mpi_lib.sh"
mpi_skip_unless_built mpi_tp "$names"
T="$QWEN3_TMP/mpi_tp"
mkdir -p "$T"
gen() {
    local d=$1; shift
    [ -e "$d/model.safetensors" ] || "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$d" "$@" -q 2>"$T/gen.err" \
        || { echo "FAIL mpi_tp_checkpoints: $(tail -n 2 "$T/gen.err")"; exit 0; }
}
gen "$T/dense" --preset tiny --vocab 151936 --layers 4 --seed 31
gen "$T/moe" --preset tiny-moe --layers 3 --mlp-only-layers 1 --seed 32 --no-tokenizer
gen "$T/heads8" --preset tiny --heads 8 --layers 2 --seed 5 --no-tokenizer
[ "$T/d8.gguf" -nt "$QWEN3" ] || "$QWEN3" quantize "$T/dense" "$T/d8.gguf" --type q8_0 -t 1 >/dev/null 2>"$T/q.err" || echo "q8_0 GGUF: $(tail -n 1 "$T/q.err")"
[ "$T/moe8.gguf" -nt "$QWEN3" ] || "$QWEN3" quantize "$T/moe" "$T/moe8.gguf" --type q8_0 -t 1 >/dev/null 2>"$T/q.err" || echo "MoE q8_0 GGUF: $(tail -n 1 "$T/q.err")"
[ "$T/q4k.gguf" -nt "$QWEN3" ] || "$QWEN3" quantize "$T/heads8" "$T/q4k.gguf" --type q4_k -t 1 >/dev/null 2>"$T/q.err" || echo "q4_k GGUF: $(tail -n 1 "$T/q.err")"
pass() { echo "PASS mpi_tp_$1"; }
fail() { echo "FAIL mpi_tp_$1: $2"; }

IDS=$("$QWEN3" tokenize "$T/dense" "The quick brown fox jumps over the lazy dog, and then")
MIDS=5,77,300,9,1200,3,8,2047,16,400,22
# three sequences of different lengths for the batched checks (IDS are real text's ids)
BATCH="$IDS 9,1,4 700,1701,33,402,1999,64,5"
MBATCH="$MIDS 9,1,4 700,1701,33,402,1999,64,5"

close_logits() { # NAME RANKS MODEL IDS FLAGS... (IDS: one list, or several separated by spaces: a batch)
    local name=$1 n=$2 m=$3 ids=() x; shift 3
    for x in $1; do ids+=(--ids "$x"); done
    shift
    # always this build's logits: a file an older engine wrote would compare two builds
    "$QWEN3" logits "$m" "${ids[@]}" -o "$T/$name.one" -t 1 "$@" 2>"$T/$name.err1" \
        || { fail "$name" "one process: $(tail -n 1 "$T/$name.err1")"; return; }
    rm -f "$T/$name.mpi"
    mrun "$n" logits "$m" "${ids[@]}" -o "$T/$name.mpi" -t 1 "$@" >"$T/$name.out" 2>"$T/$name.err" \
        || { fail "$name" "mpirun: $(errs "$T/$name.err")"; return; }
    checked "mpi_tp_$name" "$PY" - "$T/$name.one" "$T/$name.mpi" "$name" "$n" <<'EOF'
import sys
import numpy as np
a, b = (np.fromfile(f, dtype="<f4") for f in sys.argv[1:3])
name, n = sys.argv[3], sys.argv[4]
if a.size == 0 or a.size != b.size:
    print("FAIL mpi_tp_%s: %d logits in one process, %d under mpirun" % (name, a.size, b.size)); sys.exit(0)
rel = float(np.abs(a - b).max() / np.abs(a).max())
ok = rel <= 1e-5 and np.isfinite(b).all()
print("%s mpi_tp_%s: %d ranks, %d logits, max |diff| / max |logit| = %.2e%s" % (
    "PASS" if ok else "FAIL", name, int(n), a.size, rel, "" if ok else " (bound 1e-5)"))
EOF
}
close_logits logits_dense_tp2_batch 2 "$T/dense" "$BATCH" --mpi tp
close_logits logits_dense_tp4_decode_batch 4 "$T/dense" "$BATCH" --mpi tp --decode
close_logits logits_moe_tp2 2 "$T/moe" "$MIDS" --mpi tp
close_logits logits_moe_tp4_batch 4 "$T/moe" "$MBATCH" --mpi tp
close_logits logits_moe_ep2_decode_batch 2 "$T/moe" "$MBATCH" --mpi ep --decode
close_logits logits_moe_ep4_batch 4 "$T/moe" "$MBATCH" --mpi ep
close_logits logits_gguf_q8_0_tp2 2 "$T/d8.gguf" "$IDS" --mpi tp
close_logits logits_moe_gguf_q8_0_ep2 2 "$T/moe8.gguf" "$MIDS" --mpi ep
LONG=$(seq -s, 100 170) # 71 rows of 128: the all-reduces of the prefill take the reduce-scatter path
close_logits logits_dense_tp3_long 3 "$T/dense" "$LONG" --mpi tp

batch_ids() { local x; for x in $1; do printf -- '--ids\n%s\n' "$x"; done; }
mapfile -t DB < <(batch_ids "$BATCH")
mapfile -t MB < <(batch_ids "$MBATCH")
same_out generate_dense_tp4_batch 4 generate "$T/dense" "${DB[@]}" -n 24 --presence-penalty 1.5 -t 1 --mpi tp
same_out generate_moe_ep2_batch 2 generate "$T/moe" "${MB[@]}" -n 24 --presence-penalty 1.5 -t 1 --mpi ep
same_out generate_moe_ep4_batch 4 generate "$T/moe" "${MB[@]}" -n 24 --presence-penalty 1.5 -t 1 --mpi ep
same_out generate_moe_tp2_batch 2 generate "$T/moe" "${MB[@]}" -n 24 --presence-penalty 1.5 -t 1 --mpi tp
ids_of() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ids"])'; }
a=$("$QWEN3" run "$T/dense" "Why is the sky blue?" --temp 0 -n 20 --no-think -t 1 --json 2>/dev/null | ids_of)
b=$(mrun 2 run "$T/dense" "Why is the sky blue?" --temp 0 -n 20 --no-think -t 1 --json --mpi tp 2>"$T/run.err" | ids_of)
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass run_chat_tp2; else fail run_chat_tp2 "ids $a vs $b: $(errs "$T/run.err")"; fi

# two requests decoded in one batched step by a tensor-parallel server
serve_pair() { # OUT MODE LAUNCH...
    local out=$1 mode=$2; shift 2
    local log="$out.err"
    : >"$log"
    rm -f "$out".[12]
    "$@" serve "$T/dense" -t 1 --ctx 512 --parallel 2 --port 0 ${mode:+--mpi $mode} 2>"$log" &
    local sp=$! port=""
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\).*/\1/p' "$log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "$port" ]; then echo "no server: $(tail -n 2 "$log")" >"$out.1"; kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null; return; fi
    local i cp=""
    for i in 1 2; do
        curl -s --max-time 60 "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
            -d "{\"prompt\": \"Once upon a time $i\", \"max_tokens\": 16, \"temperature\": 0, \"logprobs\": 2}" >"$out.$i" &
        cp="$cp $!"
    done
    wait $cp
    kill -TERM "$sp" 2>/dev/null
    for _ in $(seq 1 300); do kill -0 "$sp" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$sp" 2>/dev/null; then echo "STUCK" >"$out.stuck"; kill -9 "$sp"; fi
    wait "$sp" 2>/dev/null
}
rm -f "$T"/sv*.stuck
serve_pair "$T/sv1" "" "$QWEN3"
serve_pair "$T/sv2" tp "${MPIRUN[@]}" -n 2 "$MPIBIN"
serve_pair "$T/sv3" pp "${MPIRUN[@]}" -n 4 "$MPIBIN"
cat >"$T/serve_cmp.py" <<'EOF'
import json, os, sys
t, out, name, exact = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "exact"
def load(p):
    raw = open(p).read() if os.path.exists(p) else "(no answer)"
    try:
        c = json.loads(raw)["choices"][0]
        l = c["logprobs"]
        return c["text"], (l["tokens"], l["token_logprobs"], l["top_logprobs"])
    except Exception as e:
        return None, "%r: %s" % (e, raw[:200])
# close: the texts equal with every logprob within 0.05, or equal up to a token where both runs
# had a near-tie (each run's pick is in the other's top 2 within 0.05 of its own): there the other
# summation order may pick the other token, and the texts go their own ways after it
bad, ties = [], []
for i in (1, 2):
    (ta, A), (tb, B) = load("%s/sv1.%d" % (t, i)), load("%s/%s.%d" % (t, out, i))
    if ta is None or tb is None:
        bad.append("request %d: %s" % (i, A if ta is None else B)); continue
    (ka, la, pa), (kb, lb, pb) = A, B
    k = next((j for j in range(min(len(ka), len(kb))) if ka[j] != kb[j]), None)
    near = (not exact and k is not None and all(abs(x - y) <= 0.05 for x, y in zip(la[:k], lb[:k]))
            and kb[k] in pa[k] and la[k] - pa[k][kb[k]] <= 0.05 and ka[k] in pb[k] and lb[k] - pb[k][ka[k]] <= 0.05)
    if near: ties.append("request %d at token %d (%r / %r)" % (i, k, ka[k], kb[k])); continue
    if ta != tb or not ta: bad.append("request %d: %r vs %r" % (i, ta, tb))
    elif len(la) != len(lb) or max(abs(x - y) for x, y in zip(la, lb)) > (0 if exact else 0.05):
        bad.append("request %d: logprobs %s vs %s" % (i, la[:4], lb[:4]))
print("FAIL mpi_tp_%s: " % name + "; ".join(bad) if bad else "PASS mpi_tp_%s (2 requests together, texts equal, logprobs %s%s)"
      % (name, "identical" if exact else "within 0.05", "; apart after a near-tie: " + ", ".join(ties) if ties else ""))
print("FAIL mpi_tp_%s_stop: mpirun still running 30 s after SIGTERM" % name if os.path.exists("%s/%s.stuck" % (t, out))
      else "PASS mpi_tp_%s_stop" % name)
EOF
checked mpi_tp_serve_batch_tp2 "$PY" "$T/serve_cmp.py" "$T" sv2 serve_batch_tp2 close
# the pipeline on 4 ranks (one layer each) with two sequences in every pass: the same bits
checked mpi_tp_serve_batch_pp4 "$PY" "$T/serve_cmp.py" "$T" sv3 serve_batch_pp4 exact

out=$(mrun 4 info "$T/moe" --mpi ep 2>&1)
if printf '%s\n' "$out" | grep -q '^MPI rank 0: *expert parallel: query heads 0-0 (kv 0-0), MLP columns 0-63, experts 0-1' \
    && printf '%s\n' "$out" | grep -q '^MPI rank 3: *expert parallel: query heads 3-3 (kv 1-1), MLP columns 192-255, experts 6-7'; then
    pass info_tp
else
    fail info_tp "$(printf '%s\n' "$out" | grep -i 'mpi\|qwen3' | head -n 4 | tr '\n' ' ')"
fi

# Bytes: rank 1's count after `generate` of P prompt ids and F forward passes (1 prefill + F-1 steps)
# on a model of L layers, hidden H, N ranks. tp / ep: two all-reduces per layer of m = rows x H
# floats, all rows but in the last layer, where only the row whose logits are needed goes on after
# attention; an all-reduce sends (N-1) 4 m (all-gather), or from 3 ranks and m >= 8192 (reduce-
# scatter + all-gather) (m - s) 4 + (N-1) s 4, s = rank 1's slice floor(2m/N) - floor(m/N).
# pp with 2 ranks: rank 1 is the last stage and sends rank 0 that one row per pass: 4 H F.
bytes_check() { # NAME RANKS MODEL IDS MODE
    local name=$1 n=$2 m=$3 ids=$4 mode=$5
    QWEN3_MPI_STATS=1 mrun "$n" generate "$m" --ids "$ids" -n 8 -t 1 --mpi "$mode" >/dev/null 2>"$T/$name.err" \
        || { fail "$name" "mpirun: $(errs "$T/$name.err")"; return; }
    checked "mpi_tp_$name" "$PY" - "$T/$name.err" "$m/config.json" "$ids" "$n" "$mode" "$name" <<'EOF'
import json, re, sys
err, cfg, ids, n, mode, name = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
m = re.search(r"MPI rank 1 of \d+: (\d+) forward passes, sent (\d+) bytes", open(err).read())
if not m:
    print("FAIL mpi_tp_%s: no stats line for rank 1" % name); sys.exit(0)
F, sent = int(m.group(1)), int(m.group(2))
L, H, P = cfg["num_hidden_layers"], cfg["hidden_size"], len(ids.split(","))
def ar(m):
    if n < 3 or m < 8192: return (n - 1) * 4 * m
    s = 2 * m // n - m // n
    return (m - s) * 4 + (n - 1) * s * 4
want = 4 * H * F if mode == "pp" else 2 * (L - 1) * ar(P * H) + 2 * ar(H) + (F - 1) * 2 * L * ar(H)
print("%s mpi_tp_%s: %d passes, rank 1 sent %d bytes, formula %d" % ("PASS" if sent == want and F > 1 else "FAIL", name, F, sent, want))
EOF
}
bytes_check bytes_pp2 2 "$T/dense" "$IDS" pp
bytes_check bytes_tp2 2 "$T/dense" "$IDS" tp
bytes_check bytes_ep4 4 "$T/moe" "$MIDS" ep
bytes_check bytes_tp4_long 4 "$T/dense" "$LONG" tp

out=$(mrun 2 logits "$T/q4k.gguf" --ids 1,2,3 -o "$T/x.bin" -t 1 --mpi tp 2>&1); rc=$?
if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q "layer 0's o_proj (Q4_K, blocks of 256 values) cannot be split"; then pass split_refused
else fail split_refused "exit $rc: $(printf '%s\n' "$out" | grep qwen3 | head -n 2 | tr '\n' ' ')"; fi

out=$(mrun 5 generate "$T/dense" --ids 1,2,3 -n 4 -t 1 --mpi tp 2>&1); rc=$?
if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q "5 MPI ranks for 4 query heads"; then pass too_many_tp
else fail too_many_tp "exit $rc: $(printf '%s\n' "$out" | grep qwen3 | head -n 2 | tr '\n' ' ')"; fi

out=$(timeout 60 "${MPIRUN[@]}" -n 1 "$MPIBIN" generate "$T/dense" --ids 1,2,3 -n 4 -t 1 --mpi tp : \
      -n 1 "$MPIBIN" generate "$T/moe" --ids 1,2,3 -n 4 -t 1 --mpi tp 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && printf '%s\n' "$out" | grep -q "MPI rank 1 was started with another command than rank 0"; then
    pass other_command
else fail other_command "exit $rc: $(printf '%s\n' "$out" | grep qwen3 | head -n 2 | tr '\n' ' ')"; fi

mkdir -p "$T/wa" "$T/wb"
ln -sfn "$T/dense" "$T/wa/m"
ln -sfn "$T/moe" "$T/wb/m"
out=$(timeout 60 "${MPIRUN[@]}" -n 1 -wdir "$T/wa" "$MPIBIN" generate m --ids 1,2,3 -n 4 -t 1 --mpi tp : \
      -n 1 -wdir "$T/wb" "$MPIBIN" generate m --ids 1,2,3 -n 4 -t 1 --mpi tp 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && printf '%s\n' "$out" | grep -q "MPI rank 1 of 2 loaded another model from 'm'"; then
    pass other_model
else fail other_model "exit $rc: $(printf '%s\n' "$out" | grep qwen3 | head -n 2 | tr '\n' ' ')"; fi

# rank 1 of a generation, once it runs (its pid by OMPI_COMM_WORLD_RANK among mpirun's children)
rank1_of() {
    local mp=$1 p
    for _ in $(seq 1 100); do
        for p in $(pgrep -P "$mp" 2>/dev/null); do
            grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$p/environ" 2>/dev/null && { echo "$p"; return; }
        done
        sleep 0.1
    done
}
# NAME SIGNAL LIMIT_S: signal rank 1 mid-generation; mpirun must end (non-zero) within LIMIT_S with
# no rank left. Prints "rc seconds" or fails.
fault() {
    local name=$1 sig=$2 limit=$3 mp r1 t0 rc
    QWEN3_MPI_TIMEOUT=3 "${MPIRUN[@]}" -n 2 "$MPIBIN" generate "$T/dense" --ids 1,2,3 -n 30000 --ctx 32000 -t 1 --mpi tp \
        >/dev/null 2>"$T/$name.err" &
    mp=$!
    r1=$(rank1_of "$mp")
    sleep 1.5
    [ -n "$r1" ] && kill -"$sig" "$r1"
    t0=$(date +%s)
    for _ in $(seq 1 $((limit * 10))); do kill -0 "$mp" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$mp" 2>/dev/null; then
        kill -9 "$mp" 2>/dev/null; [ -n "$r1" ] && kill -9 "$r1" 2>/dev/null
        fail "$name" "mpirun still running $limit s after rank 1 got SIG$sig"; return 1
    fi
    wait "$mp"; rc=$?
    local left=1
    for _ in $(seq 1 50); do { [ -n "$r1" ] && kill -0 "$r1" 2>/dev/null; } || { left=0; break; }; sleep 0.1; done
    if [ -z "$r1" ] || [ $rc -eq 0 ] || [ $left -ne 0 ]; then
        fail "$name" "rank 1 pid '$r1', mpirun exit $rc, rank 1 left running: $left"; [ -n "$r1" ] && kill -9 "$r1" 2>/dev/null; return 1
    fi
    echo "$rc $(( $(date +%s) - t0 ))"
}
if r=$(fault rank_stopped STOP 20); then
    if grep -q "qwen3 (rank 0 of 2): no answer from the other MPI ranks for 3 s while" "$T/rank_stopped.err"; then
        pass "rank_stopped (mpirun exited ${r% *} after ${r#* } s: $(grep -o 'while [a-z ]*' "$T/rank_stopped.err" | head -n 1))"
    else fail rank_stopped "no time-out message: $(errs "$T/rank_stopped.err")"; fi
    pass "rank_stopped_left (no rank left running)"
else
    echo "$r"; fail rank_stopped_left "see rank_stopped"
fi
if r=$(fault rank_killed_tp KILL 30); then pass "rank_killed_tp (mpirun exited ${r% *} after ${r#* } s)"; else echo "$r"; fi

# A rank out of memory: the wrapper limits rank 1 alone, then execs the same qwen3-mpi command line
# (so the ranks' commands still match). The job is tagged with an environment variable, by which
# /proc tells whether any of its processes is left once mpirun is gone.
printf '#!/bin/sh\n[ "$OMPI_COMM_WORLD_RANK" = 1 ] && ulimit -v "$QWEN3_TEST_LIMIT_KB"\nexec "$@"\n' >"$T/limit_rank1.sh"
chmod +x "$T/limit_rank1.sh"
LIMIT_KB=1572864
left_of() { grep -lz "^QWEN3_TEST_JOB=$1\$" /proc/[0-9]*/environ 2>/dev/null | wc -l; }
oom() { # NAME PATTERN ARGS...: the job must end non-zero within 30 s, print PATTERN, leave no rank
    local name=$1 pat=$2 t0 rc left; shift 2
    t0=$(date +%s)
    QWEN3_TEST_JOB="$name.$$" QWEN3_TEST_LIMIT_KB=$LIMIT_KB timeout 60 "${MPIRUN[@]}" -x QWEN3_TEST_JOB -x QWEN3_TEST_LIMIT_KB \
        -n 2 "$T/limit_rank1.sh" "$MPIBIN" "$@" >/dev/null 2>"$T/$name.err"; rc=$?
    local secs=$(( $(date +%s) - t0 ))
    for _ in $(seq 1 50); do left=$(left_of "$name.$$"); [ "$left" = 0 ] && break; sleep 0.1; done
    if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $secs -le 30 ] && grep -q "$pat" "$T/$name.err"; then
        pass "$name (exit $rc after $secs s: $(grep -o "rank 1 of 2.*" "$T/$name.err" | head -n 1 | cut -c 1-150))"
    else fail "$name" "exit $rc after $secs s, expected '$pat': $(errs "$T/$name.err")"; fi
    if [ "$left" = 0 ]; then pass "${name}_left (no rank left running)"
    else fail "${name}_left" "$left processes of the job still running"; fi
}
if ! (ulimit -v $LIMIT_KB && "$QWEN3" --version) >/dev/null 2>&1; then
    for n in oom_load oom_load_left oom_kv oom_kv_left; do
        echo "SKIP mpi_tp_$n: this build does not start under ulimit -v $LIMIT_KB (AddressSanitizer reserves terabytes of address space)"
    done
else
    gen "$T/big" --preset 8b --zeros --no-tokenizer
    gen "$T/kvheavy" --preset tiny --hidden 64 --heads 16 --kv-heads 16 --head-dim 128 --layers 8 --vocab 2048 --no-tokenizer
    size=$(stat -c %s "$T/big/model.safetensors")
    # rank 1's share of the file, from its header: the pipeline's second half, layers [L/2, L)
    # (as tp the message's sum was checked by hand: 6946375680 bytes, half of every layer's matrices
    # and its norms whole; not a test, since rank 0 then copies out its columns of the 16 GB: 30 s)
    share_of() { "$PY" - "$T/big" <<'EOF'
import json, re, struct, sys
d = sys.argv[1]
L = json.load(open(d + "/config.json"))["num_hidden_layers"]
with open(d + "/model.safetensors", "rb") as f:
    h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
total = 0
for name, t in h.items():
    m = re.match(r"model\.layers\.(\d+)\.", name)
    if name == "__metadata__" or not m: continue
    b = t["data_offsets"][1] - t["data_offsets"][0]
    total += b if int(m.group(1)) >= L // 2 else 0
print(total)
EOF
    }
    oom oom_load "MPI rank 1 of 2: $T/big/model.safetensors: cannot mmap $size bytes ([0-9.]* GiB): .*ulimit -v.*share of the file is $(share_of) bytes ([0-9.]* GiB: layers 18-35)" \
        generate "$T/big" --ids 1,2,3 -n 4 -t 1
    # rank 1's share of the cache: 8 layers x 8 of the 16 kv heads x K and V x 32768 positions x 128 floats
    oom oom_kv "qwen3 (rank 1 of 2): the KV cache of a sequence rank 0 began: out of memory: cannot reserve $((8 * 8 * 2 * 32768 * 128 * 4 >> 20)) MiB .*ulimit -v.*ending the job" \
        generate "$T/kvheavy" --ids 1,2,3 -n 4 -t 1 --ctx 32768 --mpi tp
fi
