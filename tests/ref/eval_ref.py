#!/usr/bin/python3
"""eval_ref.py - an independent check of `qwen3 eval`: from the replies it recorded (--replies FILE)
and its summary (--json), re-judges every reply with this file's own reading of the verifier's rules
(include/qwen3_eval.h, written from that text, not from src/eval/verify.c) and recomputes every
statistic: greedy accuracy, sampled mean accuracy, pass@k (Chen et al.'s unbiased estimator, here
with n = k samples), maj@k (majority over the non-empty extracted answers, ties to the earliest),
mode-following and well-formed rates, accuracy per thinking budget, and the paired comparisons
(McNemar's exact test from math.comb; the paired bootstrap with the same splitmix64 stream, so the
interval must agree exactly). Also checks a PNG file (signature, chunk CRCs, IHDR, zlib stream,
scanline filters, pixel content).

    eval_ref.py replies REPLIES.jsonl SUMMARY.json [--name NAME]
    eval_ref.py png FILE.png [--name NAME] [--series N]

Prints PASS/FAIL lines for tests/run.sh."""
import json
import math
import struct
import sys
import zlib
from collections import OrderedDict

TOL = 1e-9


def out(ok, name, why=""):
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)))


def strip_end(s):
    t = s.rstrip(" \n\t\r")
    for end in ("<|im_end|>", "<|endoftext|>"):
        if t.endswith(end):
            return t[: -len(end)]
    return s


def verify(reply, answer, mode):
    """-> (correct, think_ok, think_empty, mode_ok, extracted answer)"""
    r = strip_end(reply)
    think_ok = r.startswith("<think>") and r.count("<think>") == 1 and r.count("</think>") == 1 and r.index("</think>") > 0
    empty = False
    if think_ok:
        inner = r[len("<think>"): r.index("</think>")]
        if inner.startswith("\n"):
            inner = inner[1:]
        if inner.endswith("\n"):
            inner = inner[:-1]
        empty = inner.strip(" \n\t\r") == ""
    if "</think>" in r:
        tail = r[r.rindex("</think>") + len("</think>"):]
        ans = None if "<think>" in tail else tail.strip(" \n\t\r")
    elif "<think>" in r:
        ans = None
    else:
        ans = r.strip(" \n\t\r")
    correct = ans is not None and ans == answer
    if mode == 0:
        mode_ok = think_ok and empty
    elif mode == 1:
        mode_ok = think_ok and not empty
    else:
        mode_ok = think_ok
    return correct, think_ok, think_ok and empty, mode_ok, ans if ans is not None else ""


def thinking(row):
    return row["cond"] in ("think", "think_sampled") or (row["cond"] == "budget" and row["budget"] > 0)


def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority(answers):
    votes = OrderedDict()
    for a in answers:
        if a:
            votes[a] = votes.get(a, 0) + 1
    if not votes:
        return None
    best = max(votes.values())
    return next(a for a, v in votes.items() if v == best)


MASK = (1 << 64) - 1


def splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def paired(a, b, resamples, level, seed):
    n = len(a)
    n01 = sum(1 for x, y in zip(a, b) if not x and y)
    n10 = sum(1 for x, y in zip(a, b) if x and not y)
    diffs = []
    s = seed
    for _ in range(resamples):
        d = 0
        for _ in range(n):
            s, z = splitmix(s)
            k = z % n
            d += b[k] - a[k]
        diffs.append(d / n)
    diffs.sort()
    alpha = 1 - level
    lo = max(0, math.floor(alpha / 2 * resamples))
    hi = min(resamples - 1, math.ceil((1 - alpha / 2) * resamples) - 1)
    m = n01 + n10
    p = 1.0 if m == 0 else min(1.0, 2 * sum(math.comb(m, i) for i in range(min(n01, n10) + 1)) / 2 ** m)
    return dict(n=n, n01=n01, n10=n10, acc_a=sum(a) / n, acc_b=sum(b) / n, diff=(sum(b) - sum(a)) / n, lo=diffs[lo], hi=diffs[hi], p_mcnemar=p)


def close(x, y):
    if x is None or y is None:
        return x is None and y is None
    return abs(x - y) <= TOL


