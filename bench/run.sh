#!/bin/bash
# bench/run.sh - `make bench`: our engine on generated checkpoints of the real shapes, in every weight
# type, and beside it llama.cpp's llama-bench on the same weights when LLAMA_BIN names a llama.cpp
# build (the directory holding llama-bench and llama-quantize; nothing of llama.cpp is in this
# repository).
#
# Checkpoints (random weights, tools/gen_checkpoint.py; cached under build/bench/, so reruns skip
# generation): Qwen3-0.6B shape BF16, and its Q8_0 / Q4 / Q4_K_M copies made by `qwen3 quantize`; the
# Qwen3-30B-A3B shape cut to 4 layers (hidden 2048, 32/4 heads, 128 experts, 8 active, width 768)
# in BF16 and Q8_0. With LLAMA_BIN the generator also writes the same weights as GGUF (--gguf) and
# llama-quantize makes the peer's Q8_0 / Q4_K_M from it.
#
# BENCH_BIG=1 adds the real sizes (issue 16 item 3), one GGUF file per row that both engines read:
# "8B Q8_0" (the Qwen3-8B shape: 36 layers, hidden 4096, 32/8 heads, random Q8_0 written directly,
# 8.7 GB), "8B Q4_K_M" (llama-quantize --allow-requantize of it, 5.0 GB) and "30B-A3B Q4_K_M" (all
# 48 layers, 17.4 GB: the source is a Q8_0 GGUF whose 18,432 expert matrices are holes of a sparse
# file, zeros on no disk, while the embedding, attention (o_proj scaled by 0.1), norms, router and
# lm_head are random, so the tokens spread over the experts as with random weights; llama-quantize makes the Q4_K_M and
# `fallocate --dig-holes` gives its all-zero blocks back to the disk). Without LLAMA_BIN
# `qwen3 quantize ... --type q4_k_m` makes the Q4_K_M files instead (QUANTIZER in the row's
# directory says which tool made it; with LLAMA_BIN one of ours is remade by llama-quantize).
# Making them took ~50 min on the shared 2-core machine (the 8B Q8_0 22 min, of which 3 min of CPU;
# its Q4_K_M 12 min; the 30B-A3B source 2.5 min, its Q4_K_M 16 min) and needs ~34 GB of disk at the
# peak, 16 GB after (the 30B-A3B's Q4_K_M keeps 0.9 GB of its 18.5); a row is skipped, with the
# reason, when the disk (5 GB kept free) or the memory (the file + 3 GB) is short. Not in the
# default `make bench`: one round of the three rows takes ~20 min on 2 threads alone.
#
# Every figure is measured BENCH_REPEAT times (default 5) and printed as the mean ± sample stddev
# over the rounds, then the median and range (min-max) in brackets: each round runs
# `qwen3 bench -p 512 -n 128` and, with LLAMA_BIN, `llama-bench -p 512 -n 128 -r 1` on the same
# weights, alternating the engines so that both see the same machine; on 2 threads and on 1
# (BENCH_THREADS="2 1"; BENCH_QUICK=1: -p 128 -n 32). The ratio is the mean ± stddev of the per-round
# ratios (both engines in one round see the same load), median and range beside. Without LLAMA_BIN the peer's
# columns say "not measured". The machine is printed with the figures: CPU model, cores, the read
# bandwidth and compute peaks `qwen3 bench --machine -t N` measures for each thread count at the
# start of every round (the % columns are against the best of the run: decode against the read
# bandwidth, prefill against the peak of the arithmetic it uses; the range is printed beside it),
# and the load average before and after (a shared machine:
# other jobs slow both engines alike only roughly; BENCH_PEAKS gives the peaks instead, see below).
# The last column puts llama.cpp against the same limits: its share of them (ours x its speed / ours)
# and the ratio a run at exactly the limit would give, so a target past the machine shows as such.
# BENCH_ROWS=REGEX keeps the rows whose name matches.
set -u
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
Q="$PWD/$BUILD/qwen3"
PY=/usr/bin/python3
D=build/bench
P=512; N=128
R=${BENCH_REPEAT:-5}
THREADS=${BENCH_THREADS:-2 1}
[ "${BENCH_QUICK:-0}" = 1 ] && { P=128; N=32; }
LLAMA_BIN=${LLAMA_BIN:-}
if [ -n "$LLAMA_BIN" ] && { [ ! -x "$LLAMA_BIN/llama-bench" ] || [ ! -x "$LLAMA_BIN/llama-quantize" ]; }; then
    echo "bench: LLAMA_BIN=$LLAMA_BIN lacks llama-bench or llama-quantize (give the build's bin directory)" >&2
    exit 1
