#!/bin/bash
# fuzz_chat.sh [SECONDS] - fuzzes the chat module with libFuzzer (clang, ASan + UBSan):
#   fuzz_chat_parse   the output parser: one-shot vs chunked parsing must agree
#   fuzz_chat_render  JSON chat requests through every template kind, and template identification
# Each runs SECONDS (default 60; FUZZ_SECONDS also works) from its seed corpus in
# tests/data/chat/corpus_{parse,render}; new inputs go to build/fuzz/ (not the repository), crashes to
# build/fuzz/crash-*. Exit status non-zero when a target found a crash. Needs clang and
# libclang-rt-14-dev (scripts/setup.sh installs them).
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-${FUZZ_SECONDS:-60}}
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
mkdir -p "$OUT"
SRC="src/chat/parse.c src/chat/pyjson.c src/chat/render.c src/chat/render_json.c src/chat/template.c src/base/err.c src/base/file.c"
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc"
status=0
for t in parse render; do
    "$CC" $FLAGS -o "$OUT/fuzz_chat_$t" "tests/fuzz/fuzz_chat_$t.c" $SRC -ljansson
    mkdir -p "$OUT/corpus_$t"
    echo "fuzz_chat_$t: ${SECONDS_EACH}s"
    rc=0
    "$OUT/fuzz_chat_$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
        -dict="tests/data/chat/fuzz_$t.dict" -artifact_prefix="$OUT/" "$OUT/corpus_$t" "tests/data/chat/corpus_$t" > "$OUT/fuzz_chat_$t.log" 2>&1 || rc=$?
    tail -n 3 "$OUT/fuzz_chat_$t.log"
    if [ $rc -ne 0 ]; then
        echo "fuzz_chat_$t: FAILED (status $rc), see $OUT/fuzz_chat_$t.log"
        status=1
    fi
done
exit $status
