#!/bin/bash
# eval.sh - `qwen3 eval` end to end, in seconds, on the --thinker toy checkpoint of
# tools/gen_checkpoint.py (greedy: <think> then " hmm" for ever; so every reply is wrong, and the
# thinking budget visibly cuts it), and on doctored replies judged again with --rescore, where
# right, wrong and malformed replies are mixed so the statistics are not all zero.
#   run         an eval with samples, budgets, a chart, --replies and --json: every job has a reply
#   ref         tests/ref/eval_ref.py re-judges every reply with its own reading of the rules and
#               recomputes greedy/sampled/budget/mode statistics and the paired comparisons (x2: the
#               toy run, and the doctored replies of two "models" through --rescore)
#   budget      budgeted replies thought exactly the budget and hold the stop-thinking text; budget 0
#               is the /no_think reply
#   determinism the same flags with another --batch give the same replies (batch invariance, seeds)
#   png         the chart is a valid PNG (CRCs, zlib, filters) with axes, text and one colour per series
#   text        the tables (no --json) name every section
#   bad flags   each refused with exit status 1 or 2 and a message naming the flag
# Injected faults this catches (tried once each): maj@k counting a tie as a win for the last answer
# (ref-doctored-sampled FAILs); the bootstrap resampling with next() % (n - 1) (paired FAILs).
set -u
. "$(dirname "$0")/../lib.sh"
expect 36
TMP="$QWEN3_TMP/eval"
rm -rf "$TMP"
mkdir -p "$TMP"
REF="$QWEN3_ROOT/tests/ref/eval_ref.py"
shared_thinker eval || exit 0   # sets M: the tiny thinker the eval and gen_* suites share
FLAGS=(-n 1 --families add,linear --levels 1-2 --ood-levels 4-4 -k 2 --budgets 0,3,8 --max-tokens 40 --resamples 300 -q)
NQ=6; PER_Q=$((2 + 2 * 2 + 3))

if "$QWEN3" eval "$M" "${FLAGS[@]}" --batch 9 --replies "$TMP/r1.jsonl" --png "$TMP/b.png" --json >"$TMP/s1.json" 2>"$TMP/e1"; then
    n=$(wc -l <"$TMP/r1.jsonl")
    if [ "$n" -eq $((NQ * PER_Q)) ] && "$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$TMP/s1.json"; then
        echo "PASS eval-run"
    else
        echo "FAIL eval-run: $n replies (want $((NQ * PER_Q))) or the summary is not JSON"
    fi
else
    echo "FAIL eval-run: qwen3 eval exited with status $?: $(tail -n 2 "$TMP/e1")"
fi
checked eval-ref "$PY" "$REF" replies "$TMP/r1.jsonl" "$TMP/s1.json" --name eval-ref-toy
checked eval-png "$PY" "$REF" png "$TMP/b.png" --name eval-png --series 2

checked eval-budget "$PY" - "$TMP/r1.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
stop = "Considering the limited time by the user, I have to give the solution based on the thinking directly now."
cut = [r for r in rows if r["cond"] == "budget" and r["budget"] > 0]
bad = [r for r in cut if not (r["budget_hit"] and r["gen_think_tokens"] == r["budget"] and stop in r["reply"] and r["reused"] is None)]
print("PASS eval-budget-cut" if cut and not bad else "FAIL eval-budget-cut: %d of %d budgeted replies, first %s" % (len(bad), len(cut), bad[:1]))
zero = [r for r in rows if r["cond"] == "budget" and r["budget"] == 0]
nt = {(r["model"], r["q"]): r["reply"] for r in rows if r["cond"] == "no_think"}
bad = [r for r in zero if r["reused"] != "no_think" or r["reply"] != nt[(r["model"], r["q"])]]
print("PASS eval-budget-zero" if zero and not bad else "FAIL eval-budget-zero: %s" % bad[:1])
th = [r for r in rows if r["cond"] == "think"]
bad = [r for r in th if r["budget_hit"] or not r["reply"].startswith("<think>") or r["finish"] != "length"]
print("PASS eval-unbudgeted" if th and not bad else "FAIL eval-unbudgeted: %s" % bad[:1])
PYEOF