fi
mkdir -p "$D"
BIG=${BENCH_BIG:-0}
declare -A SKIP=() # rows whose files could not be made (the reason was printed)

gen() { # gen DIR gen_checkpoint flags...: with LLAMA_BIN, also DIR/model.gguf (the same weights)
    local dir=$1; shift
    local want="$D/$dir/model.safetensors" gguf=()
    [ -n "$LLAMA_BIN" ] && { want="$D/$dir/model.gguf"; gguf=(--gguf); }
    [ -f "$want" ] && return 0
    echo "generating $D/$dir ${gguf[*]} ..." >&2
    rm -rf "${D:?}/$dir"
    "$PY" tools/gen_checkpoint.py "$D/$dir" -q "${gguf[@]}" "$@" || { echo "bench: gen_checkpoint.py $* failed" >&2; exit 1; }
}
quant() { # quant SRC DST TYPE LLAMA_TYPE: ours by qwen3 quantize; the peer's by llama-quantize
    [ -f "$D/$2/model.safetensors" ] ||
        "$Q" quantize "$D/$1" "$D/$2" --type "$3" >/dev/null || { echo "bench: qwen3 quantize $1 -> $2 failed" >&2; exit 1; }
    if [ -n "$LLAMA_BIN" ] && [ ! -f "$D/$2/model.gguf" ]; then
        "$LLAMA_BIN/llama-quantize" "$D/$1/model.gguf" "$D/$2/model.gguf" "$4" >"$D/$2/llama-quantize.log" 2>&1 ||
            { echo "bench: llama-quantize $1 -> $2 $4 failed (see $D/$2/llama-quantize.log)" >&2; exit 1; }
    fi
}
# ---- the big rows (BENCH_BIG=1): one GGUF file per row, made once and kept ----
avail_gb() { df -Pk "$D" | awk 'NR == 2 { printf "%d", $4 / 1048576 }'; }
mem_gb() { awk '/^MemTotal:/ { printf "%d", $2 / 1048576 }' /proc/meminfo; }
need_disk() { # need_disk GB WHAT: at least GB more, with 5 GB left over
    local a; a=$(avail_gb)
    [ "$a" -ge $(($1 + 5)) ] && return 0
    echo "bench: skipping $2: it needs ${1} GB of disk and 5 GB must stay free; $D has $a GB" >&2
    return 1
}
gen_gguf() { # gen_gguf DIR DISK_GB gen_checkpoint flags...: DIR/model.gguf only, written under DIR.part
    local dir=$1 gb=$2; shift 2
    [ -f "$D/$dir/model.gguf" ] && return 0
    need_disk "$gb" "$dir" || return 1
    echo "generating $D/$dir (GGUF only) ..." >&2
    rm -rf "${D:?}/$dir" "${D:?}/$dir.part"
    local t0=$SECONDS
    nice -n 10 "$PY" tools/gen_checkpoint.py "$D/$dir.part" -q --gguf --gguf-only "$@" &&
        mv -T "$D/$dir.part" "$D/$dir" || { echo "bench: gen_checkpoint.py $* failed" >&2; rm -rf "${D:?}/$dir.part"; return 1; }
    echo "  $D/$dir/model.gguf: $(du -h --apparent-size "$D/$dir/model.gguf" | cut -f1) ($(du -h "$D/$dir/model.gguf" | cut -f1) on disk) in $((SECONDS - t0)) s" >&2
}
requant() { # requant SRC DST DISK_GB: DST/model.gguf, Q4_K_M of SRC's GGUF, by llama-quantize with LLAMA_BIN
    local src=$1 dst=$2 gb=$3 by=qwen3
    [ -n "$LLAMA_BIN" ] && by=llama-quantize
    [ -f "$D/$dst/model.gguf" ] && [ "$(cat "$D/$dst/QUANTIZER" 2>/dev/null)" = "$by" ] && return 0
    [ -f "$D/$dst/model.gguf" ] && [ -z "$LLAMA_BIN" ] && return 0 # llama-quantize's file serves us too
    rm -rf "${D:?}/$dst"
    need_disk "$gb" "$dst" || return 1
    mkdir -p "$D/$dst"
    echo "quantizing $D/$src to $D/$dst (Q4_K_M, $by) ..." >&2
    local t0=$SECONDS ok=0
    if [ -n "$LLAMA_BIN" ]; then
        nice -n 10 "$LLAMA_BIN/llama-quantize" --allow-requantize "$D/$src/model.gguf" "$D/$dst/model.gguf.part" Q4_K_M \
            >"$D/$dst/llama-quantize.log" 2>&1 && ok=1
    else # QWEN3_REPACK=0: the source's Q8_0 stays in the mapping (repacked, the zero experts would take memory)
        QWEN3_REPACK=0 nice -n 10 "$Q" quantize "$D/$src/model.gguf" "$D/$dst/model.gguf.part" --type q4_k_m \
            >"$D/$dst/quantize.log" 2>&1 && ok=1
    fi
    if [ $ok = 0 ]; then
        echo "bench: $by $src -> $dst failed (see $D/$dst/*.log)" >&2; rm -f "$D/$dst/model.gguf.part"; return 1
    fi
    # the all-zero blocks (the 30B-A3B's experts) become holes again; a no-op on a file of random weights
    fallocate --dig-holes "$D/$dst/model.gguf.part" 2>/dev/null
    mv "$D/$dst/model.gguf.part" "$D/$dst/model.gguf" && echo "$by" > "$D/$dst/QUANTIZER"
    echo "  $D/$dst/model.gguf: $(du -h --apparent-size "$D/$dst/model.gguf" | cut -f1) ($(du -h "$D/$dst/model.gguf" | cut -f1) on disk) in $((SECONDS - t0)) s" >&2
}
fits() { # fits DIR: the row's file fits in memory with 3 GB to spare (one big model is loaded at a time)
    local gb; gb=$(du -k --apparent-size "$D/$1/model.gguf" | awk '{ printf "%d", $1 / 1048576 + 1 }')
    [ "$(mem_gb)" -ge $((gb + 3)) ] && return 0
    echo "bench: skipping $1: its $gb GB do not fit in $(mem_gb) GB of memory with 3 GB to spare" >&2
    return 1
}

