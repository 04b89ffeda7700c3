#!/bin/bash
# train_default.sh [OUT] - the recipe of the shipped default model (models/default), from a fresh
# clone after `make`: about 65 minutes of two otherwise idle cores (~6,000 tokens/s), longer on a
# busy machine. Resumable: after a stop, run the same command again (each stage continues from its
# last checkpoint; finished stages are skipped).
#
#   1. pre-training (loss on every token) on 210,001 synthetic Qwen3 chats, half thinking (the worked
#      solution as reasoning) and half /no_think, levels 1-2 of add, sub, mul (1-digit multiplier),
#      sort, count: the generator's own phrasing only. Scheduled for 6000 steps (cosine), stopped at
#      step 4,556 (PRE_STOP; the shipped run stopped there for time, SFT's own schedule then anneals).
#   2. SFT with thinking-mode fusion (qwen3 train --mode sft: loss on the replies only) on 200,000
#      conversations of `qwen3 synth --format fusion`: varied phrasings; 35% thinking without a flag,
#      15% /think, 35% /no_think, 15% two turns following the last flag.
#   3. nt1: SFT on a non-thinking-heavy mix (every /no_think conversation of 400,000 fusion ones and
#      half as many of the rest), 600 steps at 1e-3: sorting and counting answered directly improve.
#   4. nt2: SFT on direct answers to additions and subtractions (every non-thinking conversation of
#      700,000 of those two families, and a third as many of the usual mix), 3,600 steps = 7.4 M
#      tokens at 1e-3: the model learns to add and subtract without thinking (0.1 -> 0.8 right).
#   5. refresh: 600 steps of the usual fusion mix (fresh data) at 5e-4, because nt2's mix holds
#      few unflagged thinking questions against its many two-turn conversations whose last,
#      unflagged turn answers directly (the /no_think of the turn before holds): after nt2 the
#      model skipped thinking on a third of unflagged questions; after this, on none.
#   6. qwen3 pack: the compact form for the repository (OUT/compact; copy it to models/default, then
#      regenerate the regression answers: tests/suite/default_model.sh --regen).
# Stages 3-5 were added 2026-12-04 (they ran on the model that stages 1-2 had shipped); about 20
# minutes of two idle cores (~7,000 tokens/s).
# Every stage runs with -t 2 under nice -n -5 (as the shipped run did; needs root, else drop it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/train-default}
Q=${QWEN3:-./qwen3}
NICE=(nice -n -5)
[ "$(id -u)" = 0 ] || NICE=()
mkdir -p "$OUT"
cat >"$OUT/config.json" <<'JSON'
{"model_type":"qwen3","vocab_size":151936,"hidden_size":192,"intermediate_size":576,"num_hidden_layers":4,"num_attention_heads":3,"num_key_value_heads":1,"head_dim":64,"rms_norm_eps":1e-6,"rope_theta":1000000.0,"max_position_embeddings":40960,"tie_word_embeddings":true,"bos_token_id":151643,"eos_token_id":151645}
JSON

. tools/train_lib.sh

pretrain_data
stage pre --config "$OUT/config.json" --data "$OUT/pre.jsonl" --steps 6000 --stop-after "${PRE_STOP:-4556}" --warmup 100 --lr 3e-3

sft_data
stage sft --init "$OUT/pre" --mode sft --data "$OUT/sft.jsonl" --steps 2400 --warmup 50 --lr 2e-3

nt_data
stage nt1 --init "$OUT/sft" --mode sft --data "$OUT/nt1.jsonl" --steps 600 --warmup 20 --lr 1e-3
stage nt2 --init "$OUT/nt1" --mode sft --data "$OUT/nt2.jsonl" --steps 3600 --warmup 20 --lr 1e-3
stage refresh --init "$OUT/nt2" --mode sft --data "$OUT/f51.jsonl" --steps 600 --warmup 20 --lr 5e-4

"$Q" pack "$OUT/refresh" "$OUT/compact"
echo "== the model: $OUT/refresh (Hugging Face directory); compact form: $OUT/compact (copy to models/default)"
