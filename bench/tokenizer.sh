#!/bin/bash
# tokenizer.sh - encode throughput (MB/s, one thread) of our tokenizer beside Hugging Face
# tokenizers (npm `tokenizers`, Rust core) on the same texts in the same run, and load times.
#
#   bench/tokenizer.sh [TOKENIZER_DIR]      (default ../shared/qwen3-tokenizer)
#
# Texts: "multilingual" = ~2 MB of translations from the gettext catalogs of ~190 languages
# (tests/ref/tokenizer_cases.py corpus), "english" = the license texts in /usr/share/common-licenses
# (~250 KB of English prose), both encoded one line per call; "documents" = ~2 MB of documents of
# 4-16 KB (tokenizer_cases.py docs: paragraphs in several languages, C source, tables of numbers,
# runs of white space, newlines kept), encoded one document per call; "cjk" = ~2 MB of documents of
# 50 catalog strings each in one of Japanese, Chinese or Korean (tokenizer_cases.py cjk: long runs of
# characters that seldom repeat, so most words go through BPE). Best of several runs (5 ours,
# 2 HF); "1st" is the first run alone, with both sides' word caches cold.
# A benchmark, not a test: it prints figures and warns when the two sides' ids differ (token count
# and a checksum of the ids).
set -eu
cd "$(dirname "$0")/.."
T=${1:-${QWEN3_TOKENIZER:-$(cd .. && pwd)/shared/qwen3-tokenizer}}
BUILD=${QWEN3_BUILD:-build/rel}
D=${QWEN3_TMP:-build/testdata}/bench_tokenizer
mkdir -p "$D"
[ -f "$BUILD/libqwen3.a" ] || make -s -j2 "$BUILD/libqwen3.a"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -o "$D/tokenizer_bench" bench/tokenizer_bench.c "$BUILD/libqwen3.a" \
    -ljansson -lutf8proc -lm -pthread
/usr/bin/python3 tests/ref/tokenizer_cases.py corpus 2000000 > "$D/multilingual.txt" 2>/dev/null
/usr/bin/python3 tests/ref/tokenizer_cases.py docs 2000000 > "$D/documents.txt"
/usr/bin/python3 tests/ref/tokenizer_cases.py cjk 2000000 > "$D/cjk.txt"
for f in $(ls /usr/share/common-licenses/* | xargs -n1 readlink -f | sort -u); do cat "$f"; done > "$D/english.txt"
have_hf=1
node -e "require('$PWD/tests/node/node_modules/tokenizers')" 2>/dev/null || have_hf=0
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }
printf '%-13s %6s %9s %10s %8s %7s | %9s %8s %7s\n' text MB tokens "ours MB/s" "HF MB/s" ratio "ours 1st" "HF 1st" ratio
for name in multilingual english documents cjk; do
    unit=lines
    [ $name = documents ] || [ $name = cjk ] && unit=docs
    ours=$("$D/tokenizer_bench" "$T" "$D/$name.txt" 5 $unit)
    hf='{"mb_per_s": 0, "first_mb_per_s": 0, "tokens": 0, "checksum": 0}'
    [ $have_hf = 1 ] && hf=$(RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false node tests/ref/tokenizer_ref.js "$T" bench "$D/$name.txt" 2 $unit)
    o=$(echo "$ours" | field mb_per_s); h=$(echo "$hf" | field mb_per_s)
    ot=$(echo "$ours" | field tokens); ht=$(echo "$hf" | field tokens)
    mb=$(echo "$ours" | field bytes)
    o1=$(echo "$ours" | field first_mb_per_s); h1=$(echo "$hf" | field first_mb_per_s)
    printf '%-13s %6.2f %9s %10.2f %8.2f %6.1fx | %9.2f %8.2f %6.1fx\n' "$name" "$(echo "$mb / 1000000" | bc -l)" "$ot" \
        "$o" "$h" "$(echo "if ($h > 0) $o / $h else 0" | bc -l)" "$o1" "$h1" "$(echo "if ($h1 > 0) $o1 / $h1 else 0" | bc -l)"
    oc=$(echo "$ours" | field checksum); hc=$(echo "$hf" | field checksum)
    if [ "$have_hf" = 1 ] && { [ "$ot" != "$ht" ] || [ "$oc" != "$hc" ]; }; then
        echo "  WARNING: the ids differ: ours $ot tokens (checksum $oc), HF $ht (checksum $hc)"
    fi
done
echo "load (tokenizer_bench, tokenizer.json): $(echo "$ours" | field load_ms) ms"