def check_replies(path, summary_path, name):
    rows = [json.loads(l) for l in open(path)]
    summ = json.load(open(summary_path))
    if not rows:
        out(False, name + "-rows", "no replies in %s" % path)
        return
    # 1. every verdict, re-judged
    bad = []
    for r in rows:
        mode = 1 if thinking(r) else 0
        c, ok, empty, mok, ans = verify(r["reply"], r["answer"], mode)
        if (c, ok, empty, mok, ans) != (r["correct"], r["think_ok"], r["think_empty"], r["mode_ok"], r["answer_extracted"]):
            bad.append("q%d %s: ours %s, eval's %s" % (r["q"], r["cond"], (c, ok, empty, mok, ans),
                                                         (r["correct"], r["think_ok"], r["think_empty"], r["mode_ok"], r["answer_extracted"])))
    out(not bad, name + "-verdicts", "%d of %d differ, first: %s" % (len(bad), len(rows), bad[:1]))
    k = summ["settings"]["k"]
    budgets = summ["settings"]["budgets"]
    ours = {}
    for r in rows:
        c, ok, empty, mok, ans = verify(r["reply"], r["answer"], 1 if thinking(r) else 0)
        r["_v"] = (c, ok, mok, ans)
    greedy_bad, sampled_bad, budget_bad, mode_bad = [], [], [], []
    labels = sorted(set(r["model"] for r in rows))
    for label in labels:
        got = summ["models"][label]
        for st in [s["name"] for s in summ["settings"]["sets"]]:
            sel = [r for r in rows if r["model"] == label and r["set"] == st]
            for cond in ("think", "no_think"):
                g = [r for r in sel if r["cond"] == cond]
                acc = sum(r["_v"][0] for r in g) / len(g)
                mode = sum(r["_v"][2] for r in g) / len(g)
                wf = sum(r["_v"][1] for r in g) / len(g)
                e = got[st][cond]
                if not (close(acc, e["acc"]) and e["n"] == len(g)):
                    greedy_bad.append("%s %s %s: acc %g vs %g, n %d vs %d" % (label, st, cond, acc, e["acc"], len(g), e["n"]))
                if not (close(mode, e["mode_follow"]) and close(wf, e["well_formed"])):
                    mode_bad.append("%s %s %s: mode %g vs %g, well-formed %g vs %g" % (label, st, cond, mode, e["mode_follow"], wf, e["well_formed"]))
                ours[(label, st, cond)] = [r["_v"][0] for r in sorted(g, key=lambda r: r["q"])]
                for fam, e in got[st]["families"].items():
                    gf = [r for r in g if r["family"] == fam]
                    accf = sum(r["_v"][0] for r in gf) / len(gf)
                    if not (close(accf, e[cond]) and e["n"] == len(gf)):
                        greedy_bad.append("%s %s %s %s: acc %g vs %g" % (label, st, cond, fam, accf, e[cond]))
            if k:
                for cond in ("think_sampled", "no_think_sampled"):
                    byq = {}
                    for r in sel:
                        if r["cond"] == cond:
                            byq.setdefault(r["q"], []).append(r)
                    pk = mk = ma = 0.0
                    for q, rs in byq.items():
                        rs.sort(key=lambda r: r["sample"])
                        c = sum(r["_v"][0] for r in rs)
                        ma += c / len(rs)
                        pk += pass_at_k(len(rs), c, k)
                        w = majority([r["_v"][3] for r in rs])
                        mk += 1.0 if w is not None and w == rs[0]["answer"] else 0.0
                    nq = len(byq)
                    e = got[st][cond]
                    if not (close(ma / nq, e["mean_acc"]) and close(pk / nq, e["pass_k"]) and close(mk / nq, e["maj_k"]) and e["n"] == nq):
                        sampled_bad.append("%s %s %s: mean %g/%g pass@k %g/%g maj@k %g/%g" % (label, st, cond, ma / nq, e["mean_acc"], pk / nq,
                                                                                            e["pass_k"], mk / nq, e["maj_k"]))
            for i, b in enumerate(budgets):
                g = [r for r in sel if r["cond"] == "budget" and r["budget"] == b]
                acc = sum(r["_v"][0] for r in g) / len(g)
                e = got[st]["budgets"][i]
                if not (e["budget"] == b and close(acc, e["acc"])):
                    budget_bad.append("%s %s budget %d: %g vs %g" % (label, st, b, acc, e["acc"]))
    out(not greedy_bad, name + "-greedy", "; ".join(greedy_bad[:3]))
    out(not sampled_bad if k else True, name + "-sampled", "; ".join(sampled_bad[:3]))
    out(not budget_bad, name + "-budgets", "; ".join(budget_bad[:3]))
    out(not mode_bad, name + "-mode", "; ".join(mode_bad[:3]))
    # 2. the paired comparisons
    sets = [s["name"] for s in summ["settings"]["sets"]]
    R, seed = summ["settings"]["resamples"], summ["settings"]["bootstrap_seed"]
    pbad = []
    want = []
    for label in labels:
        for st in sets + (["all"] if len(sets) > 1 else []):
            pick = sets if st == "all" else [st]
            a = sum((ours[(label, s, "no_think")] for s in pick), [])
            b = sum((ours[(label, s, "think")] for s in pick), [])
            want.append(("%s: non-thinking vs thinking" % label, st, a, b))
    if len(labels) == 2:
        for cond, word in (("think", "thinking"), ("no_think", "non-thinking")):
            for st in sets + (["all"] if len(sets) > 1 else []):
                pick = sets if st == "all" else [st]
                a = sum((ours[("A", s, cond)] for s in pick), [])
                b = sum((ours[("B", s, cond)] for s in pick), [])
                want.append(("model A vs B, %s" % word, st, a, b))
    got = {(p["what"], p["set"]): p for p in summ["paired"]}
    for what, st, a, b in want:
        g = got.get((what, st))
        if g is None:
            pbad.append("missing %s %s" % (what, st))
            continue
        # the question order inside a set is the same on both sides; the "all" vectors are the sets in turn
        w = paired([int(x) for x in a], [int(x) for x in b], R, 0.95, seed)
        for key in ("n", "n01", "n10", "acc_a", "acc_b", "diff", "lo", "hi", "p_mcnemar"):
            if not close(float(w[key]), float(g[key])):
                pbad.append("%s %s %s: %g vs %g" % (what, st, key, w[key], g[key]))
    if len(got) != len(want):
        pbad.append("%d comparisons, expected %d" % (len(got), len(want)))
    out(not pbad, name + "-paired", "; ".join(pbad[:3]))


