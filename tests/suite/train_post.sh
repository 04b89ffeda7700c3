#!/bin/bash
# train_post.sh - the post-training modes end to end on toy models with the real tokenizer (hidden
# 32, one layer; seconds): `qwen3 train --mode grpo` and `--mode distill` (off-policy, on-policy).
#
#   grpo-run       2 rollout batches (2 queries x 2 completions, 12 tokens, KL to the start model)
#                  run, log every field finite, and export a model the engine runs
#   grpo-logp      the log-probabilities the engine recorded while sampling equal the trainer's
#                  recomputation on the same weights (the first optimiser step of each batch):
#                  max |difference| <= 1e-4 (float rounding between the two code paths)
#   grpo-resume    stopped after batch 1 and resumed: the same weights bit for bit as the
#                  uninterrupted run (rollout seeds follow the batch index; the pool is saved)
#   grpo-select    query selection with a start model that never answers right finds no learnable
#                  query and says so (exit status non-zero, the message names the pass rate)
#   select-resume  a selection stopped after 4 candidates (its progress in pool.partial) and run again
#                  with --select-max 8 continues at candidate 4, not from the start
#   post-families  --families add,mul:1,count --levels 1-2 --phrasing varied: the candidates are those
#                  families in turn, mul only at level 1, add and count at both levels, questions reworded
#   distill-drop   off-policy: the teacher's wrong answers are dropped (a random teacher: none left)
#   distill-off    off-policy with --keep-wrong: trains on the teacher's answers (forward KL > 0)
#   distill-on     on-policy: the student's samples scored by the teacher; rollout logp == trainer's
#   distill-learn  on-policy distillation lowers the reverse KL to the teacher over 6 batches
#   distill-head   the student's head keeps apart every token the teacher was trained on, also those
#                  the student and the task pool never had (a teacher also trained on a text of words
#                  outside the tasks): after one off-policy batch every row the teacher trained differs
#                  from the student's shared row. (A teacher's token in the tied column makes the
#                  student spread its mass over the ~151,000 ids that column stands for.)
set -u
. "$(dirname "$0")/../lib.sh"
expect 11
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/train_post
rm -rf "$TMP"
mkdir -p "$TMP"
NAMES="grpo-run grpo-logp grpo-resume grpo-select select-resume post-families distill-drop distill-off distill-on distill-learn distill-head"
if [ ! -x "$QWEN3" ]; then for n in $NAMES; do echo "FAIL $n: engine binary $QWEN3 not found (run make)"; done; exit 0; fi
if [ -z "${QWEN3_TOKENIZER:-}" ] || [ ! -f "$QWEN3_TOKENIZER/tokenizer.json" ]; then
    for n in $NAMES; do echo "SKIP $n: no Qwen3 tokenizer (\$QWEN3_TOKENIZER)"; done
    exit 0
fi
echo '{"model_type":"qwen3","vocab_size":151936,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,
 "num_attention_heads":2,"num_key_value_heads":1,"head_dim":16,"rms_norm_eps":1e-6,"rope_theta":1000000.0,
 "max_position_embeddings":4096,"tie_word_embeddings":true,"bos_token_id":151643,"eos_token_id":151645}' >"$TMP/toy.json"
# a student and a teacher: two toy models after 40 pre-training steps each (other seeds)
mk() { "$QWEN3" train --config "$TMP/toy.json" --synth 200 --batch 4 --seq 64 --steps 40 --lr 1e-2 --warmup 2 --f32 -t 2 --seed "$2" \
    --tokenizer "$QWEN3_TOKENIZER" --out "$TMP/$1" 2>"$TMP/$1.err" || echo "making $1 failed: $(tail -n 1 "$TMP/$1.err")" >&2; }
mk toy 1
mk teach 2
# jl FILE what: a field of every line (space separated), or count / finite / maxdiff / minlen
jl() {
    "$PY" -c '
import json, math, sys
path, what = sys.argv[1], sys.argv[2]
try:
    rows = [json.loads(l) for l in open(path) if l.strip()]
except OSError:
    rows = []
if what == "count": print(len(rows))
elif what == "finite": print(int(bool(rows) and all(all(math.isfinite(v) for v in r.values()) for r in rows)))
elif what == "maxdiff": print(max(r["logp_maxdiff"] for r in rows) if rows else "nan")
elif what == "minlen": print(min(r["completion_len"] for r in rows) if rows else 0)
else: print(" ".join(str(r[what]) for r in rows))
' "$@"
}
ok() { "$PY" -c "import sys; sys.exit(0 if ($1) else 1)" 2>/dev/null; }

G=(train --mode grpo --init "$TMP/toy" --batches 2 --group 2 --queries 2 --max-tokens 12 --pool 4 --no-select --beta 0.05
   --batch 2 --f32 -t 2 --lr 1e-3)
