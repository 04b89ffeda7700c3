#!/bin/bash
# gen_cli.sh - `qwen3 run`, `qwen3 chat` and `qwen3 generate` around the generation layer:
#   chat_second_turn_*  a second chat turn prefills only the tokens that are new: the cached count is
#                       exactly the common prefix of the two rendered prompts' ids (computed here
#                       with `qwen3 render` + `qwen3 tokenize`), in thinking and non-thinking mode
#   stop_*              stop strings: cut before the first occurrence, across tokens, never emitted,
#                       held-back text released when the stream ends without one
#   max_tokens          -n N: exactly N tokens, finish_reason length
#   seed_*              same seed, same tokens; another seed, other tokens (sampling at T=1)
#   bad_*               unknown flag, negative budget, prompt longer than the context, missing
#                       question: non-zero exit and nothing on stdout
#   generate_prompt     generate --prompt streams text; --ids prints ids; both the same tokens
#   batch_*             several --ids: `generate` steps the generations together (a line each) and
#                       `logits` computes the sequences in shared passes (rows one sequence after the
#                       other, with --decode the k-th giving k tokens per pass): each the same as
#                       the sequence alone (the batch-invariant paths: README "Determinism"); the
#                       MPI equality tests (mpi.sh, mpi_tp.sh) use these forms for batched sequences
set -u
. "$(dirname "$0")/../lib.sh"
expect 20
TMP="$QWEN3_TMP/gen_cli"
mkdir -p "$TMP"
M="$QWEN3_TMP/gen_thinker"   # shared by the gen_* suites (written once)
R="$TMP/random"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 --thinker -q \
        || { echo "FAIL gen_cli: gen_checkpoint.py --thinker failed"; exit 0; }
fi
if [ ! -f "$R/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$R" --preset tiny --vocab 151936 --seed 3 -q \
        || { echo "FAIL gen_cli: gen_checkpoint.py failed"; exit 0; }
fi

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# jq-like: j FILE EXPR -> prints the Python expression's value over the JSON in FILE
j() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# ---- chat: the second turn re-uses the cache ----
# prompt_ids MESSAGES-JSON ENABLE_THINKING -> comma-separated ids of the rendered prompt
prompt_ids() {
    printf '{"messages": %s, "add_generation_prompt": true, "enable_thinking": %s}\n' "$1" "$2" \
        | "$QWEN3" render "$M" --jsonl \
        | "$PY" -c 'import json,sys; print(json.dumps({"text": json.loads(sys.stdin.read())["prompt"]}))' \
        | "$QWEN3" tokenize "$M" --jsonl | "$PY" -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))'
}

