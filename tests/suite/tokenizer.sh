#!/bin/bash
# tokenizer.sh - our tokenizer against Hugging Face tokenizers (npm `tokenizers`, Rust core) on the
# real Qwen3 tokenizer: ~3,600 regex edge cases and combinations, long runs, random code points,
# ~2,000 real texts in ~190 languages from the gettext catalogs, and 19 documents of 4-16 KB
# (paragraphs in several languages, C source, tables of numbers, white-space runs) and a few CJK ones,
# 600 words mixing 2- and 3-byte characters of many scripts (bpe.c's whole-character starts); then decode
# (whole and streamed) of ~2,000 id lists: the reference's own encodings and every prefix of some,
# invalid UTF-8 byte runs, random ids, skip-special-tokens both ways; small tokenizers for the
# non-monotone merges of wchar.c and the cuts of cut.c. Every case must match exactly.
# Expected outputs are computed here by tests/ref/tokenizer_ref.js; nothing golden is committed.
set -u
. "$(dirname "$0")/../lib.sh"
expect 21
T=${QWEN3_TOKENIZER:?}
D=$QWEN3_TMP/tokenizer
REF=$QWEN3_ROOT/tests/ref
mkdir -p "$D"
if ! node -e "require('$QWEN3_ROOT/tests/node/node_modules/tokenizers')" 2>/dev/null; then
    echo "FAIL tokenizer.reference: npm package tokenizers is missing (run scripts/setup.sh)"
    exit 0
fi
run_ref() { node "$REF/tokenizer_ref.js" "$T" "$@"; }

# encode, added tokens matched (the default)
$PY "$REF/tokenizer_cases.py" encode 2000 > "$D/enc_in.jsonl" 2> "$D/cases.log" || echo "FAIL tokenizer.cases: $(cat "$D/cases.log")"
run_ref encode < "$D/enc_in.jsonl" > "$D/enc_hf.jsonl" || echo "FAIL tokenizer.reference: tokenizer_ref.js encode failed"
"$QWEN3" tokenize "$T" --jsonl < "$D/enc_in.jsonl" > "$D/enc_ours.jsonl" || echo "FAIL tokenizer.encode: qwen3 tokenize --jsonl failed"
checked tokenizer.encode $PY "$REF/tokenizer_compare.py" tokenizer.encode "$D/enc_in.jsonl" "$D/enc_hf.jsonl" "$D/enc_ours.jsonl" ids

# encode with added-token text as plain text: HF with no added tokens at all
grep -v '"group": "real"' "$D/enc_in.jsonl" > "$D/plain_in.jsonl"
run_ref encode-plain < "$D/plain_in.jsonl" > "$D/plain_hf.jsonl" || echo "FAIL tokenizer.reference: encode-plain failed"
"$QWEN3" tokenize "$T" --no-special --jsonl < "$D/plain_in.jsonl" > "$D/plain_ours.jsonl" || echo "FAIL tokenizer.plain: qwen3 tokenize --no-special failed"
checked tokenizer.plain $PY "$REF/tokenizer_compare.py" tokenizer.plain "$D/plain_in.jsonl" "$D/plain_hf.jsonl" "$D/plain_ours.jsonl" ids

# decode, whole and streamed
$PY "$REF/tokenizer_cases.py" decode "$T/vocab.json" "$D/enc_hf.jsonl" > "$D/dec_in.jsonl" || echo "FAIL tokenizer.cases: decode cases"
run_ref decode < "$D/dec_in.jsonl" > "$D/dec_hf.jsonl" || echo "FAIL tokenizer.reference: tokenizer_ref.js decode failed"
"$QWEN3" detokenize "$T" --jsonl < "$D/dec_in.jsonl" > "$D/dec_ours.jsonl" || echo "FAIL tokenizer.decode: qwen3 detokenize --jsonl failed"
"$QWEN3" detokenize "$T" --jsonl --stream < "$D/dec_in.jsonl" > "$D/dec_stream.jsonl" || echo "FAIL tokenizer.stream: qwen3 detokenize --stream failed"
checked tokenizer.decode $PY "$REF/tokenizer_compare.py" tokenizer.decode "$D/dec_in.jsonl" "$D/dec_hf.jsonl" "$D/dec_ours.jsonl" text
checked tokenizer.stream $PY "$REF/tokenizer_compare.py" tokenizer.stream "$D/dec_in.jsonl" "$D/dec_hf.jsonl" "$D/dec_stream.jsonl" text

# round trip: decode(encode(text)) == text for every valid input (NFC aside: compare after NFC)
$PY - "$D/enc_in.jsonl" "$D/enc_ours.jsonl" > "$D/rt_in.jsonl" <<'EOF' || echo "FAIL tokenizer.roundtrip: building the id lists exited with status $?"
import json, sys
for i, o in zip(open(sys.argv[1], encoding="utf-8"), open(sys.argv[2])):
    print(json.dumps({"ids": json.loads(o)["ids"], "group": json.loads(i)["group"]}))