def check_png(path, name, series):
    try:
        data = open(path, "rb").read()
    except OSError as e:
        out(False, name, str(e))
        return
    why = []
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        out(False, name, "no PNG signature")
        return
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos: pos + 4])
        typ = data[pos + 4: pos + 8]
        body = data[pos + 8: pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n: pos + 12 + n])
        if zlib.crc32(typ + body) & 0xFFFFFFFF != crc:
            why.append("bad CRC in %s" % typ)
        chunks.append((typ, body))
        pos += 12 + n
    types = [t for t, _ in chunks]
    if types[0] != b"IHDR" or types[-1] != b"IEND" or b"IDAT" not in types:
        why.append("chunks %s" % types)
    w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", chunks[0][1])
    if (depth, ctype, comp, filt, inter) != (8, 2, 0, 0, 0):
        why.append("IHDR %s" % ((depth, ctype, comp, filt, inter),))
    raw = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))
    if len(raw) != h * (1 + 3 * w):
        why.append("%d bytes of pixels for %dx%d" % (len(raw), w, h))
    else:
        rows = [raw[y * (1 + 3 * w): (y + 1) * (1 + 3 * w)] for y in range(h)]
        if any(r[0] != 0 for r in rows):
            why.append("a scanline filter is not 0 (none)")
        px = [bytes(r[1 + 3 * x: 4 + 3 * x]) for r in rows for x in range(w)]
        white = sum(1 for p in px if p == b"\xff\xff\xff")
        black = sum(1 for p in px if p == b"\x00\x00\x00")
        colors = [bytes(c) for c in ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40))[:series]]
        counts = [sum(1 for p in px if p == c) for c in colors]
        if not (0.5 * w * h < white < w * h):
            why.append("%d white pixels of %d" % (white, w * h))
        if black < 2000:
            why.append("only %d black pixels (axes, ticks, text)" % black)
        if any(c < 100 for c in counts):
            why.append("series pixel counts %s" % counts)
    out(not why, name, "; ".join(why))


def check_png_line(path, name):
    """A loss curve that falls exponentially is a straight falling line on a log axis: the second
    series' (orange) pixels, column by column, lie on one line within 3 px and span the plot."""
    data = open(path, "rb").read()
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos: pos + 4])
        typ, body = data[pos + 4: pos + 8], data[pos + 8: pos + 8 + n]
        if typ == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    orange = b"\xff\x7f\x0e"
    cols = {}
    for y in range(h - 100):  # above the legend
        r = raw[y * (1 + 3 * w) + 1: (y + 1) * (1 + 3 * w)]
        for x in range(w):
            if r[3 * x: 3 * x + 3] == orange:
                cols.setdefault(x, []).append(y)
    xs = sorted(cols)
    why = []
    if len(xs) < 300:
        why.append("the curve covers %d columns" % len(xs))
    else:
        pts = [(x, sum(cols[x]) / len(cols[x])) for x in xs]
        n = len(pts)
        mx = sum(p[0] for p in pts) / n
        my = sum(p[1] for p in pts) / n
        slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sum((p[0] - mx) ** 2 for p in pts)
        worst = max(abs(p[1] - (my + slope * (p[0] - mx))) for p in pts)
        drop = pts[-1][1] - pts[0][1]
        if slope <= 0:
            why.append("the line does not fall (slope %.3f px/px)" % slope)
        if worst > 3:
            why.append("%.1f px off a straight line" % worst)
        if drop < 200:
            why.append("falls only %.0f px" % drop)
    out(not why, name, "; ".join(why))


def main():
    a = sys.argv[1:]
    name = "eval-ref"
    if "--name" in a:
        i = a.index("--name")
        name = a[i + 1]
        del a[i: i + 2]
    series = 2
    if "--series" in a:
        i = a.index("--series")
        series = int(a[i + 1])
        del a[i: i + 2]
    if a[0] == "replies":
        check_replies(a[1], a[2], name)
    elif a[0] == "png":
        check_png(a[1], name, series)
    elif a[0] == "png-line":
        check_png_line(a[1], name)
    else:
        sys.exit("usage: eval_ref.py replies FILE SUMMARY | png FILE")


if __name__ == "__main__":
    main()