prepare() { # prepare DIR: the checkpoint a row runs on (and what it is made from)
    case $1 in
    q8b-q8_0) gen_gguf q8b-q8_0 9 --preset 8b --dtype q8_0 && fits q8b-q8_0 ;;
    q8b-q4km) prepare q8b-q8_0 && requant q8b-q8_0 q8b-q4km 6 && fits q8b-q4km ;;
    # the source's 1.5 B random parameters take 1.7 GB of disk, its 29 B zero expert parameters none;
    # llama-quantize writes 17.4 GB before the holes are dug
    a3b-src) gen_gguf a3b-src 2 --preset 30b-a3b --dtype q8_0 --zero-experts ;;
    a3b-q4km) prepare a3b-src && requant a3b-src a3b-q4km 18 && fits a3b-q4km ;;
    q06b-bf16) gen q06b-bf16 --preset 0.6b --dtype bf16 ;;
    q06b-q8_0) prepare q06b-bf16; quant q06b-bf16 q06b-q8_0 q8_0 Q8_0 ;;
    q06b-q4km) prepare q06b-bf16; quant q06b-bf16 q06b-q4km q4_k_m Q4_K_M ;;
    q06b-q4) prepare q06b-bf16; quant q06b-bf16 q06b-q4 q4 Q4_K_M ;; # our Q4; the peer's nearest is Q4_K_M
    a3b4-bf16) gen a3b4-bf16 --preset 30b-a3b --layers 4 --dtype bf16 ;;
    a3b4-q8_0) prepare a3b4-bf16; quant a3b4-bf16 a3b4-q8_0 q8_0 Q8_0 ;;
    esac
}
ROWS=("0.6B BF16|q06b-bf16" "0.6B Q8_0|q06b-q8_0|--parallel 4" "0.6B Q4 (llama.cpp Q4_K_M)|q06b-q4" "0.6B Q4_K_M|q06b-q4km"
      "30B-A3B x4 Q8_0|a3b4-q8_0"
      "30B-A3B x4 BF16|a3b4-bf16")
if [ "$BIG" = 1 ]; then
    ROWS+=("8B Q8_0|q8b-q8_0" "8B Q4_K_M|q8b-q4km" "30B-A3B Q4_K_M|a3b-q4km")