if "$QWEN3" "${G[@]}" --out "$TMP/g" 2>"$TMP/g.err" && [ "$(jl "$TMP/g/post.jsonl" count)" = 2 ] &&
   [ "$(jl "$TMP/g/post.jsonl" finite)" = 1 ] && "$QWEN3" run "$TMP/g" --max-tokens 4 "hi" >/dev/null 2>>"$TMP/g.err"; then
    echo "PASS grpo-run (2 batches logged: rewards $(jl "$TMP/g/post.jsonl" reward), KL $(jl "$TMP/g/post.jsonl" kl); the export runs)"
else
    echo "FAIL grpo-run: $(tail -n 2 "$TMP/g.err" | tr '\n' ' ')"
fi
d=$(jl "$TMP/g/post.jsonl" maxdiff); len=$(jl "$TMP/g/post.jsonl" minlen)
if ok "float('$d') <= 1e-4 and float('$len') > 0"; then
    echo "PASS grpo-logp (rollout vs trainer log-probabilities on the same weights: max |diff| $d)"
else
    echo "FAIL grpo-logp: max |rollout logp - trainer logp| = $d (completion length $len), over 1e-4"
fi
if "$QWEN3" "${G[@]}" --out "$TMP/gh" --stop-after 1 2>"$TMP/gh.err" && "$QWEN3" "${G[@]}" --out "$TMP/gh" --resume "$TMP/gh" 2>>"$TMP/gh.err" &&
   cmp -s "$TMP/g/model.safetensors" "$TMP/gh/model.safetensors"; then
    echo "PASS grpo-resume (stopped after batch 1 of 2, resumed: the same F32 weights bit for bit)"
else
    echo "FAIL grpo-resume: $(tail -n 1 "$TMP/gh.err") (weights differ or a run failed)"
fi
if "$QWEN3" train --mode grpo --init "$TMP/toy" --out "$TMP/gs" --batches 1 --group 2 --queries 2 --max-tokens 6 --pool 2 \
        --select-max 4 -t 2 2>"$TMP/gs.err"; then
    echo "FAIL grpo-select: a start model that never answers right passed the query selection"
elif grep -q "pass rate strictly between 0 and 1" "$TMP/gs.err"; then
    echo "PASS grpo-select (no learnable query among 4 candidates: refused with the reason)"
else
    echo "FAIL grpo-select: unexpected error: $(tail -n 1 "$TMP/gs.err")"
