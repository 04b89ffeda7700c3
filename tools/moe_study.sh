#!/bin/bash
# moe_study.sh [OUT_DIR] [STEPS] - the MoE balance study of issue 15: a MoE trained with no balance
# loss, with the micro-batch loss and with the global-batch loss, and a dense model of equal active
# size (intermediate = top-k x expert width), on the same synthetic-task tokens (same seed, steps,
# batch, accumulation); then held-out validation loss per task family, expert load max/mean per layer,
# and per family the fraction of tokens that choose each layer's most-used expert. Prints a markdown
# table (the README's). Run from the repository root after `make`.
set -eu
OUT=${1:-build/moe_study}
STEPS=${2:-300}
QWEN3=${QWEN3:-./qwen3}
TOK=${QWEN3_TOKENIZER:-$(cd .. && pwd)/shared/qwen3-tokenizer}
ALPHA=${ALPHA:-0.1}
mkdir -p "$OUT"
# 2 layers, hidden 128, 4/2 heads x 32; MoE: 8 experts of width 128, top-2 (active MLP 256); dense: 256
cat >"$OUT/moe.json" <<'EOF'
{"model_type":"qwen3_moe","vocab_size":151936,"hidden_size":128,"intermediate_size":256,"num_hidden_layers":2,
 "num_attention_heads":4,"num_key_value_heads":2,"head_dim":32,"rms_norm_eps":1e-6,"rope_theta":1000000.0,
 "max_position_embeddings":40960,"tie_word_embeddings":true,"num_experts":8,"num_experts_per_tok":2,
 "moe_intermediate_size":128,"norm_topk_prob":true,"decoder_sparse_step":1,"mlp_only_layers":[],
 "bos_token_id":151643,"eos_token_id":151645}
EOF
sed 's/"qwen3_moe"/"qwen3"/' "$OUT/moe.json" >"$OUT/dense.json"
COMMON=(--steps "$STEPS" --synth 20000 --batch 4 --seq 128 --accum 4 --seed 1 --ckpt-minutes 0 --eval 100 --tokenizer "$TOK")
run() { # NAME CONFIG FLAGS...
    local name=$1 cfg=$2; shift 2
    echo "== $name" >&2
    "$QWEN3" train --config "$OUT/$cfg" "${COMMON[@]}" --out "$OUT/$name" "$@" 2>"$OUT/$name.log" || { tail -3 "$OUT/$name.log" >&2; exit 1; }
    tail -9 "$OUT/$name.log" >&2
}
run dense dense.json
run moe-none moe.json --lbl none
run moe-micro moe.json --lbl micro --lbl-alpha "$ALPHA"
run moe-global moe.json --lbl global --lbl-alpha "$ALPHA"
/usr/bin/python3 - "$OUT" "$STEPS" "$ALPHA" <<'EOF'
import json, sys
out, steps, alpha = sys.argv[1], sys.argv[2], sys.argv[3]
fams = ["add", "sub", "mul", "sort", "count", "linear"]
runs = [("dense", "dense (MLP 256)"), ("moe-none", "MoE, no balance loss"), ("moe-micro", "MoE, micro-batch LBL"),
        ("moe-global", "MoE, global-batch LBL")]
print("| model | val loss | " + " | ".join(fams) + " | largest per-family load max/mean, L0, L1 | share of tokens choosing the top expert, per family, L0 / L1 |")
print("|---|---|" + "---|" * len(fams) + "---|---|")
for key, label in runs:
    e = json.load(open("%s/%s/eval.json" % (out, key)))
    F = e["families"]
    row = "| %s | %.3f | " % (label, e["loss"]) + " | ".join("%.3f" % F[f]["loss"] for f in fams)
    if F["add"]["layers"]:
        # load over all families: the most-used expert's share of the whole held-out set per layer
        loads = []
        for l in range(len(F["add"]["layers"])):
            loads.append(max(F[f]["layers"][l]["load_max_mean"] for f in fams))
        shares = ", ".join("%s %s" % (f, "/".join("%.2f" % F[f]["layers"][l]["top_frac"] for l in range(len(loads)))) for f in fams)
        row += " | %s | %s |" % (", ".join("%.2f" % x for x in loads), shares)
    else:
        row += " | - | - |"
    print(row)
print("\n%s steps x 2,048 tokens (micro-batch 4 x 128, 4 micro-batches per step), alpha %s, seed 1; held-out: 100 examples per family (levels 1-3, another seed)." % (steps, alpha))
EOF