# the same jobs, another batching: the same replies
if "$QWEN3" eval "$M" "${FLAGS[@]}" --batch 4 --replies "$TMP/r1b.jsonl" --png "$TMP/b1b.png" --json >/dev/null 2>"$TMP/e1b" &&
   cmp -s "$TMP/r1.jsonl" "$TMP/r1b.jsonl"; then
    echo "PASS eval-deterministic"
else
    echo "FAIL eval-deterministic: --batch 4 gave other replies than --batch 9 (or failed: $(tail -n 1 "$TMP/e1b"))"
fi

# doctored replies for two "models" (A and B), judged again through --rescore
"$PY" - "$TMP/r1.jsonl" "$TMP/doctored.jsonl" <<'PYEOF'
import json, random, sys
rng = random.Random(5)
rows = [json.loads(l) for l in open(sys.argv[1])]
out = open(sys.argv[2], "w")
for label, p_right in (("A", 0.45), ("B", 0.7)):
    for r in rows:
        r = dict(r, model=label)
        a = r["answer"]
        x = rng.random()
        if x < p_right:   # right; in the right form for its mode most of the time
            forms = ["<think>\nwork\n</think>\n\n%s" % a, "<think>\n\n</think>\n\n%s" % a, "%s" % a, "<think>\nw\n</think>\n\n%s<|im_end|>" % a]
            r["reply"] = rng.choice(forms)
        else:             # wrong, extra text, malformed, unclosed, and a few common wrong answers to vote for
            forms = ["<think>\nwork\n</think>\n\n%s." % a, "<think>\nw\n</think>\n\n41", "<think>\nw\n</think>\n\n42",
                     "<think>\nunclosed %s" % a, "The answer is %s" % a, "<think>\nw\n</think>\n<think>\n</think>\n\n%s" % a]
            r["reply"] = rng.choice(forms)
        out.write(json.dumps(r) + "\n")
PYEOF
if "$QWEN3" eval "$M" "${FLAGS[@]}" --compare "$M" --rescore "$TMP/doctored.jsonl" --replies "$TMP/r2.jsonl" --png "$TMP/b2j.png" --json \
        >"$TMP/s2.json" 2>"$TMP/e2"; then
    echo "PASS eval-rescore"
else
    echo "FAIL eval-rescore: exited with status $?: $(tail -n 2 "$TMP/e2")"
fi
checked eval-ref-doctored "$PY" "$REF" replies "$TMP/r2.jsonl" "$TMP/s2.json" --name eval-ref-doctored
checked eval-doctored-spread "$PY" - "$TMP/s2.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
v = [s["models"][m][st][c][k] for m in "AB" for st in ("id", "ood") for c, k in (("think", "acc"), ("think_sampled", "pass_k"), ("think_sampled", "maj_k"), ("no_think", "mode_follow"))]
ok = 0 < v[0] < 1 and len(set(round(x, 6) for x in v)) > 4
print("PASS eval-doctored-spread" if ok else "FAIL eval-doctored-spread: statistics too uniform to test anything: %s" % v)
PYEOF

# the tables
if "$QWEN3" eval "$M" "${FLAGS[@]}" --compare "$M" --rescore "$TMP/doctored.jsonl" --png "$TMP/b2.png" >"$TMP/t.txt" 2>"$TMP/e3"; then
    miss=""
    for w in "greedy pass@1, thinking" "pass@2" "maj@2" "/no_think -> empty think block" "accuracy against the thinking budget" \
             "model A vs B, thinking" "non-thinking vs thinking" "McNemar" "chart: $TMP/b2.png"; do
        grep -qF -- "$w" "$TMP/t.txt" || miss="$miss [$w]"
    done
    [ -z "$miss" ] && echo "PASS eval-text" || echo "FAIL eval-text: missing$miss"
else
    echo "FAIL eval-text: exited with status $?: $(tail -n 2 "$TMP/e3")"
fi
checked eval-png4 "$PY" "$REF" png "$TMP/b2.png" --name eval-png-4-series --series 4