else
    echo "bench: the real sizes (8B Q8_0 / Q4_K_M, the whole 30B-A3B in Q4_K_M) need BENCH_BIG=1" \
         "(~50 min to make their files, ~34 GB of disk at the peak; see the header)" >&2
fi
for spec in "${ROWS[@]}"; do
    IFS='|' read -r name dir extra <<<"$spec"
    [[ "$name" =~ ${BENCH_ROWS:-.} ]] || continue
    case $dir in
    q8b-*|a3b-*) prepare "$dir" || SKIP[$dir]=1 ;; # a big row that cannot be made is skipped
    *) prepare "$dir" ;;
    esac
done

# BENCH_PEAKS='--bw G --peak-f32 G --peak-bf16 G --peak-int8 G': use these (measured on the idle
# machine) instead of measuring now, for the rows on all cores; on a busy machine the measurement is
# a fraction of the limits. The rows on fewer threads are measured against that many threads'
# limits (`qwen3 bench --machine -t N`: one core reads at about half of two cores' bandwidth)
# The limits are measured again at the start of every round, and the % columns are against the best
# of all of a run's measurements: one measurement on the shared host can catch a moment when other
# jobs hold the memory bus (2026-12-07 21:43 UTC: read 31.0 GB/s on two threads at the start of a
# run, 69.1 a minute after it ended), and every decode row then showed 110-200% "of the read
# bandwidth". The best of the run is the strictest ceiling the machine showed.
declare -A peaks=()
maxt=$(for t in $THREADS; do echo "$t"; done | sort -n | tail -n 1)
LIMITS="$D/limits.jsonl"; : > "$LIMITS"
limits() { # limits REP: measure (or take BENCH_PEAKS) for every thread count, record, pass on
    local t machine
    for t in $THREADS; do
        if [ -n "${BENCH_PEAKS:-}" ] && [ "$t" = "$maxt" ]; then
            machine=$("$Q" bench --machine --json -t "$t" $BENCH_PEAKS) || exit 1
        else
            machine=$("$Q" bench --machine --json -t "$t") || exit 1
        fi
        peaks[$t]=$(echo "$machine" | "$PY" -c 'import json,sys; m=json.load(sys.stdin); print("--bw %s --peak-f32 %s --peak-bf16 %s --peak-int8 %s" % (m["read_gbps"], m["peak_f32"], m["peak_bf16"], m["peak_int8"]))')
        echo "{\"t\": $t, \"rep\": $1, \"m\": $machine}" >> "$LIMITS"
        [ "$1" = 1 ] && echo "machine, $t threads: $machine" >&2
    done
}
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
cores=$(lscpu -p=core 2>/dev/null | grep -v '^#' | sort -u | wc -l)
echo "machine: $cpu, $(nproc) CPUs ($cores cores)" >&2

out="$D/results.jsonl"; : > "$out"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
# row NAME DIR [extra qwen3 bench flags]: one round of both engines on 2 and 1 threads
row() {
    local name=$1 dir=$2 rep=$3; shift 3
    for t in $THREADS; do
        local j
        # with the peer, both engines read the same GGUF file (but our own Q4, which only we have)
        local src="$D/$dir"
        [ -n "$LLAMA_BIN" ] && [ "$dir" != q06b-q4 ] && src="$D/$dir/model.gguf"
        [ -f "$D/$dir/model.safetensors" ] || src="$D/$dir/model.gguf" # the big rows: GGUF only
        if j=$("$Q" bench "$src" -p $P -n $N -t $t ${peaks[$t]} --json "$@"); then
            echo "{\"row\": \"$name\", \"engine\": \"qwen3\", \"t\": $t, \"rep\": $rep, \"r\": $j}" >> "$out"
        else
            echo "bench: qwen3 bench $dir -t $t failed" >&2
        fi
        [ -n "$LLAMA_BIN" ] || continue
        if j=$("$LLAMA_BIN/llama-bench" -m "$D/$dir/model.gguf" -p $P -n $N -t $t -r 1 -o json 2>"$D/llama-bench.err"); then
            echo "{\"row\": \"$name\", \"engine\": \"llama.cpp\", \"t\": $t, \"rep\": $rep, \"r\": $(echo "$j" | tr -d '\n')}" >> "$out"
        else
            echo "bench: llama-bench $dir -t $t failed: $(grep -m 1 -iE 'error|unsupported|abort|failed' "$D/llama-bench.err" ||
                tail -n 1 "$D/llama-bench.err")" >&2
        fi
    done
}
for rep in $(seq 1 "$R"); do
    limits "$rep"
    for spec in "${ROWS[@]}"; do
        IFS='|' read -r name dir extra <<<"$spec"
        [[ "$name" =~ ${BENCH_ROWS:-.} ]] || continue
        [ -n "${SKIP[$dir]:-}" ] && continue
        # shellcheck disable=SC2086
        row "$name" "$dir" "$rep" $extra
    done
