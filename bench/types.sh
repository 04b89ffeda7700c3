#!/bin/bash
# bench/types.sh - prefill and decode speed of every GGUF weight type on the Qwen3-0.6B shape, each
# beside our own Q8_0 and Q4 (issue 9's "prefill/decode tokens/s per type beside our own Q8_0/Q4").
#
# The checkpoint is the generator's 0.6B shape in BF16 (random weights, cached in build/bench/ as
# bench/run.sh makes it); `qwen3 quantize` writes it as a GGUF of each type (build/bench/types/,
# cached) and as our own Q8_0 and Q4 safetensors directories (build/bench/q06b-q8_0, q06b-q4: the
# references). Each of BENCH_REPEAT rounds (default 3) runs `qwen3 bench FILE -p P -n N -t T --json`
# on the references, then three types, then the references again, and so on, so that every type's run
# is bracketed by a Q8_0 and a Q4 run a minute or two away on either side. Per type: the median and
# range over the rounds of prefill and decode tokens/s, and of its tokens per CPU-second (tok/s /
# the share of the T CPUs the run got) divided by the mean of the two bracketing runs' of Q8_0 (Q4):
# on a shared machine the raw tok/s follow the other jobs, the per-round ratios much less.
#
# With LLAMA_BIN (a llama.cpp build's bin directory holding llama-bench; nothing of llama.cpp is in
# this repository), llama-bench runs the same GGUF file right after ours (-r 1), and the peer's
# columns give its tokens/s (raw: it reports no CPU share) and the per-round ratio of its raw tok/s
# to ours on that file.
#
# Environment: BENCH_REPEAT (rounds, 3), BENCH_THREADS (T, 1: no spinning at hand-offs between
# threads, so the CPU share is the run's own), BENCH_P / BENCH_N (prompt and generated tokens, 512 /
# 128), BENCH_TYPES (default: every type; q4_k_m / q5_k_m are llama.cpp's mixes, the rest one type for
# the layer matrices with the embedding Q8_0, see `qwen3 quantize --help`), BENCH_PEAKS (as in
# bench/run.sh; default fixed nominal peaks, which only the % columns of `qwen3 bench` use), BENCH_APPEND
# (see below). `bench/types.sh --summary` prints the table of the last runs again.
set -u
cd "$(dirname "$0")/.." || exit 1
Q="$PWD/${QWEN3_BUILD:-build/rel}/qwen3"
PY=/usr/bin/python3
D=build/bench
R=${BENCH_REPEAT:-3} T=${BENCH_THREADS:-1} P=${BENCH_P:-512} N=${BENCH_N:-128}
TYPES=${BENCH_TYPES:-"f32 f16 bf16 q8_0 q6_k q5_k_m q5_k q5_1 q5_0 q4_k_m q4_k q4_1 q4_0 iq4_nl iq4_xs q3_k q2_k"}
PEAKS=${BENCH_PEAKS:---bw 50 --peak-f32 400 --peak-bf16 800 --peak-int8 1600}
LLAMA_BIN=${LLAMA_BIN:-}
if [ -n "$LLAMA_BIN" ] && [ ! -x "$LLAMA_BIN/llama-bench" ]; then
    echo "types: LLAMA_BIN=$LLAMA_BIN has no llama-bench (give a llama.cpp build's bin directory)" >&2
    exit 1
fi
[ -x "$Q" ] || { echo "types: $Q not built (make)" >&2; exit 1; }
mkdir -p "$D/types"

summary() {
"$PY" - "$raw" "$D/types" "$D" "$TYPES" <<'PYEOF'
import json, os, statistics, sys
raw, tdir, d, types = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
runs = []  # (seq, kind, name, load, json)
for line in open(raw):
    s, kind, name, load, j = line.split(" ", 4)
    runs.append((int(s), kind, name, float(load), json.loads(j)))
per = lambda x: x["tok_s"] / x["cpu_frac"] if x["cpu_frac"] > 0 else float("nan")
m = lambda v: "%.1f (%.1f-%.1f)" % (statistics.median(v), min(v), max(v)) if v else "-"
mr = lambda v: "%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v)) if v else "-"
def size_mb(p):
    if os.path.isdir(p): return sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p) if f.endswith(".safetensors")) / 1e6
    return os.path.getsize(p) / 1e6
def bracket(s, ref):  # the reference runs of name ref just before and just after seq s
    before = [r for r in runs if r[1] == "ref" and r[2] == ref and r[0] < s]
    after = [r for r in runs if r[1] == "ref" and r[2] == ref and r[0] > s]
    return [x[4] for x in (before[-1:] + after[:1])]
llama = any(r[1] == "llama" for r in runs)
hdr = "| type | file MB | prefill tok/s | decode tok/s | prefill per CPU-s ÷ Q8_0 | ÷ Q4 | decode per CPU-s ÷ Q8_0 | ÷ Q4 |"
if llama: hdr += " llama.cpp prefill / decode tok/s | llama.cpp ÷ ours, prefill / decode |"
print(hdr); print("|" + "---|" * (hdr.count("|") - 1))
for ref, path in (("q8_0", d + "/q06b-q8_0"), ("q4", d + "/q06b-q4")):
    rr = [r[4] for r in runs if r[1] == "ref" and r[2] == ref]
    row = "| our %s (safetensors, reference) | %.0f | %s | %s | | | | |" % (ref.upper(), size_mb(path),
          m([x["prefill"]["tok_s"] for x in rr]), m([x["decode"]["tok_s"] for x in rr]))
    print(row + (" | |" if llama else ""))
