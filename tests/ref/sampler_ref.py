#!/usr/bin/python3
"""sampler_ref.py - reference of the sampler's filters, written from the definitions (numpy, float64).

    /usr/bin/python3 tests/ref/sampler_ref.py CASES.bin > EXPECTED.txt

CASES.bin holds records, little-endian:
    int32 n_vocab, top_k, n_prompt, n_gen
    float32 temperature, top_p, min_p, presence_penalty, frequency_penalty, repetition_penalty
    int32 prompt[n_prompt], gen[n_gen]       (the context: prompt tokens, then generated tokens)
    float32 logits[n_vocab]
For each record one line is written:
    FRAGILE N id prob id prob ...            (the surviving ids in increasing order, probabilities
                                              renormalized over them)
FRAGILE is 1 when a float32 engine could legitimately decide a boundary the other way (a value within
1e-5 of a top-p / min-p / 30-nat threshold); the test skips those records.

Definitions (the order Hugging Face's logits processors use):
  repetition penalty  HF RepetitionPenaltyLogitsProcessor over prompt + generated ids: a logit < 0
                      is multiplied by the penalty, otherwise divided. Done in float32, as the engine
                      does, so that ties created or broken by it are the same.
  presence/frequency  OpenAI: logit -= frequency * count + presence * (count > 0), count over the
                      generated ids only (float32 too).
  temperature         logits / T.
  top-k               keep logits >= the k-th largest (ties with it kept), when 0 < k < n_vocab.
  top-p               probabilities p over the top-k set; keep id i when the sum of the p that are
                      strictly greater than p_i is < top_p.
  min-p               keep id i when p_i >= min_p * max(p).
  30-nat floor        when top-k is off, ids with (logit - max) / T < -30 are dropped (the engine
                      never computes their e^-30-sized weights).
"""
import struct
import sys

import numpy as np


def read_cases(data):
    off = 0
    while off < len(data):
        n, k, np_, ng = struct.unpack_from("<4i", data, off)
        off += 16
        t, tp, mp, pres, freq, rep = struct.unpack_from("<6f", data, off)
        off += 24
        prompt = np.frombuffer(data, "<i4", np_, off)
        off += 4 * np_
        gen = np.frombuffer(data, "<i4", ng, off)
        off += 4 * ng
        logits = np.frombuffer(data, "<f4", n, off).copy()
        off += 4 * n
        yield dict(n=n, top_k=k, prompt=prompt, gen=gen, temperature=t, top_p=tp, min_p=mp,
                   presence=np.float32(pres), frequency=np.float32(freq), repetition=np.float32(rep),
                   logits=logits)


def reference(c):
    l = c["logits"].astype(np.float32)
    n = c["n"]
    seen = np.unique(np.concatenate([c["prompt"], c["gen"]]).astype(np.int64))
    seen = seen[(seen >= 0) & (seen < n)]
    if c["repetition"] != np.float32(1):
        v = l[seen]
        l[seen] = np.where(v < 0, v * c["repetition"], v / c["repetition"]).astype(np.float32)
    gen = c["gen"][(c["gen"] >= 0) & (c["gen"] < n)]
    if len(gen) and (c["presence"] != 0 or c["frequency"] != 0):
        ids, counts = np.unique(gen, return_counts=True)
        pen = (c["frequency"] * counts.astype(np.float32) + c["presence"]).astype(np.float32)
        l[ids] = (l[ids] - pen).astype(np.float32)
    fragile = False
    x = l.astype(np.float64) / float(c["temperature"])
    keep = np.ones(n, bool)
    k = c["top_k"]
    if 0 < k < n:
        thr = np.sort(l)[-k]
        keep &= l >= thr
    else:
        d = x - x.max()
        keep &= d >= -30
        fragile |= bool(np.any(np.abs(d + 30) < 1e-4))
    p = np.where(keep, np.exp(x - x[keep].max()), 0.0)
    p /= p.sum()
    if c["top_p"] < 1:
        target = float(c["top_p"])
        order = np.argsort(-p, kind="stable")
        ps = p[order]
        # mass strictly heavier than each entry: cumulative sum before the first of its tie group
        before = np.concatenate([[0.0], np.cumsum(ps)[:-1]])
        first = np.searchsorted(-ps, -ps, side="left")
        heavier = before[first]
        nucleus = np.zeros(n, bool)
        nucleus[order] = heavier < target
        keep &= nucleus
        live = ps > 0
        fragile |= bool(np.any(np.abs(heavier[live] - target) < 1e-5))
    if c["min_p"] > 0:
        r = p / p.max()
        keep &= r >= float(c["min_p"])
        fragile |= bool(np.any(np.abs(r[p > 0] - float(c["min_p"])) < 1e-5))
    q = np.where(keep, p, 0.0)
    q /= q.sum()
    ids = np.nonzero(keep)[0]
    return fragile, ids, q[ids]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    out = sys.stdout
    for c in read_cases(data):
        fragile, ids, probs = reference(c)
        parts = ["%d %d" % (int(fragile), len(ids))]
        parts += ["%d %.9e" % (i, p) for i, p in zip(ids, probs)]
        out.write(" ".join(parts) + "\n")


if __name__ == "__main__":
    main()
