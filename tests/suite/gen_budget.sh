#!/bin/bash
# gen_budget.sh - the thinking budget end to end, with `qwen3 run --json` on the --thinker
# checkpoint of tools/gen_checkpoint.py (greedy decoding after "\n" opens <think>, then emits " hmm"
# (87501) for ever, never </think> nor <|im_end|>; see its header).
#   budget N      the ids are <think>, exactly N x " hmm", the stop text's tokens in order (as
#                 `qwen3 tokenize` gives them), then the answer continues (" hmm" again, as content)
#   grace G       the thought may run G more tokens looking for a newline (" hmm" has none): N + G
#   budget 0      non-thinking prompt, no thinking; and with --raw (the model opens <think> itself)
#                 the empty closing "\n\n</think>\n\n" is forced at once
#   large budget  a budget the thinking never reaches (-n smaller): no cut, all tokens are thinking
#   Thinking-2507 a prompt that opens <think> itself (--template qwen3-thinking-2507) counts too
#   reopen        (--thinker-opens 198,271) a block opened after the budget is spent is closed at
#                 once: one stop text, content free of think tags and of the stop text
#   nested        (--thinker-opens all) <think> generated inside a block counts toward the budget
set -u
. "$(dirname "$0")/../lib.sh"
expect 16
TMP="$QWEN3_TMP/gen_budget"
mkdir -p "$TMP"
shared_thinker gen_budget || exit 0   # sets M: the tiny thinker the eval and gen_* suites share

