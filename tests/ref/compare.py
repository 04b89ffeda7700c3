#!/usr/bin/python3
"""compare.py - compares the C engine's output with the reference's; prints one PASS/FAIL line.

    compare.py logits NAME REF.f32 GOT.f32 --vocab V [--rows N] [--tol 1e-3]
        Both files: float32 little-endian logits, rows of V. --rows N compares only the first N
        rows of REF (a 1-token prompt is the first row of a longer prompt's logits: causal). GOT
        must hold exactly that many rows. Passes when max |GOT - REF| <= tol and everything is
        finite; the line gives the measured maximum, and on failure where it is (row, token).

    compare.py greedy NAME REF.txt GOT.txt [--tol 1e-3]
        REF.txt: qwen3_ref.py --greedy output ("ids: ..." and "margins: ..." lines); GOT.txt: the
        engine's ids (space- or comma-separated). Identical sequences pass. At the first step where
        they differ, a reference top-2 margin below 2*tol is a near-tie that an engine within the
        logit tolerance may legitimately break the other way: that passes (the rest is not compared,
        since the continuations diverge from there) and the line says so; any other difference fails.

    compare.py batch LIST [--tol 1e-3]
        Runs many comparisons in one process (numpy starts once): each line of LIST is
        "logits NAME REF GOT VOCAB ROWS" (ROWS "-" for all), "greedy NAME REF GOT", or
        "positions NAME REF GOT VOCAB MAXFRAC": every logit finite, and at most MAXFRAC of the
        positions (rows) with an error above tol. For a MoE model whose products round their inputs
        (bf16): where the reference's router has a near-tie the engine may pick another expert, and
        that position's logits move by up to ~1; the line gives the per-position maxima's median,
        90th percentile and maximum.

    compare.py selftest
        Proves the checks can fail: a logit off by 2*tol, a NaN, a wrong row count and a different
        greedy id at a wide margin must each be reported as FAIL.
"""
import os
import sys
import tempfile

import numpy as np


def load_logits(name, ref_path, got_path, vocab, rows=None, out=sys.stdout):
    """The reference's and the engine's logits as [rows, vocab] arrays (the reference cut to `rows`),
    or None after printing the FAIL line: a missing file, a size that is not whole rows, an engine
    file of another size, a non-finite engine logit."""
    try:
        ref = np.fromfile(ref_path, dtype="<f4")
        got = np.fromfile(got_path, dtype="<f4")
    except OSError as e:
        print("FAIL %s: %s" % (name, e), file=out)
        return None
    if ref.size % vocab:
        print("FAIL %s: reference file %s holds %d floats, not a multiple of vocab %d" % (name, ref_path, ref.size, vocab), file=out)
        return None
    ref = ref.reshape(-1, vocab)
    if rows is not None:
        ref = ref[:rows]
    if got.size != ref.size:
        print("FAIL %s: engine wrote %d floats (%.2f rows of %d), expected %d rows" % (name, got.size, got.size / vocab, vocab, ref.shape[0]), file=out)
        return None
    got = got.reshape(ref.shape)
    bad = ~np.isfinite(got)
    if bad.any():
        r, t = np.argwhere(bad)[0]
        print("FAIL %s: non-finite logit %r at row %d token %d" % (name, float(got[r, t]), r, t), file=out)
        return None
    return ref, got


def cmp_logits(name, ref_path, got_path, vocab, rows=None, tol=1e-3, out=sys.stdout):
    pair = load_logits(name, ref_path, got_path, vocab, rows, out)
    if pair is None:
        return False
    ref, got = pair
    d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    r, t = np.unravel_index(int(np.argmax(d)), d.shape)
    err = float(d[r, t])
    spread = float(np.abs(ref).max())
    if err <= tol:
        print("PASS %s maxerr=%.2g (rows=%d, |logit|max=%.1f)" % (name, err, ref.shape[0], spread), file=out)
        return True
    nbad = int((d > tol).sum())
    print("FAIL %s: maxerr=%.3g > %g at row %d token %d (ref %.6f, got %.6f); %d of %d logits off; first bad row %d"
          % (name, err, tol, r, t, ref[r, t], got[r, t], nbad, d.size, int(np.argwhere(d > tol)[0][0])), file=out)
    return False


def cmp_positions(name, ref_path, got_path, vocab, maxfrac, tol, out=sys.stdout):
    pair = load_logits(name, ref_path, got_path, vocab, None, out)
    if pair is None:
        return False
    ref, got = pair
    d = np.abs(got.astype(np.float64) - ref.astype(np.float64)).max(axis=1)
    over = np.nonzero(d > tol)[0]
    what = "per-position max error: median %.2g, 90th percentile %.2g, max %.3g; %d of %d positions above %g%s" % (
        np.median(d), np.percentile(d, 90), d.max(), len(over), len(d), tol,
        " (%s)" % " ".join(map(str, over[:8])) if len(over) else "")
    if len(over) <= maxfrac * len(d):
        print("PASS %s %s" % (name, what), file=out)
        return True
    print("FAIL %s: %s, more than %g of them" % (name, what, maxfrac), file=out)
    return False


