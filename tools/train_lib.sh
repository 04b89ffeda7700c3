# train_lib.sh - what tools/train_default.sh (the shipped student) and tools/train_teacher.sh (its
# distillation teacher) share: their data, made by the same commands and seeds, and the resumable
# stage runner. Sourced with OUT (the run's directory), Q (the qwen3 binary) and NICE (an array, a
# command prefix; may be empty) set.

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

# pretrain_data: OUT/pre.jsonl, 210,001 chats, half thinking and half /no_think, levels 1-2, the
# generator's phrasing; linear equations and 2-digit multipliers filtered out
pretrain_data() {
    [ -f "$OUT/pre.jsonl" ] && return
    "$Q" synth -n 280000 --levels 1-2 --format chat-mixed --seed 7 | grep -v "Solve for x" | grep -v -E '\* [0-9]{2}[?]' >"$OUT/pre.jsonl.tmp"
    mv "$OUT/pre.jsonl.tmp" "$OUT/pre.jsonl"
}

# sft_data: OUT/sft.jsonl, 200,000 conversations of the thinking-mode fusion mix
sft_data() {
    [ -f "$OUT/sft.jsonl" ] && return
    "$Q" synth --format fusion -n 200000 --levels 1-2 --families add,sub,mul:1,sort,count --seed 11 >"$OUT/sft.jsonl.tmp"
    mv "$OUT/sft.jsonl.tmp" "$OUT/sft.jsonl"
}
