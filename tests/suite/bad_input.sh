#!/bin/bash
# bad_input.sh - broken model directories and bad requests must fail cleanly.
#
# tools/gen_bad_checkpoints.py writes one directory per fault (truncated or empty safetensors,
# overlapping / reversed / overflowing / past-the-end offsets, shape or dtype disagreeing with the
# byte count or with config.json, an absurd header length, a missing tensor, shard or index entry,
# config.json that is not JSON, has a wrong type, a zero, negative or huge size, or asks for what
# we do not support: another model_type, use_sliding_window, attention_bias, a rope type other than
# yarn), and their GGUF twins (gguf-*: truncated, bad magic / version / endianness, absurd counts
# and string lengths, overlapping / misaligned / past-the-end offsets, unknown or unsupported
# types, shapes that disagree with the metadata, missing or repeated keys and tensors, wrong
# architecture, split sets missing a part, the embedded tokenizer; TOKENIZE / RENDER in a case
# directory run `tokenize DIR hi` / `render` instead of `info`). For each, `$QWEN3 info DIR` must exit non-zero, below 128 (a signal - a crash, or an ASan
# abort in the SAN=1 build - is a failure), and print a message containing one of the lines of
# DIR/EXPECT (the file, tensor or field at fault). The ok-* directories are intact controls that
# must load: they prove the others fail for their own fault.
#
# Then, on a valid model: `$QWEN3 logits` with an id >= vocab_size and with a prompt longer than
# the context (--ctx N), and `$QWEN3 generate` with an id >= vocab_size, must fail the same clean way.
set -u
. "$(dirname "$0")/../lib.sh"
expect 119
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/bad_input
TIMEOUT=30
mkdir -p "$TMP"

if [ ! -x "$QWEN3" ]; then
    echo "FAIL bad_input: engine binary $QWEN3 not found (run make)"
    exit 0
fi
if ! "$PY" "$ROOT/tools/gen_bad_checkpoints.py" "$TMP/dirs" >"$TMP/gen.log" 2>&1; then
    echo "FAIL bad_input-gen: gen_bad_checkpoints.py: $(tail -n 1 "$TMP/gen.log")"
    exit 0
fi

# expect_fail CASE EXPECTFILE CMD...: the command must fail cleanly with an expected message
expect_fail() {
    local case=$1 expect=$2; shift 2
    timeout "$TIMEOUT" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$? msg
    msg=$(cat "$TMP/err" "$TMP/out" | tr '\n' ' ' | cut -c1-300)
    if [ $rc -eq 0 ]; then
        echo "FAIL $case: exited 0; expected an error containing '$(head -n 1 "$expect")'"
    elif [ $rc -eq 124 ]; then
        echo "FAIL $case: hung (killed after ${TIMEOUT}s)"
    elif [ $rc -ge 128 ]; then
        echo "FAIL $case: crashed (exit status $rc, signal $((rc - 128))): $msg"
    elif [ -z "$msg" ]; then
        echo "FAIL $case: exit status $rc with no message"
    else
        local want found=
        while IFS= read -r want; do
            [ -n "$want" ] && grep -qF -- "$want" "$TMP/err" "$TMP/out" && found=$want && break
        done <"$expect"
        if [ -n "$found" ]; then
            echo "PASS $case (exit $rc: $msg)"
        else
            echo "FAIL $case: message lacks '$(paste -sd'|' "$expect")': $msg"
        fi
    fi
}

for d in "$TMP"/dirs/*/; do
    d=${d%/}
    name=$(basename "$d")
    # GGUF tokenizer cases load the tokenizer (and the chat template for RENDER), not the weights
    cmd=(info "$d")
    [ -f "$d/TOKENIZE" ] && cmd=(tokenize "$d" hi)
    [ -f "$d/RENDER" ] && cmd=(render "$d" --jsonl)
    if [ -f "$d/OK" ]; then
        if timeout "$TIMEOUT" "$QWEN3" "${cmd[@]}" >"$TMP/out" 2>"$TMP/err" </dev/null; then
            echo "PASS bad-$name (control loads)"
        else
            echo "FAIL bad-$name: the intact control does not load (exit $?): $(head -c 300 "$TMP/err")"
        fi
    else
        if [ -f "$d/RENDER" ]; then
            printf '{"messages":[{"role":"user","content":"hi"}]}\n' >"$TMP/render.in"
            expect_fail "bad-$name" "$d/EXPECT" bash -c '"$0" render "$1" --jsonl <"$2"' "$QWEN3" "$d" "$TMP/render.in"
        else
            expect_fail "bad-$name" "$d/EXPECT" "$QWEN3" "${cmd[@]}"
        fi
    fi
done

# bad requests on a valid model (vocab 64)
GOOD="$TMP/dirs/ok-dense"
printf '64\nvocab\n' >"$TMP/expect.vocab"
expect_fail bad-logits-id-past-vocab "$TMP/expect.vocab" "$QWEN3" logits "$GOOD" --ids 1,2,64 -o "$TMP/l.f32"
expect_fail bad-logits-decode-id-past-vocab "$TMP/expect.vocab" "$QWEN3" logits "$GOOD" --ids 3,1000000 --decode -o "$TMP/l.f32"
expect_fail bad-generate-id-past-vocab "$TMP/expect.vocab" "$QWEN3" generate "$GOOD" --ids 5,70 -n 2
printf 'context\nctx\n' >"$TMP/expect.ctx"
expect_fail bad-logits-prompt-past-ctx "$TMP/expect.ctx" "$QWEN3" logits "$GOOD" --ids 1,2,3,4,5,6 --ctx 4 -o "$TMP/l.f32"
expect_fail bad-logits-decode-past-ctx "$TMP/expect.ctx" "$QWEN3" logits "$GOOD" --ids 1,2,3,4,5,6 --ctx 4 --decode -o "$TMP/l.f32"
expect_fail bad-generate-prompt-past-ctx "$TMP/expect.ctx" "$QWEN3" generate "$GOOD" --ids 1,2,3,4,5,6 --ctx 4 -n 2
printf 'ids\n' >"$TMP/expect.ids"
expect_fail bad-logits-negative-id "$TMP/expect.ids" "$QWEN3" logits "$GOOD" --ids 1,-2 -o "$TMP/l.f32"
expect_fail bad-logits-empty-ids "$TMP/expect.ids" "$QWEN3" logits "$GOOD" --ids "" -o "$TMP/l.f32"
exit 0