def read_ref_greedy(path):
    ids = margins = None
    with open(path) as f:
        for line in f:
            if line.startswith("ids:"):
                ids = [int(x) for x in line[4:].split()]
            elif line.startswith("margins:"):
                margins = [float(x) for x in line[8:].split()]
    if ids is None or margins is None or len(ids) != len(margins):
        raise ValueError("%s: not qwen3_ref.py --greedy output" % path)
    return ids, margins


def cmp_greedy(name, ref_path, got_path, tol=1e-3, out=sys.stdout):
    try:
        ids, margins = read_ref_greedy(ref_path)
        with open(got_path) as f:
            text = f.read().replace(",", " ").split()
    except (OSError, ValueError) as e:
        print("FAIL %s: %s" % (name, e), file=out)
        return False
    try:
        got = [int(x) for x in text]
    except ValueError:
        print("FAIL %s: engine output is not a list of ids: %r" % (name, " ".join(text)[:200]), file=out)
        return False
    for k, want in enumerate(ids):
        if k >= len(got):
            print("FAIL %s: engine gave %d ids, expected %d" % (name, len(got), len(ids)), file=out)
            return False
        if got[k] != want:
            if margins[k] < 2 * tol:
                print("PASS %s identical for %d/%d ids, then a near-tie (reference top-2 margin %.2g < %g) broken the other way"
                      % (name, k, len(ids), margins[k], 2 * tol), file=out)
                return True
            print("FAIL %s: step %d: engine chose %d, reference %d with a top-2 margin of %.3g; ref %s; got %s"
                  % (name, k, got[k], want, margins[k], ids, got), file=out)
            return False
    if len(got) != len(ids):
        print("FAIL %s: engine gave %d ids, expected %d" % (name, len(got), len(ids)), file=out)
        return False
    print("PASS %s identical %d ids (smallest reference margin %.2g)" % (name, len(ids), min(margins)), file=out)
    return True


def selftest():
    class Sink:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

    tol = 1e-3
    rng = np.random.default_rng(0)
    ref = (rng.standard_normal((3, 50)) * 3).astype("<f4")
    faults = []
    with tempfile.TemporaryDirectory() as d:
        rp, gp = os.path.join(d, "ref.f32"), os.path.join(d, "got.f32")
        ref.tofile(rp)

        def logits_case(label, got, rows=None, expect=False):
            got.astype("<f4").tofile(gp)
            s = Sink()
            ok = cmp_logits("x", rp, gp, 50, rows, tol, s)
            if ok != expect:
                faults.append("%s: %s" % (label, s.text.strip()))

        logits_case("identical", ref.copy(), expect=True)
        g = ref.copy(); g[2, 7] += 2 * tol
        logits_case("off by 2*tol", g)
        g = ref.copy(); g[1, 3] = np.nan
        logits_case("NaN", g)
        logits_case("missing row", ref[:2].copy())
        logits_case("first row only", ref[:1].copy(), rows=1, expect=True)

        with open(rp.replace(".f32", ".txt"), "w") as f:
            f.write("ids: 5 6 7\nmargins: 0.5 0.0001 0.3\n")

        def greedy_case(label, text, expect):
            with open(gp, "w") as f:
                f.write(text)
            s = Sink()
            if cmp_greedy("x", rp.replace(".f32", ".txt"), gp, tol, s) != expect:
                faults.append("%s: %s" % (label, s.text.strip()))

        greedy_case("identical ids", "5 6 7\n", True)
        greedy_case("near-tie flip", "5 9 1\n", True)
        greedy_case("wide-margin flip", "4 6 7\n", False)
        greedy_case("too short", "5 6\n", False)
    if faults:
        print("FAIL compare-selftest: " + "; ".join(faults))
        return False
    print("PASS compare-selftest (a 2*tol error, a NaN, a missing row and a wide-margin flip are caught)")
    return True


def main(argv):
    import argparse
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("logits")
    p.add_argument("name"); p.add_argument("ref"); p.add_argument("got")
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--rows", type=int)
    p.add_argument("--tol", type=float, default=1e-3)
    p = sub.add_parser("greedy")
    p.add_argument("name"); p.add_argument("ref"); p.add_argument("got")
    p.add_argument("--tol", type=float, default=1e-3)
    p = sub.add_parser("batch")
    p.add_argument("list")
    p.add_argument("--tol", type=float, default=1e-3)
    sub.add_parser("selftest")
    a = ap.parse_args(argv)
    if a.cmd == "logits":
        ok = cmp_logits(a.name, a.ref, a.got, a.vocab, a.rows, a.tol)
    elif a.cmd == "greedy":
        ok = cmp_greedy(a.name, a.ref, a.got, a.tol)
    elif a.cmd == "batch":
        ok = True
        with open(a.list) as f:
            for line in f:
                w = line.split()
                if not w:
                    continue
                if w[0] == "logits" and len(w) == 6:
                    ok &= cmp_logits(w[1], w[2], w[3], int(w[4]), None if w[5] == "-" else int(w[5]), a.tol)
                elif w[0] == "positions" and len(w) == 6:
                    ok &= cmp_positions(w[1], w[2], w[3], int(w[4]), float(w[5]), a.tol)
                elif w[0] == "greedy" and len(w) == 4:
                    ok &= cmp_greedy(w[1], w[2], w[3], a.tol)
                else:
                    print("FAIL compare-batch: bad line %r in %s" % (line.strip(), a.list))
                    ok = False
    else:
        ok = selftest()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
