#!/bin/bash
# bench/run.sh - `make bench`: our engine on generated checkpoints of the real shapes, in every weight
# type, beside llama.cpp's figures from issue 5 (commit 34af94cd9, llama-bench pp512 / tg128, this
# 2-core machine, medians, ~+-10%).
#
# Checkpoints (random weights, tools/gen_checkpoint.py; cached under build/bench/, so reruns skip
# generation): Qwen3-0.6B shape BF16, and its Q8_0 / Q4 / Q4_K_M copies made by `qwen3 quantize`; the
# Qwen3-30B-A3B shape cut to 4 layers (hidden 2048, 32/4 heads, 128 experts, 8 active, width 768)
# in BF16 and Q8_0. Every row runs `qwen3 bench -p 512 -n 128` on 2 threads and on 1 (BENCH_QUICK=1:
# -p 128 -n 32), with the machine's peaks measured once (qwen3 bench --machine) and passed to each run.
# The table gives tokens/s (ours / llama.cpp), prefill as a fraction of the bf16 peak and decode as a
# fraction of the read bandwidth, and "cpu": the share of threads x wall time the run actually got
# (below ~95% other processes were competing for the cores, and the wall-clock figures understate).
set -u
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
Q="$PWD/$BUILD/qwen3"
PY=/usr/bin/python3
D=build/bench
P=512; N=128
[ "${BENCH_QUICK:-0}" = 1 ] && { P=128; N=32; }
mkdir -p "$D"

gen() { # gen DIR gen_checkpoint flags...
    local dir=$1; shift
    [ -f "$D/$dir/model.safetensors" ] && return 0
    echo "generating $D/$dir ..." >&2
    "$PY" tools/gen_checkpoint.py "$D/$dir" -q "$@" || { echo "bench: gen_checkpoint.py $* failed" >&2; exit 1; }
}
quant() { # quant SRC DST TYPE
    [ -f "$D/$2/model.safetensors" ] && return 0
    "$Q" quantize "$D/$1" "$D/$2" --type "$3" || { echo "bench: qwen3 quantize $1 -> $2 failed" >&2; exit 1; }
}
gen q06b-bf16 --preset 0.6b --dtype bf16
quant q06b-bf16 q06b-q8_0 q8_0
quant q06b-bf16 q06b-q4 q4
quant q06b-bf16 q06b-q4_k_m q4_k_m
gen a3b4-bf16 --preset 30b-a3b --layers 4 --dtype bf16
quant a3b4-bf16 a3b4-q8_0 q8_0

machine=$("$Q" bench --machine --json) || exit 1
peaks=$(echo "$machine" | "$PY" -c 'import json,sys; m=json.load(sys.stdin); print("--bw %s --peak-f32 %s --peak-bf16 %s --peak-int8 %s" % (m["read_gbps"], m["peak_f32"], m["peak_bf16"], m["peak_int8"]))')
echo "machine (2 threads): $machine" >&2

out="$D/results.jsonl"; : > "$out"
# row NAME DIR LLAMA_PP2 LLAMA_TG2 LLAMA_PP1 LLAMA_TG1 [extra bench flags]
row() {
    local name=$1 dir=$2; shift 6
    for t in 2 1; do
        local j
        j=$("$Q" bench "$D/$dir" -p $P -n $N -t $t $peaks --json "$@") || { echo "bench: $dir -t $t failed" >&2; continue; }
        echo "{\"row\": \"$name\", \"t\": $t, \"r\": $j}" >> "$out"
    done
}
row "0.6B BF16" q06b-bf16 126 13.2 67 7.1
row "0.6B Q8_0" q06b-q8_0 125 20.5 66 10.9 --parallel 4
row "0.6B Q4 (llama Q4_K_M)" q06b-q4 160 28.5 89 15.7
row "0.6B Q4_K_M" q06b-q4_k_m 160 28.5 89 15.7
row "30B-A3B x4 Q8_0" a3b4-q8_0 203 23.8 107 11.2
row "30B-A3B x4 BF16" a3b4-bf16 149 13.6 0 0

"$PY" - "$out" <<'PYEOF'
import json, sys
llama = {"0.6B BF16": (126, 13.2, 67, 7.1), "0.6B Q8_0": (125, 20.5, 66, 10.9),
         "0.6B Q4 (llama Q4_K_M)": (160, 28.5, 89, 15.7), "0.6B Q4_K_M": (160, 28.5, 89, 15.7),
         "30B-A3B x4 Q8_0": (203, 23.8, 107, 11.2),
         "30B-A3B x4 BF16": (149, 13.6, 0, 0)}
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    rows.setdefault(d["row"], {})[d["t"]] = d["r"]
def cell(ours, theirs):
    return "%7.1f / %-6s" % (ours, ("%g" % theirs) if theirs else "-")
print("| checkpoint | prefill t/s, 2 thr (ours / llama.cpp) | decode t/s, 2 thr | prefill, 1 thr | decode, 1 thr | prefill % bf16 peak (2 thr) | decode % read bw (2 thr) | MB/token | cpu pp/tg (2 thr) | parallel 4 agg. t/s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name, l in llama.items():
    r = rows.get(name, {})
    r2, r1 = r.get(2), r.get(1)
    if not r2: print("| %s | (failed) |" % name); continue
    par = r2["parallel"]["tok_s"] if r2["parallel"]["sequences"] else 0
    print("| %s | %s | %s | %s | %s | %.0f%% | %.0f%% | %.0f | %.0f%% / %.0f%% | %s |" % (
        name, cell(r2["prefill"]["tok_s"], l[0]), cell(r2["decode"]["tok_s"], l[1]),
        cell(r1["prefill"]["tok_s"], l[2]) if r1 else "-", cell(r1["decode"]["tok_s"], l[3]) if r1 else "-",
        100 * r2["prefill"]["peak_frac"], 100 * r2["decode"]["bw_frac"], r2["weight_bytes_per_token"] / 1e6,
        100 * r2["prefill"]["cpu_frac"], 100 * r2["decode"]["cpu_frac"], ("%.1f" % par) if par else "-"))
m = next(iter(rows.values()))[2]["machine"]
print("\nmachine: read %.1f GB/s (1 GiB, 2 threads); peaks f32 %.0f, bf16 %.0f, int8 %.0f GFLOP/s (2 threads)" % (
    m["read_gbps"], m["peak_f32"], m["peak_bf16"], m["peak_int8"]))
PYEOF

# The server under load (issue 6): 1, 4 and 16 concurrent streaming clients on the 0.6B shape,
# quantized to Q8_0 at load.
echo >&2
MODEL="$D/q06b-bf16" QUANT=q8_0 QWEN3="$Q" bench/serve_load.sh
