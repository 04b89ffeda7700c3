#!/bin/bash
# tests/run.sh [FILTER] - runs every test and prints "N passed, N failed" as its last line.
#
# A test is a compiled program from tests/unit/*.c ($QWEN3_BUILD/tests/NAME) or a script
# tests/suite/*.sh. Each prints lines "PASS <name>" or "FAIL <name>: <why>"; the runner counts them.
# A program that exits non-zero counts as one more failure; one that prints no PASS/FAIL line and
# exits 0 counts as one pass. Scripts find the engine as $QWEN3 and scratch space in $QWEN3_TMP.
set -u
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
export QWEN3="$PWD/$BUILD/qwen3"
export QWEN3_ROOT="$PWD"
export QWEN3_TMP="${QWEN3_TMP:-$PWD/build/testdata}"
export QWEN3_TOKENIZER="${QWEN3_TOKENIZER:-$(cd .. && pwd)/shared/qwen3-tokenizer}"
export PY=/usr/bin/python3
mkdir -p "$QWEN3_TMP"
filter=${1:-}
pass=0; fail=0
log="$QWEN3_TMP/run.log"; : > "$log"

run_one() {
    local name=$1; shift
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && return
    local out rc t0 t1
    t0=$(date +%s)
    out=$("$@" 2>&1); rc=$?
    t1=$(date +%s)
    printf '%s\n' "$out" >> "$log"
    local p f
    p=$(printf '%s\n' "$out" | grep -c '^PASS ' || true)
    f=$(printf '%s\n' "$out" | grep -c '^FAIL ' || true)
    printf '%s\n' "$out" | grep '^FAIL ' | sed "s|^|  [$name] |"
    if [ "$rc" -ne 0 ]; then
        f=$((f + 1))
        echo "  [$name] exited with status $rc; last lines:"
        printf '%s\n' "$out" | tail -n 8 | sed 's/^/    /'
    elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        p=1
    fi
    printf '%-28s %4d passed %4d failed  (%ss)\n' "$name" "$p" "$f" "$((t1 - t0))"
    pass=$((pass + p)); fail=$((fail + f))
}

for t in "$BUILD"/tests/*; do
    [ -x "$t" ] && [ -f "$t" ] && run_one "$(basename "$t")" "$t"
done
for s in tests/suite/*.sh; do
    [ -f "$s" ] && run_one "$(basename "$s" .sh)" bash "$s"
done
echo "full output: $log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
