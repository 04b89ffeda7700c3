#!/bin/bash
# recipe.sh [OUT] - issue 17's whole post-training pipeline from nothing, one command: a teacher
# clearly larger and longer-trained than the shipped student, GRPO on it and three SFT stages for
# direct answers, then the student (the shipped model's shape and its pre-training and SFT stages)
# distilled from it in both modes (off-policy, then on-policy), and the shipped stage packed. Every stage is a
# `qwen3 train` run in its own directory OUT/NAME (kept: an HF checkpoint, loss.jsonl or post.jsonl,
# the log OUT/NAME.log), resumable: after a stop, run the same command again; a stage continues from
# its last checkpoint (pre-training and SFT every 3 minutes, the post-training modes after every
# rollout batch, GRPO's query selection after every chunk of queries) and finished stages (their
# DONE file) are skipped. Stages:
#
#   teacher-pre   pre-training (loss on every token) of the teacher: 8 layers, hidden 256, MLP 768,
#                 4 query heads sharing 2 KV heads (6.3 M non-embedding parameters, 3.7x the student),
#                 on 420,001 chats of `qwen3 synth --format chat-mixed` (levels 1-2, the generator's
#                 phrasing, half thinking / half /no_think), 6,000 steps x 2,048 tokens = 12.3 M tokens
#                 (the student: 9.3 M; the old tools/train_teacher.sh teacher: 6.1 M)
#   teacher-sft   SFT with thinking-mode fusion (the cold start's worked solutions as thinking, /think,
#                 /no_think, two-turn conversations; varied phrasings), 2,400 steps = 4.9 M tokens
#                 (student 4.9 M, old teacher 3.3 M). The two teacher stages are 75 min of two idle
#                 cores at the ~3,800 tokens/s this shape trains at on a Zen 5 (~105 min at 2,700).
#                 Sized so that both fit one 3-hour working session: the machines this project runs
#                 on keep no files between sessions, so a stage that does not finish is lost.
#                 teacher-pre runs as three invocations of 2,000 steps (--stop-after, then --resume;
#                 OUT/teacher-pre/PART-2000 and PART-4000 mark the first two), each under an hour,
#                 and teacher-grpo as two: the query selection (--stop-after 0), then the batches.
#   teacher-grpo  GRPO on the teacher: query selection (the report's: the start model's pass rate over
#                 the group of 8 strictly between 0 and 1) until GRPO_POOL queries (3,995, the report's
#                 count) are found or GRPO_SELECT_MAX candidates were tried; then GRPO_BATCHES rollout
#                 batches of 8 queries x 8 completions, 2 AdamW steps each.
#   teacher-nt1, teacher-nt2, teacher-refresh  the student's three non-thinking SFT stages (the same
#                 data, nt_data, and flags) on the teacher after GRPO: without them the teacher
#                 answers directly worse (0.43) than the student it would teach (0.56); with them it
#                 is the stronger model in both modes (0.86 / 0.70; measured 2026-12-05).
#   student-pre   pre-training of the student, models/default's shape (4 layers, hidden 192, 3/1 heads,
#                 MLP 576), exactly the shipped model's pre-training (tools/train_default.sh).
#   student-sft, student-nt1, student-nt2, student-refresh  the shipped model's own SFT stages
#                 (tools/train_default.sh 2-5, the same flags and data): thinking-mode fusion, then
#                 three stages for direct answers; student-refresh is models/default. (Until
#                 2026-12-04 the student went from pre-training straight to distillation, the report's
#                 order for small models; it ended at 0.28 / 0.19 against the SFT line's 0.71 / 0.56:
#                 the teacher is nearly deterministic, so its distribution teaches little more than its
#                 samples, and SFT reads the same data at ~4x the tokens per second.)
#   student-distill  off-policy distillation from teacher-refresh in both modes (--think 2), wrong
#                 answers dropped, the student learns the teacher's full next-token distribution; 300
#                 batches of 32 at lr 5e-4.
#   student-onpolicy on-policy distillation in both modes: the student samples, the teacher scores
#                 every position (reverse KL); 100 batches of 32 at 1e-4. Measured 2026-12-05: as
#                 accurate as student-refresh with mode following intact, no better, and a worse
#                 showing on the demo's questions, so student-refresh stays the shipped model.
#                 (Distilled on thinking prompts only from teacher-grpo, the recipe until 2026-12-05,
#                 it followed /no_think less often; in both modes from teacher-grpo, its direct
#                 answers fell to that teacher's level.)
#   compact       qwen3 pack of SHIP (default student-refresh, the shipped stage): the form
#                 models/default holds.
#   eval          qwen3 eval of every stage's model on the README's question set (EVAL_ARGS), then
#                 the tables (tools/recipe_tables.py: OUT/tables.md).
#
# Environment: QWEN3 (the binary, default ./qwen3), NICE (a command prefix for every stage, e.g.
# "nice -n 19"), THREADS (2), and the sizes, for toy runs (tests/suite/recipe.sh): TEACHER_CONFIG /
# STUDENT_CONFIG (config.json files), PRE_N (chats the teacher's pre-training data is drawn from,
# 560,000), SPRE_N (280,000), SFT_N (200,000), T_PRE_STEPS (6,000), T_SFT_STEPS (2,400), S_PRE_STEPS
# (6,000) and S_PRE_STOP (4,556), S_SFT_STEPS (2,400), S_NT1_STEPS (600), S_NT2_STEPS (3,600),
# S_REF_STEPS (600), T_NT1_STEPS / T_NT2_STEPS / T_REF_STEPS (the teacher's: 600, 3,600, 600), NT_N1 / NT_N2 / NT_N3 (the non-thinking data, tools/train_lib.sh), GRPO_POOL (3,995), GRPO_SELECT_MAX (15,980), GRPO_BATCHES (100),
# DIST_BATCHES (300), ONP_BATCHES (100), TRAIN_ARGS (extra flags of the pre-training and SFT stages,
# e.g. "--batch 2 --seq 64"), POST_ARGS (extra flags of the post-training stages), EVAL_ARGS (the
# question set and samples of the evaluations), UNTIL (stop after the stage of that name),
# STAGES_FROM (a directory of finished stages in packed form, DIR/NAME as `qwen3 pack` writes it:
# each one found is unpacked into OUT/NAME and counts as done, and the stages before it in its
# model's line are skipped; how a run spans machines that keep no files: see tools/recipe_keep.sh).
set -euo pipefail
cd "${ROOT:-$(dirname "$0")/..}"
OUT=${1:-build/recipe}
Q=${QWEN3:-./qwen3}
. tools/train_lib.sh # the student's non-thinking data (nt_data); its stage() is replaced below
read -r -a NICE <<<"${NICE:-}"
read -r -a TRAIN_X <<<"${TRAIN_ARGS:-}"
read -r -a POST_X <<<"${POST_ARGS:-}"
THREADS=${THREADS:-2}
FAMILIES=add,sub,mul:1,sort,count   # the families and levels both models were trained on
mkdir -p "$OUT"
exec 9>>"$OUT/.lock" # one recipe at a time on OUT: a second one would write the same checkpoints
flock -n 9 || { echo "recipe: another run of the recipe holds $OUT/.lock (pid $(cat "$OUT/.pid" 2>/dev/null))" >&2; exit 1; }
echo $$ >"$OUT/.pid"

