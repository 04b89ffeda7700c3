#!/usr/bin/python3
"""tokenizer_compare.py NAME INPUT EXPECTED GOT FIELD

Compares two JSONL outputs line by line on FIELD ("ids" or "text") and prints, per group of the
input lines (their "group" field, else "all"), one line "PASS NAME.GROUP (N cases)" or, for each
differing case (the first 10), "FAIL NAME.GROUP: case K ..." with the input and the first
difference. Exits 0; tests/run.sh counts the lines."""
import collections
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    name, inp, exp, got, field = sys.argv[1:6]
    ins, es, gs = load(inp), load(exp), load(got)
    if not (len(ins) == len(es) == len(gs)):
        print("FAIL %s: %d inputs, %d expected, %d got (a run stopped early?)" % (name, len(ins), len(es), len(gs)))
        return
    total = collections.Counter()
    bad = collections.defaultdict(list)
    for k, (i, e, g) in enumerate(zip(ins, es, gs)):
        grp = i.get("group", "all")
        total[grp] += 1
        if e[field] != g[field]:
            bad[grp].append(k)
    for grp in total:
        if not bad[grp]:
            print("PASS %s.%s (%d cases)" % (name, grp, total[grp]))
            continue
        for k in bad[grp][:10]:
            e, g = es[k][field], gs[k][field]
            d = next((j for j in range(min(len(e), len(g))) if e[j] != g[j]), min(len(e), len(g)))
            src = {x: ins[k][x] for x in ins[k] if x != "group"}
            print("FAIL %s.%s: case %d %s: first difference at %d: expected %r, got %r" % (
                name, grp, k + 1, json.dumps(src, ensure_ascii=False)[:200], d, e[d:d + 8], g[d:d + 8]))
        print("FAIL %s.%s: %d of %d cases differ" % (name, grp, len(bad[grp]), total[grp]))


if __name__ == "__main__":
    main()
