#!/bin/bash
# train_teacher.sh [OUT] - the teacher of the strong-to-weak distillation (issue 17): the same data and
# stages as tools/train_default.sh (pre-training on chat-mixed tasks, then SFT with thinking-mode
# fusion), on a model 3.7x the student's size: 8 layers, hidden 256, MLP 768, 4 query heads sharing
# 2 KV heads (6.3 M non-embedding parameters against the student's 1.72 M). Pre-training is scheduled
# for 5,000 steps (cosine) and stopped at step 3,000 (PRE_STOP; the SFT's own schedule then anneals,
# as the student's recipe does), SFT runs 1,600 steps (SFT_STEPS): 9.4 M tokens in all, about 45
# minutes at the 3,800 tokens/s of two idle AMD EPYC cores (`qwen3 bench --machine`: f32 FMA 459
# GFLOP/s); longer when the machine is shared. Resumable: run the same command again after a stop.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/train-teacher}
Q=${QWEN3:-./qwen3}
NICE=()
mkdir -p "$OUT"
cat >"$OUT/config.json" <<'JSON'
{"model_type":"qwen3","vocab_size":151936,"hidden_size":256,"intermediate_size":768,"num_hidden_layers":8,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":64,"rms_norm_eps":1e-6,"rope_theta":1000000.0,"max_position_embeddings":40960,"tie_word_embeddings":true,"bos_token_id":151643,"eos_token_id":151645}
JSON

. tools/train_lib.sh

pretrain_data
stage pre --config "$OUT/config.json" --data "$OUT/pre.jsonl" --steps 5000 --stop-after "${PRE_STOP:-3000}" --warmup 100 --lr 2e-3

sft_data
stage sft --init "$OUT/pre" --mode sft --data "$OUT/sft.jsonl" --steps "${SFT_STEPS:-1600}" --warmup 50 --lr 1.5e-3
echo "== the teacher: $OUT/sft (Hugging Face directory)"