for t in types:
    tr = [r for r in runs if r[1] == "type" and r[2] == t]
    if not tr: continue
    ratio = {}
    for ph in ("prefill", "decode"):
        for ref in ("q8_0", "q4"):
            v = []
            for s, _, _, _, x in tr:
                b = bracket(s, ref)
                if b: v.append(per(x[ph]) / statistics.mean(per(y[ph]) for y in b))
            ratio[ph, ref] = mr(v)
    row = "| %s | %.0f | %s | %s | %s | %s | %s | %s |" % (
        t.upper(), size_mb("%s/q06b-%s.gguf" % (tdir, t)), m([x[4]["prefill"]["tok_s"] for x in tr]),
        m([x[4]["decode"]["tok_s"] for x in tr]), ratio["prefill", "q8_0"], ratio["prefill", "q4"],
        ratio["decode", "q8_0"], ratio["decode", "q4"])
    if llama:
        lp, ld, rp, rd = [], [], [], []
        for s, _, _, _, x in tr:
            l = [r[4] for r in runs if r[1] == "llama" and r[2] == t and r[0] == s + 1]
            if not l: continue
            for e in l[0]:
                if e.get("n_prompt", 0) > 0 and e.get("n_gen", 0) == 0: lp.append(e["avg_ts"]); rp.append(e["avg_ts"] / x["prefill"]["tok_s"])
                if e.get("n_gen", 0) > 0 and e.get("n_prompt", 0) == 0: ld.append(e["avg_ts"]); rd.append(e["avg_ts"] / x["decode"]["tok_s"])
        row += " %s / %s | %s / %s |" % (m(lp), m(ld), mr(rp), mr(rd))
    print(row)
print("\nloads (1-min average) during the runs: %.1f-%.1f" % (min(r[3] for r in runs), max(r[3] for r in runs)))
PYEOF
}
raw=$D/types/runs.txt # every run's JSON line, kept: `bench/types.sh --summary` tabulates it again
[ "${1:-}" = --summary ] && { summary; exit; }

if [ ! -f "$D/q06b-bf16/model.safetensors" ]; then
    echo "generating $D/q06b-bf16 ..." >&2
    rm -rf "${D:?}/q06b-bf16"
    "$PY" tools/gen_checkpoint.py "$D/q06b-bf16" -q --preset 0.6b --dtype bf16 ||
        { echo "types: gen_checkpoint.py failed" >&2; exit 1; }
fi
for r in q8_0 q4; do
    [ -f "$D/q06b-$r/model.safetensors" ] || "$Q" quantize "$D/q06b-bf16" "$D/q06b-$r" --type $r >/dev/null ||
        { echo "types: qwen3 quantize q06b-bf16 -> q06b-$r failed" >&2; exit 1; }
done
for t in $TYPES; do
    f="$D/types/q06b-$t.gguf"
    [ -f "$f" ] || "$Q" quantize "$D/q06b-bf16" "$f" --type "$t" >/dev/null ||
        { echo "types: qwen3 quantize q06b-bf16 -> $f failed" >&2; rm -f "$f"; exit 1; }
done

machine=$("$Q" bench --machine) || exit 1
echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs; $machine"
echo "qwen3 bench FILE -p $P -n $N -t $T --json, $R rounds; start: $(uptime)"

# BENCH_APPEND=1: add to the runs of an earlier invocation (say, of other BENCH_TYPES) instead of
# starting over; the table covers all of them
seq=0
if [ "${BENCH_APPEND:-0}" = 1 ] && [ -s "$raw" ]; then seq=$(($(tail -n 1 "$raw" | cut -d' ' -f1) + 1)); else : >"$raw"; fi
run() { # run KIND NAME PATH: one qwen3 bench (and for a type with LLAMA_BIN, one llama-bench) -> $raw
    local j
    # shellcheck disable=SC2086 # PEAKS is a list of flags
    if j=$("$Q" bench "$3" -p "$P" -n "$N" -t "$T" --json $PEAKS 2>/dev/null | tail -n 1) && [ -n "$j" ]; then
        echo "$seq $1 $2 $(cut -d' ' -f1 /proc/loadavg) $j" >>"$raw"
    else
        echo "types: qwen3 bench $3 failed" >&2
    fi
    seq=$((seq + 1))
    [ "$1" = type ] && [ -n "$LLAMA_BIN" ] || return 0
    if j=$("$LLAMA_BIN/llama-bench" -m "$3" -p "$P" -n "$N" -t "$T" -r 1 -o json 2>/dev/null | tr -d '\n') && [ -n "$j" ]; then
        echo "$seq llama $2 $(cut -d' ' -f1 /proc/loadavg) $j" >>"$raw"
    else
        echo "types: llama-bench $3 failed" >&2
    fi
    seq=$((seq + 1))
}
refs() { run ref q8_0 "$D/q06b-q8_0"; run ref q4 "$D/q06b-q4"; }
for i in $(seq "$R"); do
    refs
    k=0
    for t in $TYPES; do
        run type "$t" "$D/types/q06b-$t.gguf"
        k=$((k + 1))
        [ $((k % 3)) = 0 ] && refs
    done
    [ $((k % 3)) = 0 ] || refs
    echo "round $i done: $(uptime)" >&2
done
echo "end: $(uptime)"
summary
