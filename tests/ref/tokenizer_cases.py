#!/usr/bin/python3
"""tokenizer_cases.py - test inputs for comparing our tokenizer with Hugging Face tokenizers.

  tokenizer_cases.py encode [N_REAL]            JSONL {"text"}: edge cases + N_REAL real texts
  tokenizer_cases.py decode VOCAB_JSON ENC_IDS  JSONL {"ids", "skip_special_tokens"}: decode cases
                                                built from the reference's encodings (ENC_IDS,
                                                JSONL {"ids"}) and the vocabulary's byte tokens
  tokenizer_cases.py corpus BYTES               plain text lines of real multilingual text, for the
                                                benchmark (about BYTES bytes)
  tokenizer_cases.py docs BYTES                 documents of 4-16 KB (about BYTES bytes in all), each
                                                ended by a record separator (U+001E) and a newline
  tokenizer_cases.py cjk BYTES                  documents of 50 catalog strings in one of Japanese,
                                                Chinese (simplified, traditional) or Korean, ended
                                                the same way

Documents mix paragraphs in several languages, C source (/usr/include/*.h), tables of
numbers and runs of white space, newlines kept; the benchmark encodes one per call and the encode
cases hold a few (group "doc").

Real text: the translations in the gettext catalogs under /usr/share/locale (100+ languages), read
straight from the .mo files. Everything is deterministic (fixed seeds, sorted file lists), so a
failure names the same case on every run. Nothing here is a golden file: the expected outputs are
computed by tests/ref/tokenizer_ref.js at test time."""
import itertools
import json
import os
import random
import struct
import sys


def mo_strings(path):
    """The translated strings of one .mo catalog (UTF-8 catalogs only)."""
    try:
        data = open(path, "rb").read()
    except OSError:
        return []
    if len(data) < 28:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if not order:
        return []
    n, _, toff = struct.unpack(order + "III", data[8:20])
    out = []
    for i in range(n):
        ln, off = struct.unpack(order + "II", data[toff + 8 * i: toff + 8 * i + 8])
        raw = data[off: off + ln]
        for part in raw.split(b"\0"):  # plural forms are NUL-separated
            try:
                s = part.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if s and not s.startswith("Project-Id-Version"):
                out.append(s)
    return out