done

load1=$(cut -d' ' -f1-3 /proc/loadavg)
"$PY" - "$out" "$cpu" "$(nproc)" "$cores" "$P" "$N" "$R" "${LLAMA_BIN:+$(cd "$LLAMA_BIN" && pwd)}" "$load0" "$load1" "$LIMITS" <<'PYEOF' || { echo "bench: the summary failed" >&2; exit 1; }
import json, statistics, sys
path, cpu, ncpu, cores, P, N, R, llama, load0, load1, limits_path = sys.argv[1:12]
LIM = ("read_gbps", "peak_f32", "peak_bf16", "peak_int8")
seen = {}  # t -> {limit: [every measurement of the run]}
for line in open(limits_path):
    d = json.loads(line)
    for k in LIM:
        seen.setdefault(d["t"], {}).setdefault(k, []).append(d["m"][k])
best = {t: {k: max(v) for k, v in m.items()} for t, m in seen.items()}
runs = {}  # (row, engine, t) -> list of {pp, tg, ...}
order = []
for line in open(path):
    d = json.loads(line)
    if d["row"] not in order:
        order.append(d["row"])
    if d["engine"] == "qwen3":
        r = d["r"]
        kind, m, b = r["prefill"].get("peak_kind", "bf16"), r["machine"], best.get(d["t"], {})
        # the fractions against the best limits of the run, not the round's own measurement
        scale = lambda k: m[k] / b[k] if b.get(k) and m.get(k) else 1.0
        fig = {"pp": r["prefill"]["tok_s"], "tg": r["decode"]["tok_s"],
               "peak": r["prefill"]["peak_frac"] * scale("peak_" + kind), "kind": kind, "rep": d["rep"],
               "bw": r["decode"]["bw_frac"] * scale("read_gbps"), "mb": r["weight_bytes_per_token"] / 1e6}
    else:  # llama-bench -o json: one object per test, n_prompt > 0 for pp, n_gen > 0 for tg
        fig = {"rep": d["rep"]}
        for t in d["r"]:
            fig["pp" if t["n_prompt"] else "tg"] = t["avg_ts"]
    runs.setdefault((d["row"], d["engine"], d["t"]), []).append(fig)

def ms(xs):
    # mean, sample stddev (0 for one round, as llama-bench and `qwen3 bench -r` print it), median,
    # min, max, and the number of rounds
    if not xs:
        return None
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0, statistics.median(xs),
            min(xs), max(xs), len(xs))

def stat(row, eng, t, k):
    return ms([f[k] for f in runs.get((row, eng, t), []) if k in f])

def fmt(m, f="%.1f"):
    return "not measured" if m is None else (f + " ± " + f + " (" + f + ", " + f + "-" + f + ")") % m[:5]

def ratio(row, t, k):
    # the per-round ratios (both engines in one round): mean ± stddev, median and range
    ours = {f["rep"]: f[k] for f in runs.get((row, "qwen3", t), []) if k in f}
    peer = {f["rep"]: f[k] for f in runs.get((row, "llama.cpp", t), []) if k in f}
    rs = ms([ours[i] / peer[i] for i in ours if i in peer and peer[i]])
    return "–" if rs is None else "**%.2fx ± %.2f** (%.2f, %.2f-%.2f)" % rs[:5]

def peer_frac(row, t, k, fk):
    # llama.cpp's share of the same limit in each round: ours times the peer's speed over ours (the
    # same weights, so the same FLOPs and bytes per token); median over the rounds
    ours = {f["rep"]: f for f in runs.get((row, "qwen3", t), []) if k in f and fk in f and f[k]}
    peer = {f["rep"]: f[k] for f in runs.get((row, "llama.cpp", t), []) if k in f}
    xs = [ours[i][fk] * peer[i] / ours[i][k] for i in ours if i in peer]
    return statistics.median(xs) if xs else None

