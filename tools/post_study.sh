#!/bin/bash
# post_study.sh TEACHER [OUT] - the README's post-training tables 2 and 3 (issue 17), measured:
#
#   table 2: four ways to spend about the same CPU time on one student base (S, default: the shipped
#            default model, build/rel/default-model): more SFT with thinking-mode fusion (fresh data),
#            off-policy distillation from TEACHER (the teacher answers in both modes, wrong answers
#            dropped, the student learns its full next-token distributions), on-policy distillation
#            (the student samples, the teacher scores every position, reverse KL), and GRPO (group
#            rollouts, the verifier's reward, query selection on a small pool). Each arm's CPU time
#            (user + system, /usr/bin/time) is printed beside its accuracy.
#   table 3: GRPO on TEACHER: accuracy, pass@k and think length before and after.
#
# Every model is judged by one `qwen3 eval` set: levels 1-2 in distribution, level 3 out of it,
# families add, sub, mul, sort, count, N_EVAL questions per family and level (default 10), greedy
# pass@1 and sampled pass@4 / maj@4 at Qwen's settings, in both modes. Sizes (env): SFT_STEPS (250),
# DIST_BATCHES (12), ONP_BATCHES (12), GRPO_BATCHES (4), GRPO_POOL (32) and GRPO_SELECT_MAX (64),
# TGRPO_BATCHES (4; 0 leaves table 3 out), with 16 queries per distillation batch and 8 queries x 8
# completions per GRPO batch; TASKS, extra flags of the distillation and GRPO arms (the tasks and
# phrasings asked); S_LABEL names the base in the table. Resumable: a finished arm (its
# DONE file) or eval (its JSON) is not run again. Threads: -t 2.
set -euo pipefail
cd "$(dirname "$0")/.."
T=$1
OUT=${2:-build/post-study}
S=${S:-build/rel/default-model}
Q=${QWEN3:-./qwen3}
N_EVAL=${N_EVAL:-10}
mkdir -p "$OUT"
EVAL=(--levels 1-2 --ood-levels 3-3 --families add,sub,mul,sort,count -n "$N_EVAL" -k 4 --json -q -t 2)

arm() { # arm NAME ARGS...: qwen3 train ARGS --out OUT/NAME, its CPU seconds in OUT/NAME.cpu
    local name=$1; shift
    [ -f "$OUT/$name/DONE" ] && { echo "== $name: done already"; return; }
    echo "== $name: qwen3 train $*"
    rm -rf "${OUT:?}/$name"
    /usr/bin/time -f "%U %S %e" -o "$OUT/$name.cpu" "$Q" train "$@" --out "$OUT/$name" -t 2 >"$OUT/$name.log" 2>&1 ||
        { echo "post_study: arm $name failed (see $OUT/$name.log)" >&2; exit 1; }
    touch "$OUT/$name/DONE"
}
ev() { # ev NAME MODEL: OUT/NAME.eval.json
    [ -s "$OUT/$1.eval.json" ] && return
    echo "== eval $1 ($2)"
    "$Q" eval "$2" "${EVAL[@]}" >"$OUT/$1.eval.json.tmp"
    mv "$OUT/$1.eval.json.tmp" "$OUT/$1.eval.json"
}

[ -f "$OUT/sft.jsonl" ] || "$Q" synth --format fusion -n 20000 --levels 1-2 --families add,sub,mul:1,sort,count --seed 29 >"$OUT/sft.jsonl"
arm sft --init "$S" --mode sft --data "$OUT/sft.jsonl" --steps "${SFT_STEPS:-250}" --warmup 20 --lr 5e-4
read -r -a TASKS <<<"${TASKS:-}" # e.g. "--families add,sub,mul:1,sort,count --phrasing varied" (the recipe's)
arm distill --mode distill --teacher "$T" --init "$S" --batches "${DIST_BATCHES:-12}" --queries 16 --levels 1-2 --seed 3 "${TASKS[@]}"
arm onpolicy --mode distill --on-policy --teacher "$T" --init "$S" --batches "${ONP_BATCHES:-12}" --queries 16 --levels 1-2 --seed 3 "${TASKS[@]}"
arm grpo --mode grpo --init "$S" --batches "${GRPO_BATCHES:-4}" --queries 8 --group 8 --pool "${GRPO_POOL:-32}" --select-max "${GRPO_SELECT_MAX:-64}" --levels 1-2 --lr 5e-5 --seed 3 "${TASKS[@]}"
TGRPO=${TGRPO_BATCHES:-4} # 0: no table 3 (the recipe's teacher-grpo stage measures it at full size)
[ "$TGRPO" = 0 ] || arm teacher-grpo --mode grpo --init "$T" --batches "$TGRPO" --queries 8 --group 8 --pool 32 --select-max 64 --levels 1-2 --lr 5e-5 --seed 3 "${TASKS[@]}"

ev student "$S"; ev sft "$OUT/sft"; ev distill "$OUT/distill"; ev onpolicy "$OUT/onpolicy"; ev grpo "$OUT/grpo"
[ "$TGRPO" = 0 ] || { ev teacher "$T"; ev teacher-grpo "$OUT/teacher-grpo"; }

/usr/bin/python3 - "$OUT" "${S_LABEL:-the shipped default model}" <<'PYEOF'
import json, os, sys
out = sys.argv[1]
def ev(name):
    return json.load(open(os.path.join(out, name + ".eval.json")))["models"]["A"]
def cpu(name):
    p = os.path.join(out, name + ".cpu")
    if not os.path.exists(p):
        return "-"
    u, s, e = open(p).read().split()[-3:]
    return "%.0f s (%.0f s wall)" % (float(u) + float(s), float(e))
def row(label, name, arm):
    m = ev(name)
    i, o = m["id"], m["ood"]
    return "| %s | %s | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f | %.0f |" % (
        label, cpu(arm) if arm else "-", i["think"]["acc"], i["no_think"]["acc"],
        i["think_sampled"]["pass_k"], i["no_think_sampled"]["pass_k"],
        o["think"]["acc"], o["no_think"]["acc"], i["think_sampled"]["maj_k"], i["think"]["think_tokens"])
hdr = ("| model | CPU time of the stage | pass@1 id, thinking / non-thinking | pass@4 id, thinking / non-thinking "
       "| pass@1 ood (level 3), thinking / non-thinking | maj@4 id, thinking | think tokens (mean, id) |\n"
       "|---|--:|--:|--:|--:|--:|--:|")
print("Table 2: one student base, four ways to spend the CPU time\n")
print(hdr)
print(row("student base (%s)" % sys.argv[2], "student", None))
for label, name in (("+ SFT (thinking-mode fusion, fresh data)", "sft"), ("+ off-policy distillation", "distill"),
                    ("+ on-policy distillation", "onpolicy"), ("+ GRPO", "grpo")):
    print(row(label, name, name))
if os.path.exists(os.path.join(out, "teacher-grpo.eval.json")):
    print("\nTable 3: GRPO on the teacher\n")
    print(hdr)
    print(row("teacher", "teacher", None))
    print(row("teacher + GRPO", "teacher-grpo", "teacher-grpo"))
PYEOF
