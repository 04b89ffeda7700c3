# train_lib.sh - what tools/train_default.sh (the shipped student), tools/train_teacher.sh and
# tools/recipe.sh share: their data, made by the same commands and seeds, the recipe's model lines,
# and the resumable stage runner (recipe.sh has its own). Sourced with OUT (the run's directory), Q
# (the qwen3 binary) and NICE (an array, a command prefix; may be empty) set.

# The stages of tools/recipe.sh, one model line per word list in order (tools/recipe_keep.sh too)
RECIPE_LINES=("teacher-pre teacher-sft teacher-grpo teacher-nt1 teacher-nt2 teacher-refresh"
              "student-pre student-sft student-nt1 student-nt2 student-refresh student-distill student-onpolicy")

# stage NAME ARGS... - runs `qwen3 train ARGS --out OUT/NAME`, resuming from its checkpoint; a stage
# that finished (OUT/NAME/DONE) is skipped
stage() {
    local name=$1; shift
    if [ -f "$OUT/$name/DONE" ]; then echo "== $name: done already"; return; fi
    local resume=()
    [ -f "$OUT/$name/checkpoint/state.bin" ] && resume=(--resume "$OUT/$name")
    echo "== $name: qwen3 train $* ${resume[*]}"
    "${NICE[@]}" "$Q" train "$@" "${resume[@]}" --out "$OUT/$name" -t 2 --ckpt-minutes 3
    touch "$OUT/$name/DONE"
}

# chat_mixed N: N chats drawn, half thinking and half /no_think, levels 1-2, the generator's
# phrasing; linear equations and 2-digit multipliers filtered out (to stdout)
chat_mixed() {
    "$Q" synth -n "$1" --levels 1-2 --format chat-mixed --seed 7 | grep -v "Solve for x" | grep -v -E '\* [0-9]{2}[?]'
}

# pretrain_data: OUT/pre.jsonl, the 210,001 chats chat_mixed keeps of 280,000
pretrain_data() {
    [ -f "$OUT/pre.jsonl" ] && return
    chat_mixed 280000 >"$OUT/pre.jsonl.tmp"
    mv "$OUT/pre.jsonl.tmp" "$OUT/pre.jsonl"
}

# sft_data: OUT/sft.jsonl, 200,000 conversations of the thinking-mode fusion mix (SFT_N for toy runs)
sft_data() {
    [ -f "$OUT/sft.jsonl" ] && return
    "$Q" synth --format fusion -n "${SFT_N:-200000}" --levels 1-2 --families add,sub,mul:1,sort,count --seed 11 >"$OUT/sft.jsonl.tmp"
    mv "$OUT/sft.jsonl.tmp" "$OUT/sft.jsonl"
}

# nt_data: the data of the non-thinking stages (tools/train_default.sh 3-5), made as the shipped run
# made them: OUT/nt1.jsonl = every non-thinking conversation (empty reasoning in its last reply) of
# 400,000 fusion conversations (seed 31) and half as many of the others; OUT/nt2.jsonl = every
# non-thinking conversation of 700,000 of addition and subtraction alone (seed 41) and a third as
# many of the 400,000; OUT/f51.jsonl = 200,000 fusion conversations (seed 51), the usual mix.
# Python's random with fixed seeds shuffles (the same order on every CPython 3). NT_N1 / NT_N2 / NT_N3
# replace 400,000 / 700,000 / 200,000 for toy runs (tests/suite/recipe.sh).
nt_data() {
    [ -f "$OUT/f51.jsonl" ] && return
    "$Q" synth --format fusion -n "${NT_N1:-400000}" --levels 1-2 --families add,sub,mul:1,sort,count --seed 31 >"$OUT/f31.jsonl"
    "$Q" synth --format fusion -n "${NT_N2:-700000}" --levels 1-2 --families add,sub --seed 41 >"$OUT/as41.jsonl"
    /usr/bin/python3 - "$OUT" <<'PY'
import random, sys
out = sys.argv[1]
f31 = open(out + "/f31.jsonl").readlines()
random.seed(5)
nt = [l for l in f31 if '"reasoning_content":""' in l]
th = [l for l in f31 if '"reasoning_content":""' not in l]
random.shuffle(th)
mix = nt + th[:len(nt) // 2]
random.shuffle(mix)
open(out + "/nt1.jsonl", "w").writelines(mix)
random.seed(6)
nt = [l for l in open(out + "/as41.jsonl") if '"reasoning_content":""' in l]
rest = list(f31)
random.shuffle(rest)
mix = nt + rest[:len(nt) // 3]
random.shuffle(mix)
open(out + "/nt2.jsonl", "w").writelines(mix)
PY
    "$Q" synth --format fusion -n "${NT_N3:-200000}" --levels 1-2 --families add,sub,mul:1,sort,count --seed 51 >"$OUT/f51.jsonl.tmp"
    mv "$OUT/f51.jsonl.tmp" "$OUT/f51.jsonl"
}
