#!/bin/bash
# tests/run.sh [FILTER] - runs every test; the last line is "N passed, N failed, N skipped".
#
# A test is a compiled program from tests/unit/*.c ($QWEN3_BUILD/tests/NAME) or a script
# tests/suite/*.sh. Each prints first "EXPECT n", the number of checks it will report, then one line
# per check: "PASS <name>", "FAIL <name>: <why>" or "SKIP <name>: <reason>" (an instruction set the
# CPU lacks, an optional tool that is absent); the runner counts them. A skip is not a pass.
# The runner adds one failure for a test that exits non-zero, that states no EXPECT line (so a
# program that prints nothing and exits 0 fails), or whose count of checks differs from its EXPECT
# (a crashed helper, a loop cut short).
#
# Scripts find the engine as $QWEN3 and scratch space in $QWEN3_TMP. The tokenizer's binary cache
# starts empty on every run ($QWEN3_TMP/cache), so no table built by an earlier binary is read.
set -u
cd "$(dirname "$0")/.."
BUILD=${QWEN3_BUILD:-build/rel}
export QWEN3="$PWD/$BUILD/qwen3"
export QWEN3_ROOT="$PWD"
export QWEN3_TMP="${QWEN3_TMP:-$PWD/build/testdata}"
# the shared tokenizer sits beside the checkout; a git worktree elsewhere finds it beside the main one
shared_tok() {
    local d
    d="$(cd .. && pwd)/shared/qwen3-tokenizer"
    if [ ! -d "$d" ] && d2=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
        [ -d "$(dirname "$(dirname "$d2")")/shared/qwen3-tokenizer" ] && d="$(dirname "$(dirname "$d2")")/shared/qwen3-tokenizer"
    fi
    echo "$d"
}
export QWEN3_TOKENIZER="${QWEN3_TOKENIZER:-$(shared_tok)}"
# Python: the suites' $PY is tests/pyfork.py, a client of one server that imported numpy and PyTorch
# once and forks a child per call (about 450 calls a run; a fresh interpreter spends 0.2-1.5 s in
# those imports). Without the server (not yet listening, failed) the client runs /usr/bin/python3.
export PY="$PWD/tests/pyfork.py"
pyfork_dir=$(mktemp -d /tmp/qwen3-pyfork.XXXXXX)
export QWEN3_PYFORK="$pyfork_dir/sock"
# (started from a subshell, so that it is no job of this shell's: `wait -n` below waits for tests)
( /usr/bin/python3 tests/pyfork.py serve "$QWEN3_PYFORK" </dev/null >"$pyfork_dir/log" 2>&1 & echo $! >"$pyfork_dir/pid" )
trap 'kill "$(cat "$pyfork_dir/pid")" 2>/dev/null; rm -rf "$pyfork_dir"' EXIT
mkdir -p "$QWEN3_TMP"
export QWEN3_CACHE_DIR="$QWEN3_TMP/cache"
rm -rf "$QWEN3_CACHE_DIR"
unset QWEN3_NO_CACHE
filter=${1:-}
pass=0; fail=0; skip=0
log="$QWEN3_TMP/run.log"; : > "$log"

# Tests run side by side, $QWEN3_TEST_JOBS at a time (default 2, one per core of the CI machine):
# most of them spend their time in one thread (a Python reference, a one-thread engine run, a
# client waiting on a server), so two at once roughly halve the wall time. Each test writes its
# own directory under $QWEN3_TMP; the few checkpoints that several suites share are written under a
# lock (tests/lib.sh: shared_ckpt). The longest tests start first so that no long one starts last.
JOBS=${QWEN3_TEST_JOBS:-2}
LONG="train_rl test_invariance quant ref_forward mpi_tp default_model train longctx dca spec gguf bad_input test_spec chat_render"
outdir="$QWEN3_TMP/run.out"
rm -rf "$outdir"; mkdir -p "$outdir"
declare -A name_of t0_of
running=0

# report NAME: counts the finished test's PASS/FAIL/SKIP lines and prints its summary line
report() {
    local name=$1 out rc p f s n want why=""
    out=$(cat "$outdir/$name.out")
    rc=$(cat "$outdir/$name.rc" 2>/dev/null || echo 255)
    printf '%s\n' "$out" >> "$log"
    p=$(printf '%s\n' "$out" | grep -c '^PASS ' || true)
    f=$(printf '%s\n' "$out" | grep -c '^FAIL ' || true)
    s=$(printf '%s\n' "$out" | grep -c '^SKIP ' || true)
    want=$(printf '%s\n' "$out" | sed -n 's/^EXPECT \([0-9][0-9]*\)$/\1/p' | head -n 1)
    n=$((p + f + s))
    printf '%s\n' "$out" | grep '^FAIL ' | sed "s|^|  [$name] |"
    printf '%s\n' "$out" | grep '^SKIP ' | sed "s|^|  [$name] |"
    if [ "$rc" -ne 0 ]; then
        why="exited with status $rc"
    elif [ -z "$want" ]; then
        why="printed no \"EXPECT n\" line (nothing tells how many checks should have run)"
    elif [ "$n" -lt "$want" ]; then
        why="reported $n checks of the $want it expects (a helper crashed or a loop stopped early)"
    elif [ "$n" -gt "$want" ] && [ "$f" -eq 0 ]; then
        why="reported $n checks, more than the $want it states (update its EXPECT)"
    fi
    if [ -n "$why" ]; then
        f=$((f + 1))
        echo "  [$name] FAIL $name: $why; last lines:"
        printf '%s\n' "$out" | tail -n 8 | sed 's/^/    /'
    fi
    printf '%-28s %4d passed %4d failed %4d skipped  (%ss)\n' "$name" "$p" "$f" "$s" "$(($(date +%s) - t0_of[$name]))"
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

# wait_one: waits for any running test to end and reports it
wait_one() {
    local pid
    wait -n -p pid
    report "${name_of[$pid]}"
    running=$((running - 1))
}

# start NAME CMD...: starts a test once fewer than $JOBS run (its stdout and stderr to one file)
start() {
    local name=$1; shift
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && return
    while [ "$running" -ge "$JOBS" ]; do wait_one; done
    t0_of[$name]=$(date +%s)
    ( "$@" >"$outdir/$name.out" 2>&1; echo $? >"$outdir/$name.rc" ) &
    name_of[$!]=$name
    running=$((running + 1))
}

# the list: unit programs and suites, the long ones first
tests=()
for t in "$BUILD"/tests/*; do [ -x "$t" ] && [ -f "$t" ] && tests+=("$(basename "$t")"); done
for s in tests/suite/*.sh; do [ -f "$s" ] && tests+=("$(basename "$s" .sh)"); done
ordered=()
for n in $LONG; do for t in "${tests[@]}"; do [ "$t" = "$n" ] && ordered+=("$t"); done; done
for t in "${tests[@]}"; do [[ " $LONG " == *" $t "* ]] || ordered+=("$t"); done
for t in "${ordered[@]}"; do
    if [ -f "tests/suite/$t.sh" ] && [ ! -x "$BUILD/tests/$t" ]; then start "$t" bash "tests/suite/$t.sh"
    else start "$t" "$BUILD/tests/$t"; fi
done
while [ "$running" -gt 0 ]; do wait_one; done
echo "full output: $log"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