fi
S=(train --mode grpo --init "$TMP/toy" --out "$TMP/sr" --batches 1 --group 2 --queries 2 --max-tokens 6 --pool 2 -t 2)
"$QWEN3" "${S[@]}" --select-max 4 2>"$TMP/sr.err"
"$QWEN3" "${S[@]}" --select-max 8 2>"$TMP/sr2.err"
if [ "$(head -n 1 "$TMP/sr/pool.partial" 2>/dev/null)" = "tried 8" ] && grep -q "^select: resumed: 0 of 4 candidates" "$TMP/sr2.err" &&
   [ "$(grep -c "^select: .* candidates kept (pass" "$TMP/sr2.err")" = 2 ] && grep -q "none of 8 candidate queries" "$TMP/sr2.err"; then
    echo "PASS select-resume (stopped after 4 candidates, run again with --select-max 8: resumed at candidate 4, 2 more chunks)"
else
    echo "FAIL select-resume: $(head -n 1 "$TMP/sr/pool.partial" 2>/dev/null); $(grep "^select" "$TMP/sr2.err" | tr '\n' ' ')"
fi
if "$QWEN3" train --mode grpo --init "$TMP/toy" --out "$TMP/fam" --batches 1 --no-select --pool 12 --families add,mul:1,count --levels 1-2 \
        --phrasing varied --stop-after 0 --f32 -t 2 2>"$TMP/fam.err" &&
   [ "$(grep "^post: candidate" "$TMP/fam.err" | sed 's/^post: candidate [0-9]*: \([a-z]* level [0-9]\).*/\1/' | tr '\n' ,)" = \
     "add level 1,mul level 1,count level 1,add level 2,mul level 1,count level 2,add level 1,mul level 1,count level 1,add level 2,mul level 1,count level 2," ] &&
   [ "$(grep "^post: candidate" "$TMP/fam.err" | grep -vc ": What is \|: How many times does the letter ")" -ge 3 ]; then
    echo "PASS post-families (12 candidates: add, mul, count in turn, mul capped at level 1; $(grep "^post: candidate" "$TMP/fam.err" | grep -vc ": What is \|: How many times does the letter ") of 12 reworded)"
else
    echo "FAIL post-families: $(tail -n 1 "$TMP/fam.err"); candidates: $(grep "^post: candidate" "$TMP/fam.err" | head -n 6 | tr '\n' ' ')"
fi
D=(train --mode distill --init "$TMP/toy" --teacher "$TMP/teach" --batches 1 --queries 2 --max-tokens 12 --pool 4 --batch 2 --f32 -t 2)
if "$QWEN3" "${D[@]}" --out "$TMP/dd" 2>"$TMP/dd.err" && [ "$(jl "$TMP/dd/post.jsonl" sequences)" = 0 ]; then
    echo "PASS distill-drop (the random teacher's 2 wrong answers dropped: nothing trained)"
else
    echo "FAIL distill-drop: $(tail -n 1 "$TMP/dd.err") (sequences: $(jl "$TMP/dd/post.jsonl" sequences))"
fi
if "$QWEN3" "${D[@]}" --keep-wrong --out "$TMP/do" 2>"$TMP/do.err" && [ "$(jl "$TMP/do/post.jsonl" sequences)" = 2 ] &&
   ok "float('$(jl "$TMP/do/post.jsonl" kl)') > 0"; then
    echo "PASS distill-off (trained on the teacher's 2 answers: forward KL $(jl "$TMP/do/post.jsonl" kl))"
else
    echo "FAIL distill-off: $(tail -n 1 "$TMP/do.err") (sequences $(jl "$TMP/do/post.jsonl" sequences))"
fi
ON=(train --mode distill --on-policy --init "$TMP/toy" --teacher "$TMP/teach" --queries 2 --group 2 --max-tokens 12 --pool 4
    --batch 4 --f32 -t 2 --lr 3e-3)
if "$QWEN3" "${ON[@]}" --batches 6 --out "$TMP/on" 2>"$TMP/on.err" && [ "$(jl "$TMP/on/post.jsonl" count)" = 6 ]; then
    d=$(jl "$TMP/on/post.jsonl" maxdiff)
    if ok "float('$d') <= 1e-4"; then
        echo "PASS distill-on (6 batches; rollout vs trainer logp max |diff| $d)"
    else
        echo "FAIL distill-on: rollout vs trainer logp differ by $d"
    fi
    kls=$(jl "$TMP/on/post.jsonl" kl)
    if ok "sum([float(x) for x in '$kls'.split()][-2:]) < 0.8 * sum([float(x) for x in '$kls'.split()][:2])"; then
        echo "PASS distill-learn (reverse KL per batch: $kls)"
    else
        echo "FAIL distill-learn: the reverse KL did not fall by 20% (per batch: $kls)"
    fi
else
    echo "FAIL distill-on: $(tail -n 1 "$TMP/on.err")"
    echo "FAIL distill-learn: the on-policy run failed"
fi

# distill-head: a teacher trained on the tasks and on words they never use
"$QWEN3" synth -n 150 --format chat --seed 5 >"$TMP/t3.jsonl"
for i in 1 2 3 4 5 6 7 8; do echo '{"text": "zebra quokka narwhal axolotl pangolin wombat"}'; done >>"$TMP/t3.jsonl"
"$QWEN3" train --config "$TMP/toy.json" --data "$TMP/t3.jsonl" --batch 4 --seq 64 --steps 30 --lr 1e-2 --warmup 2 --f32 -t 2 --seed 3 \
    --tokenizer "$QWEN3_TOKENIZER" --out "$TMP/teach3" 2>"$TMP/teach3.err" || echo "making teach3 failed: $(tail -n 1 "$TMP/teach3.err")" >&2
trained_check() { # trained_check TEACHER STUDENT: "ok N" when every row TEACHER trained is a row STUDENT keeps apart
    "$PY" -c '
import json, struct, sys
import numpy as np
def rows(d):
    f = open(d + "/model.safetensors", "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n)); base = 8 + n
    t = h["model.embed_tokens.weight"]; assert t["dtype"] == "F32"
    V, H = t["shape"]; a, b = t["data_offsets"]; f.seek(base + a)
    w = np.frombuffer(f.read(b - a), dtype=np.float32).reshape(V, H)
    return set(np.nonzero(np.any(w[:-1] != w[-1], axis=1))[0].tolist())
t, s = rows(sys.argv[1]), rows(sys.argv[2])
miss = sorted(t - s)
print("ok %d" % len(t) if not miss else "missing %d of %d, e.g. %s" % (len(miss), len(t), miss[:5]))
' "$1" "$2" 2>&1
}
if "$QWEN3" train --mode distill --init "$TMP/toy" --teacher "$TMP/teach3" --batches 1 --queries 2 --max-tokens 12 --pool 4 --batch 2 --f32 -t 2 \
       --keep-wrong --out "$TMP/dh" 2>"$TMP/dh.err" && r=$(trained_check "$TMP/teach3" "$TMP/dh") && [ "${r%% *}" = ok ] &&
   [ "$(trained_check "$TMP/teach3" "$TMP/toy" | cut -d' ' -f1)" = missing ]; then
    echo "PASS distill-head (the ${r#ok } rows the teacher trained, some the student never had, are all kept apart)"
else
    echo "FAIL distill-head: $(tail -n 1 "$TMP/dh.err"); ${r:-}"
fi
