#!/bin/bash
# recipe.sh - tools/recipe.sh (issue 17's whole pipeline: teacher pre-training, SFT with fusion,
# GRPO, the teacher's non-thinking stages, student pre-training, SFT and its non-thinking stages, off-policy and on-policy
# distillation, pack) end to end on toy sizes
# through its environment overrides: one-layer hidden-32 models (teacher 2 layers), a few steps and
# one rollout batch per stage, 8-token completions; seconds.
#
#   recipe-until   UNTIL=teacher-sft stops after the teacher's SFT: its stages done, GRPO not begun;
#                  the teacher's pre-training ran as its three parts (to steps 1, 2, then 4), each
#                  resumed from the last, its loss log steps 1-4 once each
#   recipe-run     run again: the finished stages are skipped, the rest run; every stage directory
#                  holds its DONE file, an HF checkpoint and its log; the compact form is written;
#                  every stage's model is evaluated and the tables written (OUT/tables.md)
#   recipe-models  the teacher has the teacher's shape, the student the student's, and the engine
#                  runs the student
#   recipe-rerun   a third run starts no stage (every one "done already")
#   recipe-lock    while another process holds OUT/.lock (a recipe running on OUT), a second recipe
#                  refuses to start
#   recipe-keep    tools/recipe_keep.sh packs the finished teacher-sft (after UNTIL=teacher-sft); a
#                  recipe on a new OUT with STAGES_FROM takes it (byte for byte the same weights),
#                  skips the teacher's pre-training as not needed and runs GRPO from it
set -u
. "$(dirname "$0")/../lib.sh"
if san_build; then
    expect 1; echo "SKIP recipe: under the sanitizer build the recipe's C paths run in their own suites (train, train_sft, train_post, train_rl, eval); the release run of make test checks the pipeline (35 s here, and CI's 15 minutes are nearly spent)"; exit 0
fi
expect 6
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/recipe
rm -rf "$TMP"
mkdir -p "$TMP"
NAMES="recipe-until recipe-run recipe-models recipe-rerun recipe-lock recipe-keep"
if [ ! -x "$QWEN3" ]; then for n in $NAMES; do echo "FAIL $n: engine binary $QWEN3 not found (run make)"; done; exit 0; fi
if [ -z "${QWEN3_TOKENIZER:-}" ] || [ ! -f "$QWEN3_TOKENIZER/tokenizer.json" ]; then
    for n in $NAMES; do echo "SKIP $n: no Qwen3 tokenizer (\$QWEN3_TOKENIZER)"; done
    exit 0
fi
toy() { # toy LAYERS HIDDEN
    echo "{\"model_type\":\"qwen3\",\"vocab_size\":151936,\"hidden_size\":$2,\"intermediate_size\":64,\"num_hidden_layers\":$1,
 \"num_attention_heads\":2,\"num_key_value_heads\":1,\"head_dim\":16,\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,
 \"max_position_embeddings\":4096,\"tie_word_embeddings\":true,\"bos_token_id\":151643,\"eos_token_id\":151645}"
}
toy 2 48 >"$TMP/teacher.json"
toy 1 32 >"$TMP/student.json"
OUT=$TMP/run
recipe() {
    env QWEN3="$QWEN3" TEACHER_CONFIG="$TMP/teacher.json" STUDENT_CONFIG="$TMP/student.json" PRE_N=300 SPRE_N=300 SFT_N=200 \
        T_PRE_STEPS=4 T_SFT_STEPS=2 S_PRE_STEPS=4 S_PRE_STOP=3 S_SFT_STEPS=2 S_NT1_STEPS=1 S_NT2_STEPS=1 S_REF_STEPS=1 T_NT1_STEPS=1 T_NT2_STEPS=1 T_REF_STEPS=1 \
        NT_N1=300 NT_N2=200 NT_N3=100 TRAIN_ARGS="--batch 2 --seq 64" \
        GRPO_NO_SELECT=1 GRPO_POOL=4 GRPO_BATCHES=1 DIST_BATCHES=1 DIST_POOL=2 ONP_BATCHES=1 ONP_POOL=2 \
        POST_ARGS="--queries 2 --group 2 --max-tokens 8 --batch 2" THREADS=2 \
        EVAL_ARGS="--levels 1-1 --ood-levels none --families add -n 1 -k 2 --max-tokens 8 --budgets 0,4" "$@" "$ROOT/tools/recipe.sh" "${RUN_OUT:-$OUT}"
}
STAGES="teacher-pre teacher-sft teacher-grpo teacher-nt1 teacher-nt2 teacher-refresh student-pre student-sft student-nt1 student-nt2 student-refresh student-distill student-onpolicy"

if recipe UNTIL=teacher-sft >"$TMP/r1.out" 2>&1 && [ -f "$OUT/teacher-pre/DONE" ] && [ -f "$OUT/teacher-sft/DONE" ] &&
   [ ! -e "$OUT/teacher-grpo" ] && grep -q "stopping after teacher-sft" "$TMP/r1.out" &&
   [ "$(grep -c -E "== teacher-pre: qwen3 train .*--stop-after (1|2)|== teacher-pre: part to (1|2) done" "$TMP/r1.out")" = 4 ] &&
   [ "$(grep -c -E "== teacher-pre: qwen3 train .*--resume" "$TMP/r1.out")" = 2 ] &&
   [ "$(grep -o '"step":[0-9]*' "$OUT/teacher-pre/loss.jsonl" | tr '\n' ' ')" = '"step":1 "step":2 "step":3 "step":4 ' ]; then
    echo "PASS recipe-until (UNTIL=teacher-sft: the teacher's pre-training in 3 resumed parts and SFT done, GRPO not begun)"
