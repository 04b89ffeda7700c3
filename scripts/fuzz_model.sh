#!/bin/bash
# fuzz_model.sh [SECONDS] - fuzzes the safetensors header parser and the config.json parser with
# libFuzzer (clang, ASan + UBSan), each for SECONDS (default 60), from the seed corpora in
# tests/data/fuzz/{safetensors,config}. New inputs and crashes go to build/fuzz/. Exit status non-zero
# when a target crashed.
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-${FUZZ_SECONDS:-60}}
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
mkdir -p "$OUT"
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc"
status=0
for t in safetensors config; do
    case $t in
        safetensors) SRC="src/format/safetensors.c src/base/err.c src/base/file.c" ;;
        config) SRC="src/model/config.c src/base/err.c src/base/file.c" ;;
    esac
    "$CC" $FLAGS -o "$OUT/fuzz_$t" "tests/fuzz/fuzz_$t.c" $SRC -ljansson -lm
    mkdir -p "$OUT/corpus_$t"
    echo "fuzz_$t: ${SECONDS_EACH}s"
    rc=0
    "$OUT/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=10 -artifact_prefix="$OUT/" \
        "$OUT/corpus_$t" "tests/data/fuzz/$t" > "$OUT/fuzz_$t.log" 2>&1 || rc=$?
    tail -n 2 "$OUT/fuzz_$t.log"
    if [ $rc -ne 0 ]; then echo "fuzz_$t: FAILED (status $rc), see $OUT/fuzz_$t.log"; status=1; fi
done
exit $status
