#!/usr/bin/python3
"""default_model_eval.py - a scripted accuracy count of a model on the default model's tasks, both modes.

usage: tools/default_model_eval.py MODEL [-n N] [--seed S] [--qwen3 ./qwen3]

Draws N questions per family (add, sub, mul with a 1-digit multiplier, sort, count; levels 1-2, a
seed the training data did not use) twice: in the generator's own phrasing (`qwen3 synth --format
text`) and in the varied phrasings of the fusion data (`qwen3 synth --format fusion`, single-turn
questions with their /think or /no_think flag removed). Each question is asked greedily (--temp 0)
in thinking mode and in non-thinking mode (--no-think); a reply is right when its answer (the text
after the think block, trimmed) equals the task's answer exactly, as the verifier of `qwen3 eval`
requires. Prints a table of accuracy per family, phrasing and mode, and the mode-following rates
(/no_think: an empty think block; thinking: a non-empty one)."""
import argparse
import json
import re
import subprocess
import sys


def synth(q, args):
    r = subprocess.run([q, "synth"] + args, capture_output=True, text=True, check=True)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--seed", type=int, default=99)
    p.add_argument("--qwen3", default="./qwen3")
    a = p.parse_args()
    fams = ["add", "sub", "mul", "sort", "count"]
    canon = {f: [] for f in fams}
    for x in synth(a.qwen3, ["-n", str(a.n * 12), "--levels", "1-2", "--format", "text", "--seed", str(a.seed)]):
        f = x["family"]
        if f not in canon or len(canon[f]) >= a.n:
            continue
        if f == "mul" and x["level"] > 1:
            continue
        canon[f].append((x["text"].split("\n")[0], x["answer"]))
    phrased = {f: [] for f in fams}
    for x in synth(a.qwen3, ["-n", str(a.n * 10), "--levels", "1-2", "--format", "fusion", "--families",
                             "add,sub,mul:1,sort,count", "--seed", str(a.seed)]):
        m = x["messages"]
        if len(m) != 2:
            continue
        q = re.sub(r"\s*/(no_)?think\s*", " ", m[0]["content"]).strip()
        r = m[1]["reasoning_content"] or ""
        # the family: from the restated canonical question in a thinking sample, else by index order
        fam = None
        for f, key in (("add", " + "), ("sub", " - "), ("mul", " * "), ("sort", "Sort in"), ("count", "letter")):
            if r.split("\n")[0].find(key) >= 0:
                fam = f
                break
        if fam is None:
            continue
        if len(phrased[fam]) < a.n:
            phrased[fam].append((q, m[1]["content"]))
    rows = []
    follow = {"think": [0, 0], "no_think": [0, 0]}
    for setname, data in (("generator", canon), ("varied", phrased)):
        for f in fams:
            for mode in ("think", "no_think"):
                ok = 0
                for q, ans in data[f]:
                    cmd = [a.qwen3, "run", a.model, "--json", "--temp", "0", "-n", "400"]
                    if mode == "no_think":
                        cmd.append("--no-think")
                    r = subprocess.run(cmd + ["--", q], capture_output=True, text=True)
                    try:
                        o = json.loads(r.stdout)
                    except ValueError:
                        continue
                    ok += o["content"].strip() == ans
                    empty = not o["reasoning_content"].strip()
                    follow[mode][0] += empty if mode == "no_think" else not empty
                    follow[mode][1] += 1
                rows.append((setname, f, mode, ok, len(data[f])))
    print("| phrasing | family | thinking | non-thinking |")
    print("|---|---|---|---|")
    tot = {}
    for setname in ("generator", "varied"):
        for f in fams:
            t = [r for r in rows if r[0] == setname and r[1] == f]
            cell = {r[2]: "%d/%d" % (r[3], r[4]) for r in t}
            print("| %s | %s | %s | %s |" % (setname, f, cell["think"], cell["no_think"]))
            for r in t:
                k = (setname, r[2])
                tot[k] = (tot.get(k, (0, 0))[0] + r[3], tot.get(k, (0, 0))[1] + r[4])
    for setname in ("generator", "varied"):
        th, nt = tot[(setname, "think")], tot[(setname, "no_think")]
        print("| %s | all | %d/%d (%.0f%%) | %d/%d (%.0f%%) |" % (setname, th[0], th[1], 100.0 * th[0] / th[1], nt[0], nt[1], 100.0 * nt[0] / nt[1]))
    print()
    print("mode following: thinking mode thought in %d/%d replies; /no_think gave an empty think block in %d/%d"
          % (follow["think"][0], follow["think"][1], follow["no_think"][0], follow["no_think"][1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