else
    echo "FAIL recipe-until: $(tail -n 3 "$TMP/r1.out" | tr '\n' ' ')"
fi

QWEN3="$QWEN3" "$ROOT/tools/recipe_keep.sh" "$OUT" "$TMP/keep" >"$TMP/keep.out" 2>&1; keep_rc=$?

recipe >"$TMP/r2.out" 2>&1; rc=$?
bad=""
for s in $STAGES; do
    [ -f "$OUT/$s/DONE" ] && [ -f "$OUT/$s/model.safetensors" ] && [ -f "$OUT/$s/config.json" ] && [ -s "$OUT/$s.log" ] || bad="$bad $s"
done
if [ "$rc" = 0 ] && [ -z "$bad" ] && grep -q "== teacher-pre: done already" "$TMP/r2.out" && grep -q "== teacher-sft: done already" "$TMP/r2.out" &&
   [ -f "$OUT/compact/DONE" ] && [ -f "$OUT/compact/model.safetensors" ] && [ -f "$OUT/teacher-grpo/post.jsonl" ] &&
   [ "$(ls "$OUT"/eval/*.json | wc -l)" = 8 ] && [ "$(grep -c "^| " "$OUT/tables.md")" = 27 ]; then
    echo "PASS recipe-run (teacher stages skipped, GRPO and the teacher's three non-thinking stages, student pre-training, SFT and its three non-thinking stages, off- and on-policy distillation, pack and 8 evaluations run; each stage kept; tables.md)"
else
    echo "FAIL recipe-run: exit $rc; stages not complete:${bad:- none}; $(tail -n 3 "$TMP/r2.out" | tr '\n' ' ')"
fi

shape() { "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["num_hidden_layers"], c["hidden_size"])' "$1" 2>/dev/null; }
if [ "$(shape "$OUT/teacher-grpo/config.json")" = "2 48" ] && [ "$(shape "$OUT/student-onpolicy/config.json")" = "1 32" ] &&
   "$QWEN3" run "$OUT/student-onpolicy" --max-tokens 4 "What is 2 + 3?" >/dev/null 2>"$TMP/run.err"; then
    echo "PASS recipe-models (teacher 2 layers x 48, student 1 layer x 32; the student runs)"
else
    echo "FAIL recipe-models: teacher $(shape "$OUT/teacher-grpo/config.json"), student $(shape "$OUT/student-onpolicy/config.json"); $(tail -n 1 "$TMP/run.err" 2>/dev/null)"
fi

recipe >"$TMP/r3.out" 2>&1; rc=$?
if [ "$rc" = 0 ] && [ "$(grep -c "done already" "$TMP/r3.out")" = 13 ] && ! grep -q "qwen3 train\|== eval" "$TMP/r3.out"; then
    echo "PASS recipe-rerun (a finished recipe run again starts no stage)"
else
    echo "FAIL recipe-rerun: exit $rc; $(tail -n 3 "$TMP/r3.out" | tr '\n' ' ')"
fi

( flock -n 9 && sleep 3 ) 9>>"$OUT/.lock" &
holder=$!
sleep 0.5
recipe >"$TMP/r4.out" 2>&1; rc=$?
wait "$holder"
if [ "$rc" != 0 ] && grep -q "another run of the recipe holds" "$TMP/r4.out"; then
    echo "PASS recipe-lock (a second recipe on the same OUT refused: $(head -n 1 "$TMP/r4.out"))"
else
    echo "FAIL recipe-lock: exit $rc; $(tail -n 2 "$TMP/r4.out" | tr '\n' ' ')"
fi

RUN_OUT="$TMP/run2" recipe STAGES_FROM="$TMP/keep" UNTIL=teacher-grpo >"$TMP/r5.out" 2>&1; rc=$?
if [ "$keep_rc" = 0 ] && [ -f "$TMP/keep/teacher-sft/rows.json" ] && [ ! -e "$TMP/keep/teacher-pre" ] && [ -s "$TMP/keep/logs/teacher-pre.loss.jsonl" ] &&
   [ "$rc" = 0 ] && grep -q "== teacher-sft: taken from" "$TMP/r5.out" && grep -q "== teacher-pre: not needed" "$TMP/r5.out" &&
   cmp -s "$OUT/teacher-sft/model.safetensors" "$TMP/run2/teacher-sft/model.safetensors" &&
   [ -f "$TMP/run2/teacher-grpo/DONE" ] && [ ! -e "$TMP/run2/teacher-pre" ]; then
    echo "PASS recipe-keep (teacher-sft packed, taken by a new run byte for byte, pre-training skipped, GRPO run from it)"
else
    echo "FAIL recipe-keep: keep exit $keep_rc ($(tail -n 1 "$TMP/keep.out")); run exit $rc; $(tail -n 3 "$TMP/r5.out" | tr '\n' ' ')"
fi
