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
# The library's sources (all of src/ but cli/, as the Makefile's library) are compiled first, with
# clang, the sanitizers and the fuzzer's coverage, into build/fuzz/libqwen3-fuzz.a; each target links
# what it needs from that archive. (Lists of source files per target went stale as the parsers grew
# dependencies: by 2026-12-07 seven of the nine targets no longer linked.)
# Exit status non-zero when a target crashed or did not build. Needs clang and libclang-rt-14-dev
# (scripts/setup.sh).
set -u
cd "$(dirname "$0")/.."
SECS=${1:-${FUZZ_SECONDS:-15}}
[ $# -gt 0 ] && shift
OUT=build/fuzz
# QWEN3_TOKENIZER_BUILD: the tokenizer cache key of a build (the Makefile hashes the sources; the
# fuzzers run with the cache off)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 $SAN -Iinclude -Isrc -DQWEN3_TOKENIZER_BUILD=\"fuzz\""
CC_FUZZ=${FUZZ_CC:-clang}
LIBS="-ljansson -lutf8proc -lmicrohttpd -ledit -lm -pthread"
export QWEN3_TOKENIZER=${QWEN3_TOKENIZER:-$(cd .. && pwd)/shared/qwen3-tokenizer}
export QWEN3_NO_CACHE=1
mkdir -p "$OUT"
status=0

# the archive, rebuilt whole every run (about a minute on two cores), so no object of an older
# checkout is ever fuzzed
LIBA=$OUT/libqwen3-fuzz.a
rm -rf "$OUT/obj" "$LIBA"
mkdir -p "$OUT/obj"
export CC_FUZZ FLAGS OUT
if ! find src -name '*.c' ! -path 'src/cli/*' | sort |
    xargs -P "$(nproc)" -I{} sh -c 'o="$OUT/obj/$(echo "{}" | tr / _).o"; $CC_FUZZ $FLAGS -fsanitize=fuzzer-no-link -c "{}" -o "$o"' ||
    ! ar rcs "$LIBA" "$OUT"/obj/*.o; then
    echo "fuzz: the library did not build with ${CC_FUZZ}"
    exit 1
fi

# fuzz NAME CORPUS MAX_LEN DICT (DICT may be "-")
fuzz() {
    local name=$1 corpus=$2 maxlen=$3 dict=$4
    if [ -n "$WANT" ] && [[ " $WANT " != *" $name "* ]]; then return; fi
    echo "fuzz_$name: ${SECS}s"
    if ! $CC_FUZZ $FLAGS -fsanitize=fuzzer -o "$OUT/fuzz_$name" "tests/fuzz/fuzz_$name.c" "$LIBA" $LIBS; then
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
fuzz safetensors tests/data/fuzz/safetensors 8192 -
fuzz gguf tests/data/fuzz/gguf 65536 -
fuzz config tests/data/fuzz/config 8192 -
fuzz tokenizer tests/fuzz/corpus_tokenizer 16384 -
fuzz chat_parse tests/data/chat/corpus_parse 4096 tests/data/chat/fuzz_parse.dict
fuzz chat_render tests/data/chat/corpus_render 4096 tests/data/chat/fuzz_render.dict
fuzz hub_name tests/data/fuzz/hub_name 4096 -
fuzz verify tests/data/fuzz/verify 4096 tests/data/chat/fuzz_parse.dict
fuzz grammar tests/data/fuzz/grammar 4096 -
exit $status
