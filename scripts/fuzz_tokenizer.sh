#!/bin/bash
# fuzz_tokenizer.sh [SECONDS] - builds tests/fuzz/fuzz_tokenizer.c with clang's libFuzzer, ASan and
# UBSan, and runs it over its kept corpus (tests/fuzz/corpus_tokenizer) for SECONDS (default 30).
# New inputs go to build/fuzz/corpus_tokenizer (not the repository); crashes to build/fuzz/.
# To keep a finding, copy its file into tests/fuzz/corpus_tokenizer/.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-30}
out=build/fuzz
mkdir -p "$out/corpus_tokenizer"
export QWEN3_TOKENIZER=${QWEN3_TOKENIZER:-$(cd .. && pwd)/shared/qwen3-tokenizer}
export QWEN3_NO_CACHE=1
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Iinclude -Isrc -o "$out/fuzz_tokenizer" tests/fuzz/fuzz_tokenizer.c src/tokenizer/*.c src/base/err.c src/base/file.c \
    -ljansson -lutf8proc -lm -pthread
"$out/fuzz_tokenizer" -max_total_time="$secs" -max_len=16384 -timeout=20 -artifact_prefix="$out/" \
    "$out/corpus_tokenizer" tests/fuzz/corpus_tokenizer