# the stop text's ids, from the tokenizer (the shell would strip its trailing newlines)
STOP_IDS=$(printf '%s\n' '{"text": "\n\nConsidering the limited time by the user, I have to give the solution based on the thinking directly now.\n</think>\n\n"}' \
    | "$QWEN3" tokenize "$M" --jsonl | "$PY" -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
[ -n "$STOP_IDS" ] || { echo "FAIL gen_budget: cannot tokenize the stop text"; exit 0; }

# check NAME PYTHON-EXPR -- qwen3 run args: runs, then evaluates the expression with j = the JSON
# object, ids = j["ids"], stop = the stop text's ids; prints PASS or FAIL with the JSON's summary
check() {
    local name=$1 expr=$2; shift 3
    if ! "$QWEN3" run "$M" "$@" --json >"$TMP/$name.json" 2>"$TMP/$name.err"; then
        echo "FAIL $name: qwen3 run $* exited with status $?: $(tail -n 1 "$TMP/$name.err")"
        return
    fi
    checked "$name" "$PY" - "$TMP/$name.json" "$STOP_IDS" "$name" "$expr" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
ids = j["ids"]
stop = [int(x) for x in sys.argv[2].split(",")]
name, expr = sys.argv[3], sys.argv[4]
THINK, END, HMM = 151667, 151668, 87501
def sub(a, b):  # occurrences of the list b in the list a
    return sum(1 for i in range(len(a) - len(b) + 1) if a[i:i + len(b)] == b)
ok = eval(expr)
summary = dict((k, j[k]) for k in ("thinking_tokens", "budget_hit", "completion_tokens", "answer_tokens", "finish_reason"))
if ok:
    print("PASS %s" % name)
else:
    print("FAIL %s: %s is false; got %s, ids %s" % (name, expr, summary, ids))
EOF
}

for N in 1 7 40; do
    check "budget_$N" "ids[0] == THINK and ids[1:1+$N] == [HMM]*$N and ids[1+$N:1+$N+len(stop)] == stop \
and ids[1+$N+len(stop)] == HMM and j['thinking_tokens'] == $N and j['budget_hit'] \
and j['content'].startswith(' hmm') and j['reasoning_content'].startswith(' hmm') \
and 'Considering the limited time' in j['reasoning_content'] and j['completion_tokens'] == 80 \
and j['finish_reason'] == 'length'" -- "Hello" --temp 0 --think-budget $N -n 80
done

check budget_grace "j['thinking_tokens'] == 8 and ids[1:9] == [HMM]*8 and ids[9:9+len(stop)] == stop and j['budget_hit']" \
    -- "Hello" --temp 0 --think-budget 5 --think-grace 3 -n 60

check budget_0_nonthinking "j['thinking_tokens'] == 0 and THINK not in ids and j['reasoning_content'] == '' \
and j['content'].startswith(' hmm') and not j['budget_hit']" -- "Hello" --temp 0 --think-budget 0 -n 10

# --raw: the prompt ends in "\n", so the model opens <think> itself; budget 0 closes it at once
check budget_0_forced "ids[:4] == [THINK, 271, END, 271] and ids[4] == HMM and j['thinking_tokens'] == 0 \
and j['budget_hit'] and j['completion_tokens'] == 12" -- $'Hello\n' --raw --temp 0 --think-budget 0 -n 12

check budget_larger_than_thinking "not j['budget_hit'] and j['thinking_tokens'] == 29 and END not in ids \
and j['completion_tokens'] == 30 and j['finish_reason'] == 'length' and j['answer_tokens'] == 0 and j['content'] == ''" \
    -- "Hello" --temp 0 --think-budget 1000 -n 30

check no_budget "not j['budget_hit'] and j['thinking_tokens'] == 49 and ids == [THINK] + [HMM]*49" -- "Hello" --temp 0 -n 50

# forced tokens count toward max_tokens: the cut at 3 leaves room for only part of the stop text
check budget_forced_count_toward_max "j['completion_tokens'] == 10 and ids == [THINK] + [HMM]*3 + stop[:6] \
and j['finish_reason'] == 'length'" -- "Hello" --temp 0 --think-budget 3 -n 10

# Thinking-2507 format: the prompt itself opens <think>, so counting starts with the first token
# (this checkpoint answers the prompt's final "\n" with another <think>: generated inside the block,
# so it counts like any other token)
check budget_prompt_opens_think "ids[:4] == [THINK] + [HMM]*3 and ids[4:4+len(stop)] == stop and j['thinking_tokens'] == 4" \
    -- "Hello" --template qwen3-thinking-2507 --temp 0 --think-budget 4 -n 40
check budget_0_prompt_opens_think "ids[:3] == [271, END, 271] and j['thinking_tokens'] == 0 and j['budget_hit']" \
    -- "Hello" --template qwen3-thinking-2507 --temp 0 --think-budget 0 -n 8

# A model that opens <think> again after the budget was spent (--thinker-opens 198,271: it reopens
# after "\n\n", which ends the stop text): the new block is closed at once with the empty closing,
# the stop text is forced once only, and content never holds think tags or the stop text.
# (ids.count(END) == 1 + reopens; sub(stop) counts occurrences of the stop text's ids.)
M="$QWEN3_TMP/gen_thinker_reopen"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 --thinker --thinker-opens 198,271 -q \
        || { echo "FAIL gen_budget: gen_checkpoint.py --thinker-opens 198,271 failed"; exit 0; }
fi
CLEAN="'<think>' not in j['content'] and '</think>' not in j['content'] and 'Considering the limited' not in j['content']"
for tpl in qwen3 qwen3-thinking-2507; do
    check "budget_reopen_no_second_stop_$tpl" "sub(ids, stop) == 1 and j['thinking_tokens'] == 3 and j['budget_hit'] \
and $CLEAN and j['reasoning_content'].count('Considering the limited') == 1 and ids.count(THINK) >= 2 \
and ids[ids.index(END) + 2:ids.index(END) + 6] == [THINK, 271, END, 271]" \
        -- "Hello" --template $tpl --temp 0 --think-budget 3 -n 60
done
# without a budget the second block is reasoning too, never content
check reopen_no_budget_content_clean "$CLEAN and not j['budget_hit']" -- "Hello" --temp 0 --think-budget 1000 -n 12

# A model that emits <think> after every token: every token generated inside a block counts, a
# nested <think> included, so the budget cuts it (it used to count 0 and never cut)
M="$QWEN3_TMP/gen_thinker_loop"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 --thinker --thinker-opens all -q \
        || { echo "FAIL gen_budget: gen_checkpoint.py --thinker-opens all failed"; exit 0; }
fi
check budget_counts_nested_think "ids[:6] == [THINK] * 6 and ids[6:6 + len(stop)] == stop and j['thinking_tokens'] == 5 \
and j['budget_hit'] and sub(ids, stop) == 1 and $CLEAN" -- "Hello" --temp 0 --think-budget 5 -n 80
check budget_counts_nested_think_2507 "ids[:5] == [THINK] * 5 and ids[5:5 + len(stop)] == stop \
and j['thinking_tokens'] == 5 and j['budget_hit'] and sub(ids, stop) == 1 and $CLEAN" \
    -- "Hello" --template qwen3-thinking-2507 --temp 0 --think-budget 5 -n 80
exit 0
