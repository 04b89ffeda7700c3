#!/bin/bash
# fuzz.sh [SECONDS] [TARGET...] - `make fuzz`: builds the libFuzzer targets of tests/fuzz/ with clang
# (ASan + UBSan) and runs each for SECONDS (default $FUZZ_SECONDS, else 15) from the corpus kept in
# the repository. New inputs go to build/fuzz/corpus_NAME (not the repository), crashes to
# build/fuzz/crash-*; to keep a finding, copy it into the target's corpus. Targets (default: all):
#   safetensors  the safetensors header parser          (corpus tests/data/fuzz/safetensors)
#   gguf         the GGUF parser, then the GGUF config and tokenizer readers (tests/data/fuzz/gguf)
#   config       the config.json parser                 (tests/data/fuzz/config)
#   tokenizer    tokenizer.json loader, encode round trip, decode vs stream (tests/fuzz/corpus_tokenizer)
#   chat_parse   the output parser: one-shot vs chunked (tests/data/chat/corpus_parse)
#   chat_render  JSON chat requests through every template kind (tests/data/chat/corpus_render)
#   hub_name     model names, GGUF tag choice, repo file names (tests/data/fuzz/hub_name)
#   verify       the answer verifier on arbitrary replies (tests/data/fuzz/verify)
#   grammar      GBNF parser, JSON Schema compiler, recogniser (tests/data/fuzz/grammar)
# Exit status non-zero when a target crashed. Needs clang and libclang-rt-14-dev (scripts/setup.sh).
set -u
cd "$(dirname "$0")/.."
SECS=${1:-${FUZZ_SECONDS:-15}}
[ $# -gt 0 ] && shift
OUT=build/fuzz
# QWEN3_TOKENIZER_BUILD: the tokenizer cache key of a build (the Makefile hashes the sources; the
# fuzzers run with the cache off)
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc -DQWEN3_TOKENIZER_BUILD=\"fuzz\""
BASE="src/base/err.c src/base/file.c"
export QWEN3_TOKENIZER=${QWEN3_TOKENIZER:-$(cd .. && pwd)/shared/qwen3-tokenizer}
export QWEN3_NO_CACHE=1
mkdir -p "$OUT"
status=0

# fuzz NAME CORPUS MAX_LEN DICT SOURCES... (DICT may be "-")
fuzz() {
    local name=$1 corpus=$2 maxlen=$3 dict=$4; shift 4
    if [ -n "$WANT" ] && [[ " $WANT " != *" $name "* ]]; then return; fi
    echo "fuzz_$name: ${SECS}s"
    if ! ${FUZZ_CC:-clang} $FLAGS -o "$OUT/fuzz_$name" "tests/fuzz/fuzz_$name.c" "$@" -ljansson -lutf8proc -lm -pthread; then
        echo "fuzz_$name: build failed"; status=1; return
    fi
    mkdir -p "$OUT/corpus_$name"
    local extra=() rc=0
    [ "$dict" != - ] && extra=(-dict="$dict")
    "$OUT/fuzz_$name" -max_total_time="$SECS" -max_len="$maxlen" -timeout=20 -artifact_prefix="$OUT/" "${extra[@]}" \
        "$OUT/corpus_$name" "$corpus" > "$OUT/fuzz_$name.log" 2>&1 || rc=$?
    tail -n 2 "$OUT/fuzz_$name.log"
    if [ $rc -ne 0 ]; then echo "fuzz_$name: FAILED (status $rc), see $OUT/fuzz_$name.log"; status=1; fi
}

WANT="$*"
fuzz safetensors tests/data/fuzz/safetensors 8192 - src/format/safetensors.c $BASE
fuzz gguf tests/data/fuzz/gguf 65536 - src/format/gguf.c src/model/config_gguf.c src/model/config.c src/tokenizer/*.c $BASE
fuzz config tests/data/fuzz/config 8192 - src/model/config.c $BASE
fuzz tokenizer tests/fuzz/corpus_tokenizer 16384 - src/tokenizer/*.c src/format/gguf.c $BASE
fuzz chat_parse tests/data/chat/corpus_parse 4096 tests/data/chat/fuzz_parse.dict src/chat/*.c src/format/gguf.c $BASE
fuzz chat_render tests/data/chat/corpus_render 4096 tests/data/chat/fuzz_render.dict src/chat/*.c src/format/gguf.c $BASE
fuzz hub_name tests/data/fuzz/hub_name 4096 - src/hub/name.c $BASE
fuzz verify tests/data/fuzz/verify 4096 tests/data/chat/fuzz_parse.dict src/eval/verify.c src/tokenizer/*.c src/format/gguf.c $BASE
fuzz grammar tests/data/fuzz/grammar 4096 - src/grammar/*.c src/tokenizer/*.c src/format/gguf.c $BASE
exit $status