def real_texts(n_total, seed=1):
    """About n_total texts, spread evenly over the languages found."""
    root = "/usr/share/locale"
    langs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d, "LC_MESSAGES")))
    per_lang = {}
    for lang in langs:
        d = os.path.join(root, lang, "LC_MESSAGES")
        strs = []
        # a few catalogs per language are plenty (reading all 4,000 takes seconds)
        for f in [f for f in sorted(os.listdir(d)) if f.endswith(".mo")][:6]:
            strs.extend(mo_strings(os.path.join(d, f)))
        if strs:
            per_lang[lang] = strs
    rnd = random.Random(seed)
    out = []
    k = max(2, n_total // max(1, len(per_lang)))
    for lang, strs in per_lang.items():
        pick = rnd.sample(strs, min(len(strs), k))
        out.extend(pick)
        # one paragraph per language: many strings joined with spaces and newlines
        para = rnd.sample(strs, min(len(strs), 40))
        out.append("".join(s + rnd.choice([" ", "\n", "\n\n", "  ", "\r\n", "\t"]) for s in para))
    return out, sorted(per_lang)


def documents(want, seed=11):
    """Documents of 4-16 KB, about want bytes in all: each a shuffle of blocks of real text in a few
    languages (one string a line, blank lines between paragraphs), a slice of C source, a table of
    numbers and stretches of indentation, trailing spaces and blank lines. None holds U+001E."""
    texts, _ = real_texts(20000, seed=3)
    texts = [t for t in texts if "\x1e" not in t]
    # the system's C headers (they do not change with this repository, so figures compare across
    # commits); this repository's src/ where there are none
    code = []
    for root in ("/usr/include", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")):
        for d, _, fs in sorted(os.walk(root)):
            for f in sorted(fs):
                if f.endswith((".c", ".h")) and (d == root or root != "/usr/include"):
                    code.append(open(os.path.join(d, f), encoding="utf-8", errors="replace").read())
        if code:
            break
    code = [c for c in code if "\x1e" not in c] or ["int main(void) {\n    return 0;\n}\n"]
    rnd = random.Random(seed)
    out, total = [], 0

    def prose(n):
        t = rnd.randrange(len(texts))
        return "\n".join(texts[(t + k) % len(texts)] for k in range(n)) + rnd.choice(["\n\n", "\n", "\r\n\r\n", "\n\n\n"])

    def source():
        c = code[rnd.randrange(len(code))]
        a = rnd.randrange(max(1, len(c) - 2000))
        return c[a: a + rnd.randrange(500, 3000)] + "\n"

    def numbers():
        rows = []
        for _ in range(rnd.randrange(3, 20)):
            cols = [rnd.choice(["%d" % rnd.randrange(10 ** rnd.randrange(1, 12)),
                                "%.*f" % (rnd.randrange(1, 7), rnd.uniform(-1e6, 1e6)),
                                "%.3e" % rnd.uniform(-1e9, 1e9), "0x%08X" % rnd.randrange(1 << 32),
                                "%d,%03d,%03d" % (rnd.randrange(1, 999), rnd.randrange(1000), rnd.randrange(1000)),
                                "%d.%d.%d" % (rnd.randrange(10), rnd.randrange(100), rnd.randrange(1000)),
                                "%d%%" % rnd.randrange(101), "2026-%02d-%02d" % (rnd.randrange(1, 13), rnd.randrange(1, 29))])
                    for _ in range(rnd.randrange(2, 8))]
            rows.append(rnd.choice([" | ", "\t", ", ", "  ", " " * rnd.randrange(3, 12)]).join(cols))
        return "\n".join(rows) + "\n\n"

    def spaces():
        return rnd.choice([" " * rnd.randrange(2, 80), "\t" * rnd.randrange(1, 8), "\n" * rnd.randrange(2, 8),
                           "   \n" * rnd.randrange(1, 6), "\r\n" * rnd.randrange(1, 4), " \t \n\n  "])

    while total < want:
        size = rnd.randrange(4000, 16000)
        doc = []
        n = 0
        while n < size:
            k = rnd.random()
            b = prose(rnd.randrange(1, 12)) if k < 0.45 else source() if k < 0.75 else numbers() if k < 0.9 else spaces()
            doc.append(b)
            n += len(b.encode())
        d = "".join(doc)
        out.append(d)
        total += len(d.encode()) + 2
    return out


def edge_cases():
    c = ["", " ", "  ", "   ", "a", "\n", "\t", "\r", "\r\n", "\n\r", "\r\r\n\n", " \n", "\n ", " \n ",
         "hello  world", "hello   world", "hello\t\tworld", "a \n b", "a  \n  b", "a\n\n\nb", "x \r\n y",
         "   leading", "trailing   ", "\t\tindented", "a\u0085b", "\u0085", " \u0085x", "a\u00a0b", "\u00a0\u00a0x",
         "a\ufeffb", "\ufeff", "\ufeffstart", "a\u200bb", "\u200b", "a\u3000b", "\u3000\u3000", "x\u1680y",
         "x\u2028y", "x\u2029y", "x\u202fy", "x\u205fy", "x\u180ey", "x\u001cy\u001dz\u001e\u001f", "x\u000bv\u000cf",
         "x\u2000\u2001\u200ay", "\u00a0 x", " \u00a0x", "a\u0000b", "\u0000", "\u007f\u0080\u009f",
         # digits and numbers
         "0", "1234567890", "3.14159", "1,000,000.00", "-42", "+1e10", "0x1F", "v1.2.3",
         "12345678901234567890123456789012345678901234567890", "١٢٣٤٥", "۱۲۳", "०१२३", "①②③", "Ⅻ Ⅳ",
         "½ ¾", "²³", "𝟙𝟚𝟛", "1st 2nd 3rd 4th", "$100", "100%", "€5,50",
         # contractions in every case
         "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D", "'Re 'rE 'Ve 'vE 'Ll 'lL", "don't", "DON'T",
         "I'm I'M i'M", "you're YOU'RE You'Re", "they've THEY'VE", "we'll WE'LL We'Ll", "he'd HE'D",
         "it's IT'S It'S", "'ſ", "x'ſy", "'ſt", "'ſſ", "'Ss", "’s", "it’s", "''s", "'x", "'", "x'", "'123", "'s'", "'sss", "'lll",
         "'rex", "'r", "'v", "'l", "l'amour", "dell'arte", "'''", " 's", "\n's", "'\u00e9", "O'Neil",
         # emoji
         "👨‍👩‍👧‍👦", "👍🏽", "🏳️‍🌈", "🇯🇵🇺🇸", "😀😃😄", "a😀b", " 😀", "❤️", "👩🏾‍💻 coding", "🧑‍🤝‍🧑",
         # scripts
         "中文测试，你好！", "日本語のテキスト、カタカナ。ひらがな", "한국어 텍스트 ㄱㄴㄷ", "ภาษาไทยเป็นภาษาที่สวยงาม",
         "ພາສາລາວ ສະບາຍດີ", "ភាសាខ្មែរ សួស្តី", "اَلْعَرَبِيَّةُ لُغَةٌ", "مرحبا بالعالم", "שָׁלוֹם עוֹלָם",
         "नमस्ते दुनिया", "क्षत्रिय", "தமிழ் மொழி", "বাংলা ভাষা", "ગુજરાતી", "ਪੰਜਾਬੀ", "తెలుగు", "ಕನ್ನಡ",
         "മലയാളം", "සිංහල", "မြန်မာဘာသာ", "བོད་ཡིག", "ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ", "ꦧꦱꦗꦮ",
         "Ελληνικά", "Русский язык", "Українська", "Tiếng Việt", "Türkçe İıŞş", "Straße STRASSE ẞ",
         "ǅ ǈ ǋ", "ﬁ ﬂ", "Ⅷ", "㈱", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ", "ﾊﾝｶｸ", "\u4e00\u9fff\u3400\U00020000\U0002a6d6",
         # NFD and other normalization cases
         "e\u0301", "Cafe\u0301", "cafe\u0301 au lait", "\u1100\u1161\u11a8", "\u1100\u1161 \u11a8", "A\u030a",
         "Tie\u0302\u0301ng Vie\u0323t", "a\u0323\u0301", "a\u0301\u0323", "\u0958", "\u212b", "\u1e9b\u0323",
         "\u0b47\u0b3e", "\u0b47 \u0b3e", "\u0d46\u0d3e", "\u09c7\u09be", "\u0dd9\u0dcf", "\u1025\u102e",
         "\uac00\u11a8", "\u0301", "\u0301\u0301\u0301", " \u0301", "x\u0301\u0302\u0303\u0304",
         "\u00c5\u0301", "\U0001d15e", "\U00011099\U000110ba", "\U00011131\U00011127", "\u2126", "\u0344",
         "\u0f73", "\u0f75", "\uf900", "\ufb1d", "\u0340\u0341", "o\u0308\u0304", "\u05d1\u05bc\u05b0",
         # composed forms NFC keeps (safe to unicode.c since 2026-12-06), then marks that reorder or compose
         "\u00e9\u0323", "x\u00e9\u0323y", "\u304c\u3099", "\u304c\u0323", "\u304b\u3099", "\u304c\u309a\u3099",
         "\u30ac\u30d1\u30d0", "\u00c5\u0323\u030a", "\u1e69\u0323", "\u01d5\u0304\u0316", "\u0929\u093c",
         # code, JSON, URLs, markup
         "int main(void) {\n    printf(\"hi\\n\");\n    return 0;\n}\n",
         "def f(x):\n\tif x:\n\t\treturn x ** 2  # square\n\treturn None\n",
         "const f = (a, b) => a?.b ?? [1, 2, 3].map(x => x * 2);",
         "fn main() -> Result<(), Box<dyn Error>> {\n    let v: Vec<u8> = vec![];\n    Ok(())\n}",
         "package main\n\nfunc main() {\n\tfmt.Println(\"héllo\")\n}\n", "SELECT * FROM t WHERE a >= 10;",
         "#include <stdio.h>\r\n#define X(a) ((a)+1)\r\n", "<div class=\"x\">&amp;&lt;</div>", "<br/>",
         "{\"key\": [1, 2.5, true, null], \"nested\": {\"a\": \"\\u00e9\"}}", "[{}]", "{\"a\":\"b\"}",
         "https://example.com/path?q=1&r=%20x#frag", "http://[::1]:8080/", "user.name+tag@example.co.uk",
         "C:\\Users\\name\\file.txt", "/usr/local/bin/", "# Title\n\n- item\n- **bold** _it_\n\n```py\nx\n```",
         "a|b|c\n---|---|---", "    four spaces", "\t\ttabs", "!!!", "...", "?!", "—–-", "«»“”„", "(((x)))",
         "a.b,c;d:e", "!\n\n", " !\r\n", "x !!\ny", "$$$$", "@@@ \n", "…", "¿¡", "・", "。\n", "\\n",
         # special tokens in prose
         "Hello<|im_start|>user\nHi<|im_end|>", "<think>\nreasoning\n</think>\n\nanswer",
         "<|im_start|", "<|im_start|<|im_end|>", "<<|endoftext|>>", "<|endoftext|><|endoftext|>",
         " <|im_start|> ", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
         "<|vision_start|><|image_pad|><|vision_end|>", "<think></think>", "x<think>y", "<|IM_START|>",
         "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat's 2+2?<|im_end|>\n<|im_start|>assistant\n",
         "<tool_response>ok</tool_response>", "<|endoftext|>" * 5, "a<|box_start|>b<|box_end|>c",
         ]
    c = [("edge", x) for x in c]
    # every string of length <= 3 over characters that matter to the split regex
    alpha = [" ", "\t", "\r", "\n", "a", ".", "1", "\u00a0", "\u0085", "\u3000", "'", "s", "\u0301", "中"]
    for n in (1, 2, 3):
        for t in itertools.product(alpha, repeat=n):
            c.append(("combo", "".join(t)))
    # length 4 over a smaller set
    for t in itertools.product([" ", "\r", "\n", "a", "!"], repeat=4):
        c.append(("combo", "".join(t)))
    # long runs: BPE and the split must stay linear
    c += [("long", x) for x in ["a" * 100000, " " * 100000, "\n" * 100000, "1" * 100000, "!" * 100000, "中" * 100000,
          "é" * 50000, "e\u0301" * 30000, "ab" * 50000, "\r\n" * 50000, "Ġ" * 20000, "🙂" * 20000,
          " a" * 50000, "\u0301" * 20000]]
    rnd = random.Random(7)
    for n in (49, 50, 64, 65, 200, 1000, 20000):  # around and above the flat/heap switch in bpe.c
        for letters in ("abcdefghijklmnopqrstuvwxyz", "etaoinshrdlu", "абвгдежзийклмнопрстуфхцчшщъыьэюя"):
            c.append(("long", "".join(rnd.choice(letters) for _ in range(n))))
    # random code points from many blocks
    blocks = [(0x20, 0x7e), (0xa0, 0x24f), (0x300, 0x36f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff),
              (0x900, 0xdff), (0xe00, 0xeff), (0x1100, 0x11ff), (0x1780, 0x17ff), (0x2000, 0x206f),
              (0x3000, 0x30ff), (0x4e00, 0x4fff), (0xac00, 0xad00), (0xff00, 0xffef), (0x1f300, 0x1f6ff),
              (0x11000, 0x1107f), (0x11100, 0x1114f), (0x1d100, 0x1d1ff)]
    for k in range(300):
        lo, hi = blocks[k % len(blocks)]
        lo2, hi2 = blocks[rnd.randrange(len(blocks))]
        n = rnd.randrange(1, 40)
        c.append(("random", "".join(chr(rnd.randint(lo, hi) if rnd.random() < 0.6 else rnd.randint(lo2, hi2)) for _ in range(n))))
    return c + whole_start_cases()


def whole_start_cases(n=600, seed=23):
    """Words that mix 2- and 3-byte characters of many scripts, with and without a leading space,
    mark or ASCII letter: bpe.c starts some characters whole instead of as bytes (wchar.c), and
    which ones depends on the neighbours, so every kind of neighbour must come up. Pieces of real
    catalog strings (so real multi-character merges and the merges across a character's edge, as
    in した or 습니다, occur) with some characters replaced by random ones of whole blocks."""
    rnd = random.Random(seed)
    strs = []
    for lang in ("ja", "ko", "zh_CN", "zh_TW", "ru", "el", "ar", "he", "th", "hi", "fr", "vi"):
        d = os.path.join("/usr/share/locale", lang, "LC_MESSAGES")
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d))[:30]:
            if f.endswith(".mo"):
                strs.extend(s for s in mo_strings(os.path.join(d, f)) if any(ord(ch) >= 0x80 for ch in s))
    blocks = [(0x3041, 0x3096), (0x30a1, 0x30fc), (0x4e00, 0x9fff), (0xac00, 0xd7a3), (0x0410, 0x044f),
              (0x0391, 0x03c9), (0x00c0, 0x00ff), (0x0621, 0x064a), (0x05d0, 0x05ea), (0x0e01, 0x0e3a),
              (0x0905, 0x0939), (0x0100, 0x017f)]
    lead = ["", "", "", " ", " ", "\u3001", "\u3002", "\u300c", "(", "-", "\u00a0", "x", "Q", "\u3000"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rnd.randrange(1, 6)):
            src = rnd.choice(strs) if strs else ""
            i = rnd.randrange(len(src)) if src else 0
            word = list(src[i:i + rnd.randrange(1, 40)])
            for k in range(len(word)):
                r = rnd.random()
                if r < 0.15 or not src:
                    lo, hi = blocks[rnd.randrange(len(blocks))]
                    word[k] = chr(rnd.randint(lo, hi))
                elif r < 0.18:
                    word[k] = rnd.choice("abcXYZ ")
            parts.append(rnd.choice(lead) + "".join(word))
        out.append(("whole", "".join(parts)))
    return out


