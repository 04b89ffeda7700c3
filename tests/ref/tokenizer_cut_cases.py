#!/usr/bin/python3
"""tokenizer_cut_cases.py MODE QWEN_TOKENIZER_JSON OUT_TOKENIZER_JSON OUT_INPUTS_JSONL

Small byte-level tokenizers (Qwen's pipeline, other vocabulary and merges) and texts for them, to
check src/tokenizer/cut.c's rule against Hugging Face tokenizers: BPE may cut a word between two
characters only where no token can span them.

  trained  byte-level BPE trained here on runs of 24 CJK, Hangul and Cyrillic letters whose bytes
           overlap, 150 merges: tokens across character edges of every kind, as real vocabularies
           have; 600 texts of the same letters.
  crafted  six groups of merges, each making BPE merge across the edge of one pair of characters
           through one kind of crossing only (a partial last byte and a partial lead byte; a whole
           character and a 1- or 2-byte prefix of the next; a 1- or 2-byte suffix and a whole next
           character; the same in 2-byte characters): cutting there, as a rule that skipped that
           kind would, changes the ids. 208 texts.
"""
import json
import random
import sys


def byte_chars():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BC = byte_chars()


def bl(x):
    """A piece (str or bytes) as byte-level text."""
    return "".join(BC[b] for b in (x.encode() if isinstance(x, str) else x))


def raw(x):
    return x.encode() if isinstance(x, str) else x


def trained(rnd):
    alpha = list("中文的一是不了人我在有他这为之大来以个国") + list("가나다") + list("жзий")
    weights = [rnd.random() ** 2 + 0.05 for _ in alpha]

    def word():
        return "".join(rnd.choices(alpha, weights, k=rnd.randint(1, 24)))

    words = {}
    for _ in range(3000):
        k = tuple(bytes([b]) for b in word().encode())
        words[k] = words.get(k, 0) + 1
    have = set(bytes([b]) for b in range(256))
    merges = []
    for _ in range(150):
        cnt = {}
        for w, f in words.items():
            for a, b in zip(w, w[1:]):
                cnt[(a, b)] = cnt.get((a, b), 0) + f
        cand = sorted(((c, p) for p, c in cnt.items() if p[0] + p[1] not in have), key=lambda x: (-x[0], x[1]))
        if not cand:
            break
        # mostly the most frequent pair, sometimes one of the next few: more kinds of crossings
        a, b = cand[min(len(cand) - 1, int(rnd.random() ** 4 * 8))][1]
        have.add(a + b)
        merges.append((a, b))
        nw = {}
        for w, f in words.items():
            o, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    o.append(a + b)
                    i += 2
                else:
                    o.append(w[i])
                    i += 1
            nw[tuple(o)] = nw.get(tuple(o), 0) + f
        words = nw
    texts = []
    for _ in range(600):
        parts = [word() for _ in range(rnd.randint(1, 6))]
        seps = [rnd.choice([" ", "", ", ", "x", "1", " a"]) for _ in parts]
        texts.append("".join(p + s for p, s in zip(parts, seps)))
    return merges, texts


def crafted(rnd):
    B = bytes.fromhex
    groups = [
        # the last byte of 中 (e4 b8 ad) and the lead byte of 丁 (e4 b8 81)
        [(B("ad"), B("e4")), (B("e4"), B("b8")), (B("e4b8"), B("ad"))],
        # 的 whole, then the lead byte of 看 (e7 9c 8b)
        [(B("e7"), B("9a")), (B("e79a"), B("84")), ("的", B("e7")), (B("e7"), B("9c")), (B("e79c"), B("8b"))],
        # the last byte of 国 (e5 9b bd), then 文 whole
        [(B("e6"), B("96")), (B("e696"), B("87")), (B("bd"), "文"), (B("e5"), B("9b")), (B("e59b"), B("bd"))],
        # 人 whole, then the first two bytes of 时 (e6 97 b6)
        [(B("e4"), B("ba")), (B("e4ba"), B("ba")), (B("e6"), B("97")), ("人", B("e697")), (B("e697"), B("b6"))],
        # the last two bytes of 大 (e5 a4 a7), then 小 (e5 b0 8f) whole
        [(B("a4"), B("a7")), (B("e5"), B("b0")), (B("e5b0"), B("8f")), (B("a4a7"), "小"), (B("e5"), B("a4a7"))],
        # 2-byte characters: the last byte of ж (d0 b6), the lead byte of и (d0 b8)
        [(B("b6"), B("d0")), (B("d0"), B("b6")), (B("d0"), B("b8"))],
    ]
    merges, have = [], set()
    for g in groups:
        for a, b in g:
            if raw(a) + raw(b) not in have:
                have.add(raw(a) + raw(b))
                merges.append((raw(a), raw(b)))
    chars = "中丁的看国文人时大小жи"
    texts = ["中丁", "的看", "国文", "人时", "大小", "жи", chars, "x中丁 的看, 国文1人时 大小жи"]
    texts += ["".join(rnd.choice(chars) for _ in range(rnd.randint(2, 30))) for _ in range(200)]
    return merges, texts


def main():
    mode, src, out, inp = sys.argv[1:5]
    rnd = random.Random(7)
    merges, texts = {"trained": trained, "crafted": crafted}[mode](rnd)
    t = json.load(open(src, encoding="utf-8"))
    vocab = {BC[b]: b for b in range(256)}
    for a, b in merges:
        vocab[bl(a + b)] = len(vocab)
    t["model"]["vocab"] = vocab
    t["model"]["merges"] = [[bl(a), bl(b)] for a, b in merges]
    t["added_tokens"] = []
    json.dump(t, open(out, "w", encoding="utf-8"), ensure_ascii=False)
    with open(inp, "w", encoding="utf-8") as f:
        for x in texts:
            f.write(json.dumps({"text": x}, ensure_ascii=False) + "\n")


main()
