#!/usr/bin/env python3
"""recipe_tables.py OUT - the tables of a tools/recipe.sh run, from its evaluations (OUT/eval/NAME.json,
`qwen3 eval --json` of each stage's model on one question set): accuracy of every stage's model
(greedy pass@1, sampled pass@k and maj@k, in and out of distribution, both modes, think length) and
accuracy against the thinking budget, and each model's mode following. Models whose evaluation is
missing are left out."""
import json
import os
import sys

STAGES = [("teacher-sft", "teacher (pre-training + fusion SFT)"), ("teacher-grpo", "teacher + GRPO"),
          ("teacher-refresh", "teacher + GRPO + the three non-thinking SFT stages"),
          ("student-pre", "student, pre-trained only"), ("student-sft", "student + fusion SFT"),
          ("student-refresh", "student + fusion SFT + the three non-thinking SFT stages"),
          ("student-distill", "student + off-policy distillation, both modes"),
          ("student-onpolicy", "student + on-policy distillation, both modes (the recipe's student)"),
          ("shipped", "the shipped default model (models/default)")]


def load(out, name):
    p = os.path.join(out, "eval", name + ".json")
    if not os.path.exists(p):
        return None
    return json.load(open(p))["models"]["A"]


def f(v):
    return "-" if v is None else "%.2f" % v


def main():
    out = sys.argv[1]
    rows = [(label, load(out, name)) for name, label in STAGES]
    rows = [(label, m) for label, m in rows if m]
    if not rows:
        print("no evaluations in %s/eval yet" % out)
        return
    print("| model | pass@1 id, thinking / non-thinking | pass@k id, thinking / non-thinking | pass@1 ood, thinking / "
          "non-thinking | maj@k id, thinking | think tokens (mean, id) |")
    print("|---|--:|--:|--:|--:|--:|")
    for label, m in rows:
        i, o = m["id"], m.get("ood")
        ts, ns = i.get("think_sampled", {}), i.get("no_think_sampled", {})
        print("| %s | %s / %s | %s / %s | %s / %s | %s | %.0f |" % (
            label, f(i["think"]["acc"]), f(i["no_think"]["acc"]), f(ts.get("pass_k")), f(ns.get("pass_k")),
            f(o["think"]["acc"]) if o else "-", f(o["no_think"]["acc"]) if o else "-", f(ts.get("maj_k")),
            i["think"]["think_tokens"] or 0))
    budgets = sorted({b["budget"] for _, m in rows for b in m["id"].get("budgets", [])})
    if budgets:
        print("\naccuracy against the thinking budget (greedy, in-distribution; 0 = /no_think)\n")
        print("| model | " + " | ".join(str(b) for b in budgets) + " |")
        print("|---|" + "--:|" * len(budgets))
        for label, m in rows:
            acc = {b["budget"]: b["acc"] for b in m["id"].get("budgets", [])}
            print("| %s | %s |" % (label, " | ".join(f(acc.get(b)) for b in budgets)))
    print("\nmode following (greedy, in-distribution): /think gives a non-empty think block, /no_think an empty "
          "one; well-formed = one think block, then the answer\n")
    print("| model | /think -> thinks | /no_think -> empty think block | well-formed, thinking / non-thinking "
          "| think tokens, thinking / non-thinking |")
    print("|---|--:|--:|--:|--:|")
    for label, m in rows:
        i = m["id"]
        print("| %s | %s | %s | %s / %s | %.1f / %.1f |" % (
            label, f(i["think"]["mode_follow"]), f(i["no_think"]["mode_follow"]), f(i["think"]["well_formed"]),
            f(i["no_think"]["well_formed"]), i["think"]["think_tokens"] or 0, i["no_think"]["think_tokens"] or 0))


if __name__ == "__main__":
    main()