# The stages of each model in order (RECIPE_LINES): a stage is not needed when a later one of its
# line is done.
declare -A NEXT=()
for line in "${RECIPE_LINES[@]}"; do
    read -r -a st <<<"$line"
    for ((i = 0; i + 1 < ${#st[@]}; i++)); do NEXT[${st[i]}]=${st[i + 1]}; done
done
later_done() { # later_done NAME: a stage after NAME in its line has its DONE file
    local n=${NEXT[$1]:-}
    while [ -n "$n" ]; do [ -f "$OUT/$n/DONE" ] && return 0; n=${NEXT[$n]:-}; done
    return 1
}
# Finished stages carried in packed form (STAGES_FROM): unpacked before anything runs.
if [ -n "${STAGES_FROM:-}" ]; then
    for name in ${RECIPE_LINES[*]}; do
        [ -f "$OUT/$name/DONE" ] || [ ! -f "$STAGES_FROM/$name/rows.json" ] && continue
        rm -rf "$OUT/$name"
        "$Q" unpack "$STAGES_FROM/$name" "$OUT/$name" --tokenizer "${QWEN3_TOKENIZER:-../shared/qwen3-tokenizer}" >/dev/null ||
            { echo "recipe: cannot unpack $STAGES_FROM/$name" >&2; exit 1; }
        echo "$STAGES_FROM/$name" >"$OUT/$name/FROM"
        touch "$OUT/$name/DONE"
        echo "== $name: taken from $STAGES_FROM/$name (packed)"
    done
fi

# stage NAME ARGS...: qwen3 train ARGS --out OUT/NAME (log OUT/NAME.log), resumed from its checkpoint,
# skipped when OUT/NAME/DONE exists or a later stage of its line is done; stops the recipe after
# the stage named by UNTIL. A stage with stops in PARTS[NAME] runs as one invocation per part: the
# first with --stop-after STOP1 (then OUT/NAME/PART-STOP1), the next resumed to STOP2, ..., the last
# to the end, so that no invocation runs much over an hour on the machines this recipe was sized on.
declare -A PARTS=()
stage() {
    local name=$1; shift
    if [ -f "$OUT/$name/DONE" ]; then echo "== $name: done already"
    elif later_done "$name"; then echo "== $name: not needed (a later stage of its model is done)"; else
        local stop stops
        read -r -a stops <<<"${PARTS[$name]:-}"
        for stop in "${stops[@]}" end; do
            [ "$stop" != end ] && [ -f "$OUT/$name/PART-$stop" ] && continue
            local resume=() until=()
            [ -f "$OUT/$name/checkpoint/state.bin" ] && resume=(--resume "$OUT/$name")
            [ "$stop" != end ] && until=(--stop-after "$stop")
            echo "== $name: qwen3 train $* ${until[*]} ${resume[*]} ($(date -u +%FT%TZ))"
            "${NICE[@]}" "$Q" train "$@" "${until[@]}" "${resume[@]}" --out "$OUT/$name" -t "$THREADS" >>"$OUT/$name.log" 2>&1 ||
                { echo "recipe: stage $name failed (see $OUT/$name.log)" >&2; exit 1; }
            if [ "$stop" != end ]; then touch "$OUT/$name/PART-$stop"; echo "== $name: part to $stop done ($(date -u +%FT%TZ))"
                if [ "${UNTIL:-}" = "$name:$stop" ]; then echo "== stopping after $name:$stop (UNTIL)"; exit 0; fi; fi
        done
        touch "$OUT/$name/DONE"
        echo "== $name: done ($(date -u +%FT%TZ))"
    fi
    if [ "${UNTIL:-}" = "$name" ]; then echo "== stopping after $name (UNTIL)"; exit 0; fi
}
# data FILE CMD...: OUT/FILE from the command's output, once
data() {
    local f=$1; shift
    [ -f "$OUT/$f" ] && return
    "$@" >"$OUT/$f.tmp"
    mv "$OUT/$f.tmp" "$OUT/$f"
}

if [ -n "${TEACHER_CONFIG:-}" ]; then cp "$TEACHER_CONFIG" "$OUT/teacher-config.json"; else cat >"$OUT/teacher-config.json" <<'JSON'
{"model_type":"qwen3","vocab_size":151936,"hidden_size":256,"intermediate_size":768,"num_hidden_layers":8,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":64,"rms_norm_eps":1e-6,"rope_theta":1000000.0,"max_position_embeddings":40960,"tie_word_embeddings":true,"bos_token_id":151643,"eos_token_id":151645}
JSON
fi
if [ -n "${STUDENT_CONFIG:-}" ]; then cp "$STUDENT_CONFIG" "$OUT/student-config.json"; else cat >"$OUT/student-config.json" <<'JSON'
{"model_type":"qwen3","vocab_size":151936,"hidden_size":192,"intermediate_size":576,"num_hidden_layers":4,"num_attention_heads":3,"num_key_value_heads":1,"head_dim":64,"rms_norm_eps":1e-6,"rope_theta":1000000.0,"max_position_embeddings":40960,"tie_word_embeddings":true,"bos_token_id":151643,"eos_token_id":151645}
JSON
fi

# ---- the teacher
data tpre.jsonl chat_mixed "${PRE_N:-560000}"
T_PRE_STEPS=${T_PRE_STEPS:-6000}
PARTS[teacher-pre]="$((T_PRE_STEPS / 3)) $((2 * T_PRE_STEPS / 3))" # 3 parts: ~27 min each on an idle Zen 4
stage teacher-pre --config "$OUT/teacher-config.json" --data "$OUT/tpre.jsonl" --steps "$T_PRE_STEPS" --warmup 100 --lr 2e-3 --ckpt-minutes 3 "${TRAIN_X[@]}"
sft_data # tools/train_lib.sh: the shipped student's SFT data, for the teacher and the student
stage teacher-sft --init "$OUT/teacher-pre" --mode sft --data "$OUT/sft.jsonl" --steps "${T_SFT_STEPS:-2400}" --warmup 50 --lr 1.5e-3 --ckpt-minutes 3 "${TRAIN_X[@]}"
GRPO_SEL=(--pool "${GRPO_POOL:-3995}" --select-max "${GRPO_SELECT_MAX:-15980}")
[ "${GRPO_NO_SELECT:-0}" = 1 ] && GRPO_SEL=(--pool "${GRPO_POOL:-3995}" --no-select)
PARTS[teacher-grpo]="0" # the query selection alone (--stop-after 0), then the rollout batches
stage teacher-grpo --mode grpo --init "$OUT/teacher-sft" --batches "${GRPO_BATCHES:-100}" --queries 8 --group 8 --inner-steps 2 \
    "${GRPO_SEL[@]}" --families "$FAMILIES" --levels 1-2 --phrasing varied --lr 5e-5 --seed 17 "${POST_X[@]}"
# the student's three non-thinking SFT stages (the same data and flags) on the teacher
later_done teacher-nt2 && later_done student-nt2 || nt_data # tools/train_lib.sh (NT_N1..3 size it for toy runs)
stage teacher-nt1 --init "$OUT/teacher-grpo" --mode sft --data "$OUT/nt1.jsonl" --steps "${T_NT1_STEPS:-600}" --warmup 20 --lr 1e-3 --ckpt-minutes 3 "${TRAIN_X[@]}"
stage teacher-nt2 --init "$OUT/teacher-nt1" --mode sft --data "$OUT/nt2.jsonl" --steps "${T_NT2_STEPS:-3600}" --warmup 20 --lr 1e-3 --ckpt-minutes 3 "${TRAIN_X[@]}"
stage teacher-refresh --init "$OUT/teacher-nt2" --mode sft --data "$OUT/f51.jsonl" --steps "${T_REF_STEPS:-600}" --warmup 20 --lr 5e-4 --ckpt-minutes 3 "${TRAIN_X[@]}"

# ---- the student
data spre.jsonl chat_mixed "${SPRE_N:-280000}"
stage student-pre --config "$OUT/student-config.json" --data "$OUT/spre.jsonl" --steps "${S_PRE_STEPS:-6000}" --stop-after "${S_PRE_STOP:-4556}" --warmup 100 --lr 3e-3 --ckpt-minutes 3 "${TRAIN_X[@]}"
# the shipped model's own stages (tools/train_default.sh 2-5, the same flags and data): SFT with
# thinking-mode fusion, then the three non-thinking stages; student-refresh is models/default
stage student-sft --init "$OUT/student-pre" --mode sft --data "$OUT/sft.jsonl" --steps "${S_SFT_STEPS:-2400}" --warmup 50 --lr 2e-3 --ckpt-minutes 3 "${TRAIN_X[@]}"
stage student-nt1 --init "$OUT/student-sft" --mode sft --data "$OUT/nt1.jsonl" --steps "${S_NT1_STEPS:-600}" --warmup 20 --lr 1e-3 --ckpt-minutes 3 "${TRAIN_X[@]}"
stage student-nt2 --init "$OUT/student-nt1" --mode sft --data "$OUT/nt2.jsonl" --steps "${S_NT2_STEPS:-3600}" --warmup 20 --lr 1e-3 --ckpt-minutes 3 "${TRAIN_X[@]}"
stage student-refresh --init "$OUT/student-nt2" --mode sft --data "$OUT/f51.jsonl" --steps "${S_REF_STEPS:-600}" --warmup 20 --lr 5e-4 --ckpt-minutes 3 "${TRAIN_X[@]}"
# strong-to-weak distillation of that student from the teacher, off-policy and then on-policy, in
# both modes (--think 2): the teacher after its non-thinking stages is the stronger model thinking
# and not (0.86 / 0.70 against the student's 0.71 / 0.56)
stage student-distill --mode distill --teacher "$OUT/teacher-refresh" --init "$OUT/student-refresh" --batches "${DIST_BATCHES:-300}" --queries 32 \
    --pool "${DIST_POOL:-19200}" --families "$FAMILIES" --levels 1-2 --phrasing varied --think 2 --lr 5e-4 --warmup 20 --min-lr-frac 0.1 --seed 29 "${POST_X[@]}"
stage student-onpolicy --mode distill --on-policy --teacher "$OUT/teacher-refresh" --init "$OUT/student-distill" --batches "${ONP_BATCHES:-100}" \
    --queries 32 --pool "${ONP_POOL:-3200}" --families "$FAMILIES" --levels 1-2 --phrasing varied --think 2 --lr 1e-4 --seed 23 "${POST_X[@]}"

SHIP=${SHIP:-student-refresh}
[ -f "$OUT/compact/DONE" ] || { "$Q" pack "$OUT/$SHIP" "$OUT/compact" && touch "$OUT/compact/DONE"; }

# ---- the evaluations: every stage's model on one question set (the README's: levels 1-2 in
# distribution, level 3 out of it, 10 questions per family and level, greedy and 4 samples, both
# modes, the thinking budgets), OUT/eval/NAME.json and NAME.png; then the tables
read -r -a EVAL <<<"${EVAL_ARGS:---levels 1-2 --ood-levels 3-3 --families add,sub,mul,sort,count -n 10 -k 4 --budgets 0,16,32,64,128,256}"
mkdir -p "$OUT/eval"
for name in teacher-sft teacher-grpo teacher-refresh student-pre student-sft student-refresh student-distill student-onpolicy; do
    [ -s "$OUT/eval/$name.json" ] && continue
    echo "== eval $name ($(date -u +%FT%TZ))"
    "${NICE[@]}" "$Q" eval "$OUT/$name" "${EVAL[@]}" --png "$OUT/eval/$name.png" --json -q -t "$THREADS" >"$OUT/eval/$name.json.tmp" 2>"$OUT/eval/$name.log" ||
        { echo "recipe: eval of $name failed (see $OUT/eval/$name.log)" >&2; exit 1; }
    mv "$OUT/eval/$name.json.tmp" "$OUT/eval/$name.json"
done
/usr/bin/python3 tools/recipe_tables.py "$OUT" | tee "$OUT/tables.md"
echo "== the teacher: $OUT/teacher-refresh; the distilled student: $OUT/student-onpolicy; shipped: $OUT/$SHIP (compact form: $OUT/compact)"