def ceiling(row, t):
    # llama.cpp's fractions of the limits, and the ratio a run at 100% of them would give: where that
    # is under the issue's target (2x prefill, 1.5x decode), the target is past this machine's limit
    pp, tg = peer_frac(row, t, "pp", "peak"), peer_frac(row, t, "tg", "bw")
    if pp is None and tg is None:
        return "–"
    f = lambda x: "–" if not x else "%.0f%% (%.1fx)" % (100 * x, 1 / x)
    return "%s / %s" % (f(pp), f(tg))

threads = sorted({k[2] for k in runs}, reverse=True)
print("| checkpoint | threads | prefill t/s (ours) | prefill t/s (llama.cpp) | ratio | decode t/s (ours) | decode t/s (llama.cpp) | ratio | prefill % of peak | decode % read bw | MB/token | llama.cpp: % of peak / % read bw (ceiling ratio) |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for row in order:
    for t in threads:
        if (row, "qwen3", t) not in runs and (row, "llama.cpp", t) not in runs:
            continue
        op, lp = stat(row, "qwen3", t, "pp"), stat(row, "llama.cpp", t, "pp")
        og, lg = stat(row, "qwen3", t, "tg"), stat(row, "llama.cpp", t, "tg")
        pk, bw, mb = stat(row, "qwen3", t, "peak"), stat(row, "qwen3", t, "bw"), stat(row, "qwen3", t, "mb")
        kind = next((f["kind"] for f in runs.get((row, "qwen3", t), [])), "")
        print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row, t, fmt(op), fmt(lp), ratio(row, t, "pp"), fmt(og), fmt(lg), ratio(row, t, "tg"),
            "–" if pk is None else "%.0f%% ± %.0f %s" % (100 * pk[0], 100 * pk[1], kind),
            "–" if bw is None else "%.0f%% ± %.0f" % (100 * bw[0], 100 * bw[1]),
            "–" if mb is None else "%.0f" % mb[0], ceiling(row, t)))
print("\nmachine: %s, %s CPUs (%s cores)" % (cpu, ncpu, cores))
import os
for t in threads:
    if t not in best:
        continue
    rng = lambda k, f: (f + " (" + f + "-" + f + ")") % (best[t][k], min(seen[t][k]), best[t][k])
    given = os.environ.get("BENCH_PEAKS") and t == max(threads)
    print("%d thread%s, %s: read %s GB/s (1 GiB), peaks f32 %s, bf16 %s, int8 %s GFLOP/s: the best of the run "
          "(its range), the ceilings of the %% columns of the %d-thread rows" % (
              t, "s" if t > 1 else "", "given by BENCH_PEAKS (not measured in this run)" if given else
              "qwen3 bench --machine -t %d at the start of each of %d rounds" % (t, len(seen[t]["read_gbps"])),
              rng("read_gbps", "%.1f"), rng("peak_f32", "%.0f"), rng("peak_bf16", "%.0f"), rng("peak_int8", "%.0f"), t))
print("figures: mean ± sample stddev (median, min-max) of %s rounds, -p %s -n %s; ratios: of ours to the peer's "
      "within each round; %% columns: mean ± stddev; the engines alternate within each round; load average "
      "(1, 5, 15 min) before %s, after %s on %s CPUs" % (R, P, N, load0, load1, ncpu))
print("last column: llama.cpp's median share of the bf16/int8 peak (prefill) and of the read bandwidth (decode), "
      "from ours times its speed over ours in each round, and in brackets the ratio to it that a run at exactly "
      "that limit would give (the read bandwidth: qwen3 bench --machine's best of 1, 2 and 4 sequential "
      "streams a thread)")
print("llama.cpp: %s" % (llama + " (llama-bench -r 1, GGUF of the same weights; Q8_0 / Q4_K_M by llama-quantize)"
                         if llama else "not measured (set LLAMA_BIN to a llama.cpp build's bin directory)"))
PYEOF

# The server under load (issue 6): 1, 4 and 16 concurrent streaming clients on the 0.6B shape,
# quantized to Q8_0 at load, BENCH_REPEAT rounds.
[ -n "${BENCH_ROWS:-}" ] && exit 0
echo >&2
prepare q06b-bf16
MODEL="$D/q06b-bf16" QUANT=q8_0 QWEN3="$Q" ROUNDS="$R" bench/serve_load.sh
# Training speed beside PyTorch (issue 15)
echo >&2
QWEN3_BUILD="$BUILD" bench/train.sh "$R"