EOF
"$QWEN3" detokenize "$T" --jsonl < "$D/rt_in.jsonl" > "$D/rt_ours.jsonl" || echo "FAIL tokenizer.roundtrip: qwen3 detokenize exited with status $?"
checked tokenizer.roundtrip $PY - "$D/enc_in.jsonl" "$D/rt_ours.jsonl" <<'EOF'
import json, sys, unicodedata
bad = 0
n = 0
for i, o in zip(open(sys.argv[1], encoding="utf-8"), open(sys.argv[2], encoding="utf-8")):
    n += 1
    a, b = unicodedata.normalize("NFC", json.loads(i)["text"]), json.loads(o)["text"]
    if a != b:
        bad += 1
        if bad <= 5:
            print("FAIL tokenizer.roundtrip: %r came back as %r" % (a[:60], b[:60]))
print("PASS tokenizer.roundtrip (%d texts)" % n if not bad else "FAIL tokenizer.roundtrip: %d of %d differ" % (bad, n))
EOF

# A merge list that is not monotone (a merge uses the token é before the merge that makes é):
# bpe.c may then not start é whole (wchar.c checks every character's consumers; Qwen's merges never
# trigger it). Byte-level tokenizer.json with Qwen's pipeline and 3 merges, against HF on it.
M=$D/nonmonotone
mkdir -p "$M"
$PY - "$T/tokenizer.json" "$M/tokenizer.json" <<'EOF' || echo "FAIL tokenizer.nonmonotone: building the tokenizer exited with status $?"
import json, sys
t = json.load(open(sys.argv[1], encoding="utf-8"))
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
byte_char = {b: chr(c) for b, c in zip(bs, cs)}
vocab = {byte_char[b]: b for b in range(256)}
e = "".join(byte_char[b] for b in "é".encode())  # "Ã©"
# ranks: (é, y) 0 uses é, which (Ã, ©) makes only at rank 2; (y, z) 1. "éyz" from bytes: yz
# merges first (rank 1), then é: [é, yz]; started whole, é would take y first: [éy, z].
for tok in (e + "y", "yz", e):
    vocab[tok] = len(vocab)
t["model"]["vocab"] = vocab
t["model"]["merges"] = [[e, "y"], ["y", "z"], [e[0], e[1]]]
t["added_tokens"] = []
json.dump(t, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
EOF
printf '%s\n' '{"text": "éyz"}' '{"text": "xéyz"}' '{"text": " éyz"}' '{"text": "ééyz éy é yzé"}' > "$M/in.jsonl"
node "$REF/tokenizer_ref.js" "$M" encode < "$M/in.jsonl" > "$M/hf.jsonl" || echo "FAIL tokenizer.reference: tokenizer_ref.js on the non-monotone tokenizer failed"
QWEN3_NO_CACHE=1 "$QWEN3" tokenize "$M" --jsonl < "$M/in.jsonl" > "$M/ours.jsonl" || echo "FAIL tokenizer.nonmonotone: qwen3 tokenize failed"
checked tokenizer.nonmonotone $PY "$REF/tokenizer_compare.py" tokenizer.nonmonotone "$M/in.jsonl" "$M/hf.jsonl" "$M/ours.jsonl" ids

# Where BPE cuts a word (cut.c): two small tokenizers whose tokens cross character edges in every
# way (tokenizer_cut_cases.py), against HF on each; ours with the tables built on first use
# (QWEN3_NO_CACHE) and read back from the binary cache (the second run of a fresh cache directory).
for m in trained crafted; do
    C=$D/cut-$m
    mkdir -p "$C"
    rm -rf "$C/cache"
    $PY "$REF/tokenizer_cut_cases.py" $m "$T/tokenizer.json" "$C/tokenizer.json" "$C/in.jsonl" || echo "FAIL tokenizer.cut-$m: building the tokenizer exited with status $?"
    node "$REF/tokenizer_ref.js" "$C" encode < "$C/in.jsonl" > "$C/hf.jsonl" || echo "FAIL tokenizer.reference: tokenizer_ref.js on the cut-$m tokenizer failed"
    QWEN3_NO_CACHE=1 "$QWEN3" tokenize "$C" --jsonl < "$C/in.jsonl" > "$C/built.jsonl" || echo "FAIL tokenizer.cut-$m: qwen3 tokenize failed"
    checked tokenizer.cut-$m-built $PY "$REF/tokenizer_compare.py" tokenizer.cut-$m-built "$C/in.jsonl" "$C/hf.jsonl" "$C/built.jsonl" ids
    QWEN3_CACHE_DIR=$C/cache "$QWEN3" tokenize "$C" --jsonl < "$C/in.jsonl" > /dev/null || echo "FAIL tokenizer.cut-$m: qwen3 tokenize (writing the cache) failed"
    ls "$C"/cache/tokenizer-*.bin > /dev/null 2>&1 || echo "FAIL tokenizer.cut-$m-cached: no cache file was written"
    QWEN3_CACHE_DIR=$C/cache "$QWEN3" tokenize "$C" --jsonl < "$C/in.jsonl" > "$C/cached.jsonl" || echo "FAIL tokenizer.cut-$m: qwen3 tokenize (from the cache) failed"
    checked tokenizer.cut-$m-cached $PY "$REF/tokenizer_compare.py" tokenizer.cut-$m-cached "$C/in.jsonl" "$C/hf.jsonl" "$C/cached.jsonl" ids
done