def byte_tokens(vocab_path):
    """id of each single-byte token, via the GPT-2 byte-level alphabet."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    ch = {b: chr(c) for b, c in zip(bs, cs)}
    vocab = json.load(open(vocab_path, encoding="utf-8"))
    return [vocab[ch[b]] for b in range(256)]


def decode_cases(vocab_path, enc_path):
    bt = byte_tokens(vocab_path)
    rnd = random.Random(11)
    streams = [json.loads(l)["ids"] for l in open(enc_path) if l.strip()]
    out = []

    def add(ids, skip=None):
        for s in ([False, True] if skip is None else [skip]):
            out.append({"ids": ids, "skip_special_tokens": s})

    # whole streams, and every prefix of a few multilingual ones
    for ids in streams[:: max(1, len(streams) // 300)]:
        if len(ids) <= 5000:
            add(ids)
    rich = [s for s in streams if 20 <= len(s) <= 120]
    for ids in rich[:: max(1, len(rich) // 12)][:12]:
        for k in range(len(ids) + 1):
            add(ids[:k], skip=k % 2 == 1)
    # invalid UTF-8: runs of byte tokens biased to lead and continuation bytes
    pools = [list(range(0x80, 0xc0)), list(range(0xc0, 0x100)), [0xe0, 0xed, 0xf0, 0xf4, 0xc2, 0xdf],
             list(range(0x20, 0x7f))]
    for _ in range(500):
        n = rnd.randrange(1, 12)
        ids = [bt[rnd.choice(rnd.choice(pools))] for _ in range(n)]
        add(ids, skip=False)
    for seq in ([0xe4, 0xbd], [0xe4, 0xbd, 0xa0], [0xf0, 0x9f, 0x98], [0xf0, 0x9f, 0x98, 0x80], [0xed, 0xa0, 0x80],
                [0xc0, 0x80], [0xf5], [0xff, 0xfe], [0xe0, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xc2]):
        add([bt[b] for b in seq], skip=False)
    # random ids over the whole range, special ones included, both ways
    for _ in range(200):
        n = rnd.randrange(0, 30)
        ids = [rnd.randrange(0, 151669) if rnd.random() < 0.9 else rnd.randrange(151643, 151669) for _ in range(n)]
        add(ids)
    # special tokens between the bytes of one character
    e4 = [bt[0xe4], bt[0xbd], bt[0xa0]]
    for sp in (151643, 151644, 151657, 151667):
        add([e4[0], sp, e4[1], e4[2]])
        add([e4[0], e4[1], sp, e4[2], 9707])
    return out


def cjk_documents(want, seed=17):
    """Documents in one CJK language each, about want bytes in all: 50 translated strings of that
    language's catalogs (ja, zh_CN, zh_TW, ko) a document, one string a line, no string twice. Long
    runs of Han, kana and Hangul seldom repeat, so they test BPE itself more than the word caches."""
    rnd = random.Random(seed)
    out, total = [], 0
    pools = []
    for lang in ("ja", "zh_CN", "zh_TW", "ko"):
        d = os.path.join("/usr/share/locale", lang, "LC_MESSAGES")
        if not os.path.isdir(d):
            continue
        strs = []
        for f in sorted(os.listdir(d)):
            if f.endswith(".mo"):
                strs.extend(s for s in mo_strings(os.path.join(d, f)) if "\x1e" not in s)
        strs = sorted(set(strs))
        rnd.shuffle(strs)
        pools.append(strs)
    k = 0
    while total < want and any(pools):
        pool = pools[k % len(pools)]
        k += 1
        if not pool:
            continue
        doc = "\n".join(pool[:50]) + "\n"
        del pool[:50]
        out.append(doc)
        total += len(doc.encode()) + 2
    return out


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    w = sys.stdout
    if mode == "encode":
        n_real = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
        texts, langs = real_texts(n_real)
        sys.stderr.write("tokenizer_cases: %d real texts in %d languages\n" % (len(texts), len(langs)))
        for g, t in edge_cases():
            w.write(json.dumps({"text": t, "group": g}, ensure_ascii=False) + "\n")
        for t in texts:
            w.write(json.dumps({"text": t, "group": "real"}, ensure_ascii=False) + "\n")
        for t in documents(200000, seed=13):
            w.write(json.dumps({"text": t, "group": "doc"}, ensure_ascii=False) + "\n")
        for t in cjk_documents(60000, seed=19):
            w.write(json.dumps({"text": t, "group": "doc"}, ensure_ascii=False) + "\n")
    elif mode == "decode":
        for o in decode_cases(sys.argv[2], sys.argv[3]):
            w.write(json.dumps(o) + "\n")
    elif mode == "corpus":
        want = int(sys.argv[2])
        texts, _ = real_texts(20000, seed=3)
        random.Random(5).shuffle(texts)
        n = 0
        for t in texts:
            line = " ".join(t.split("\n"))
            if not line.strip():
                continue
            w.write(line + "\n")
            n += len(line.encode()) + 1
            if n >= want:
                break
    elif mode == "docs":
        for d in documents(int(sys.argv[2])):
            w.write(d + "\x1e\n")
    elif mode == "cjk":
        for d in cjk_documents(int(sys.argv[2])):
            w.write(d + "\x1e\n")
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