chat_case() {
    local name=$1 think=$2; shift 2
    printf 'What is 2+2?\nAnd 3+3?\n' | "$QWEN3" chat "$M" --temp 0 --verbose "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    local rc=$?
    [ $rc -eq 0 ] || { fail "$name" "qwen3 chat exited with $rc: $(tail -n 1 "$TMP/$name.err")"; return; }
    mapfile -t stats < <(grep '^prompt: ' "$TMP/$name.err")
    [ ${#stats[@]} -eq 2 ] || { fail "$name" "expected 2 stats lines, got: $(cat "$TMP/$name.err")"; return; }
    # the assistant message as the chat kept it: the first answer's content, from --json of run
    "$QWEN3" run "$M" "What is 2+2?" --temp 0 --json "$@" >"$TMP/$name.t1.json" 2>/dev/null \
        || { fail "$name" "qwen3 run failed"; return; }
    local content reasoning
    content=$(j "$TMP/$name.t1.json" 'json.dumps(j["content"])')
    reasoning=$(j "$TMP/$name.t1.json" 'json.dumps(j["reasoning_content"])')
    local p1 p2
    p1=$(prompt_ids '[{"role": "user", "content": "What is 2+2?"}]' "$think")
    p2=$(prompt_ids "[{\"role\": \"user\", \"content\": \"What is 2+2?\"}, {\"role\": \"assistant\", \"content\": $content, \"reasoning_content\": $reasoning}, {\"role\": \"user\", \"content\": \"And 3+3?\"}]" "$think")
    checked "$name" "$PY" - "$p1" "$p2" "${stats[0]}" "${stats[1]}" "$name" <<'EOF'
import re, sys
p1 = sys.argv[1].split(","); p2 = sys.argv[2].split(",")
s1, s2, name = sys.argv[3], sys.argv[4], sys.argv[5]
common = 0
while common < min(len(p1), len(p2)) and p1[common] == p2[common]:
    common += 1
def parse(s):
    m = re.match(r"prompt: (\d+) tokens \((\d+) cached, (\d+) prefilled", s)
    return tuple(map(int, m.groups()))
n1, c1, f1 = parse(s1)
n2, c2, f2 = parse(s2)
want = (len(p1), 0, len(p1), len(p2), common, len(p2) - common)
got = (n1, c1, f1, n2, c2, f2)
if got == want and c2 > 0:
    print("PASS %s (turn 2: %d tokens, %d re-used, %d prefilled)" % (name, n2, c2, f2))
else:
    print("FAIL %s: (n1, cached1, prefilled1, n2, cached2, prefilled2) = %s, expected %s" % (name, got, want))
EOF
}
chat_case chat_second_turn_thinking true -n 12 --think-budget 3
chat_case chat_second_turn_nonthinking false -n 6 --no-think

# chat commands: /no_think switches the template, /reset forgets, nothing else reaches the model
printf '/no_think\nHi\n/reset\n/budget 2\n/think\nHi\n/exit\nnever read\n' \
    | "$QWEN3" chat "$M" --temp 0 -n 20 --verbose >"$TMP/cmds.out" 2>"$TMP/cmds.err"
if grep -q '^non-thinking mode' "$TMP/cmds.out" && grep -q 'conversation cleared' "$TMP/cmds.out" \
    && grep -q 'thinking budget: 2 tokens' "$TMP/cmds.out" && [ "$(grep -c '^prompt: ' "$TMP/cmds.err")" = 2 ] \
    && grep -q '2 thinking, budget hit' "$TMP/cmds.err" && grep -q '(0 thinking)' "$TMP/cmds.err"; then
    pass chat_commands
else
    fail chat_commands "$(cat "$TMP/cmds.out" "$TMP/cmds.err" | head -20)"
fi

# ---- stop strings and max tokens (non-thinking: the content is " hmm hmm hmm ...") ----
run_json() { "$QWEN3" run "$M" "Hello" --temp 0 --no-think --json "$@" 2>"$TMP/err"; }
run_json --stop "m h" -n 20 >"$TMP/stop1.json"
[ "$(j "$TMP/stop1.json" 'repr((j["content"], j["finish_reason"], j["completion_tokens"]))')" = "(' hm', 'stop', 2)" ] \
    && pass stop_across_tokens || fail stop_across_tokens "$(cat "$TMP/stop1.json")"
run_json --stop "zzz" --stop "hmm hmm hmm" -n 20 >"$TMP/stop2.json"
[ "$(j "$TMP/stop2.json" 'repr((j["content"], j["finish_reason"]))')" = "(' ', 'stop')" ] \
    && pass stop_first_of_several || fail stop_first_of_several "$(cat "$TMP/stop2.json")"
run_json --stop "hmm!" -n 5 >"$TMP/stop3.json"
[ "$(j "$TMP/stop3.json" 'repr((j["content"], j["finish_reason"]))')" = "(' hmm hmm hmm hmm hmm', 'length')" ] \
    && pass stop_held_text_released || fail stop_held_text_released "$(cat "$TMP/stop3.json")"
run_json -n 7 >"$TMP/max.json"
[ "$(j "$TMP/max.json" 'repr((j["completion_tokens"], len(j["ids"]), j["finish_reason"]))')" = "(7, 7, 'length')" ] \
    && pass max_tokens || fail max_tokens "$(cat "$TMP/max.json")"

# ---- seeds (a random-weight model: its distributions are wide) ----
seeded() { "$QWEN3" run "$R" "Tell me a story" --no-think --temp 1 --top-k 0 --top-p 1 -n 24 --json --seed "$1" 2>/dev/null \
    | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ids"])'; }
a=$(seeded 42); b=$(seeded 42); c=$(seeded 43)
[ -n "$a" ] && [ "$a" = "$b" ] && pass seed_same_tokens || fail seed_same_tokens "$a vs $b"
[ -n "$a" ] && [ "$a" != "$c" ] && pass seed_other_tokens || fail seed_other_tokens "seeds 42 and 43 both gave $a"

# ---- bad input: non-zero exit, nothing on stdout ----
bad() {
    local name=$1; shift
    "$QWEN3" "$@" >"$TMP/bad.out" 2>"$TMP/bad.err" </dev/null
    local rc=$?
    if [ $rc -ne 0 ] && [ ! -s "$TMP/bad.out" ] && [ -s "$TMP/bad.err" ]; then pass "$name"
    else fail "$name" "status $rc, stdout '$(head -c 200 "$TMP/bad.out")', stderr '$(head -c 200 "$TMP/bad.err")'"; fi
}
bad bad_unknown_flag run "$M" "Hi" --frobnicate
bad bad_negative_budget run "$M" "Hi" --think-budget -3
bad bad_prompt_longer_than_context run "$M" "$(printf 'word %.0s' $(seq 1 50))" --ctx 16
bad bad_missing_question run "$M"
bad bad_top_p run "$M" "Hi" --top-p 1.5
bad bad_chat_flag chat "$M" --nope
bad bad_generate_both generate "$M" --ids 1,2 --prompt "x"
grep -q 'more than the context of 16' "$TMP/bad.err" 2>/dev/null || true
"$QWEN3" run "$M" "$(printf 'word %.0s' $(seq 1 50))" --ctx 16 2>&1 >/dev/null | grep -q 'more than the context of 16 tokens' \
    && pass bad_context_message || fail bad_context_message "the error does not name the context"

# ---- generate: --prompt streams text, --ids prints ids, same tokens ----
P=$'<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n'
t=$("$QWEN3" generate "$M" --prompt "$P" -n 4 2>&1)
ids=$("$QWEN3" tokenize "$M" "$P")
i=$("$QWEN3" generate "$M" --ids "$ids" -n 4 2>&1)
[ "$t" = "<think> hmm hmm hmm" ] && [ "$i" = "151667 87501 87501 87501" ] && pass generate_prompt \
    || fail generate_prompt "text '$t', ids '$i'"

# ---- several sequences in one command: the same as each alone ----
A=5,77,300,9,1200,3,8,2047,16,400,22; B=9,1,4; C=700,1701,33,402,1999,64,5
alone=""
for x in $A $B $C; do alone="$alone$("$QWEN3" generate "$R" --ids "$x" -n 12 --presence-penalty 1.5 -t 1)"$'\n'; done
together=$("$QWEN3" generate "$R" --ids $A --ids $B --ids $C -n 12 --presence-penalty 1.5 -t 1)$'\n'
[ "$(printf '%s' "$together" | wc -l)" = 3 ] && [ "$together" = "$alone" ] && pass batch_generate \
    || fail batch_generate "together: ${together:0:120} | alone: ${alone:0:120}"
for x in A B C; do "$QWEN3" logits "$R" --ids "${!x}" -o "$TMP/l$x.bin" -t 1 || true; done
cat "$TMP/lA.bin" "$TMP/lB.bin" "$TMP/lC.bin" >"$TMP/l_alone.bin"
"$QWEN3" logits "$R" --ids $A --ids $B --ids $C -o "$TMP/l_pre.bin" -t 1 \
    && "$QWEN3" logits "$R" --ids $A --ids $B --ids $C -o "$TMP/l_dec.bin" --decode -t 1 \
    && [ -s "$TMP/l_alone.bin" ] && cmp -s "$TMP/l_alone.bin" "$TMP/l_pre.bin" && cmp -s "$TMP/l_alone.bin" "$TMP/l_dec.bin" \
    && pass "batch_logits ($(($(stat -c %s "$TMP/l_alone.bin") / 4)) logits bit for bit, prefill and decode)" \
    || fail batch_logits "the logits of three sequences together differ from each alone"
exit 0