# bad flags: refused, status 1 or 2 (not a crash), a message naming the flag
bad() {
    local name=$1 want=$2; shift 2
    "$QWEN3" eval "$@" >/dev/null 2>"$TMP/bad.err"
    local rc=$?
    if { [ $rc -eq 1 ] || [ $rc -eq 2 ]; } && grep -qF -- "$want" "$TMP/bad.err"; then
        echo "PASS eval-bad-$name"
    else
        echo "FAIL eval-bad-$name: status $rc, message: $(head -c 300 "$TMP/bad.err")"
    fi
}
# --phrasing varied: the same tasks (answers, order) as the generator's phrasing, most questions
# worded otherwise, and each varied question still holds the generator question's operands in
# (the numbers, or the letter and the word), read here with regular expressions
PH=(-n 4 --levels 1-3 --ood-levels none -k 0 --max-tokens 1 -q)
if "$QWEN3" eval "$M" "${PH[@]}" --replies "$TMP/pg.jsonl" >/dev/null 2>"$TMP/pe" &&
   "$QWEN3" eval "$M" "${PH[@]}" --phrasing varied --replies "$TMP/pv.jsonl" >/dev/null 2>"$TMP/pe"; then
    "$PY" - "$TMP/pg.jsonl" "$TMP/pv.jsonl" <<'PYEOF'
import json, re, sys
g = [json.loads(l) for l in open(sys.argv[1])]
v = [json.loads(l) for l in open(sys.argv[2])]
why = []
if len(g) != len(v) or len(g) < 100:
    why.append("%d and %d replies" % (len(g), len(v)))
differ = 0
for a, b in zip(g, v):
    if a["answer"] != b["answer"]:
        why.append("answer %r vs %r" % (a["answer"], b["answer"])); break
    qa, qb = a["question"], b["question"]
    differ += qa != qb
    if re.search(r"How many times does the letter", qa):
        c, w = re.search(r"letter (\w) appear in (\w+)", qa).groups()
        if not (re.search(r"\b%s\b" % w, qb) and re.search(r"(^|[^a-z])%s([^a-z]|'s|$)" % c, qb)):
            why.append("%r lost %r or %r" % (qb, c, w)); break
    else:
        na = re.findall(r"-?\d+", qa.replace("x", " "))
        nb = re.findall(r"-?\d+", qb.replace("x", " "))
        if sorted(abs(int(x)) for x in na) != sorted(abs(int(x)) for x in nb):  # "take 3 away from 465"
            why.append("%r vs %r: operands %s vs %s" % (qa, qb, na, nb)); break
if differ < len(g) // 2:
    why.append("only %d of %d questions reworded" % (differ, len(g)))
print(("PASS" if not why else "FAIL") + " eval-phrasing-varied (%d questions, %d reworded, same tasks and operands)%s" % (len(g), differ, "" if not why else ": " + "; ".join(why)))
PYEOF
else
    echo "FAIL eval-phrasing-varied: $(tail -n 1 "$TMP/pe")"
fi
bad phrasing "--phrasing: expected generator or varied" "$M" --phrasing people

bad budgets-word "--budgets: 'x'" "$M" --budgets 0,x,16
bad budgets-order "--budgets: list them in increasing order" "$M" --budgets 16,0
bad budgets-negative "--budgets: '-4'" "$M" --budgets -4
bad levels "--levels: expected LO-HI" "$M" --levels 0-3
bad levels-reversed "--levels: expected LO-HI" "$M" --levels 3-1
bad k "-k: expected an integer" "$M" -k -1
bad family "--families: unknown family 'div'" "$M" --families add,div
bad png-alone "--png draws accuracy against the thinking budget" "$M" --png "$TMP/x.png"
bad unknown "unknown flag '--bogus'" "$M" --bogus
bad no-model "no MODEL" --budgets 0
bad compare-missing "$TMP/nowhere" "$M" --compare "$TMP/nowhere"
bad rescore-mismatch "give the -n, --levels" "$M" "${FLAGS[@]}" --seed 99 --rescore "$TMP/r1.jsonl" --png "$TMP/x.png"
