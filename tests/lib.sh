# tests/lib.sh - sourced by tests/suite/*.sh: the two rules every suite follows.
#
# expect N: the first line a suite prints, "EXPECT N", the number of PASS/FAIL/SKIP lines it will
#   print; tests/run.sh fails a suite that reports a different number (a helper that crashed, a
#   loop that stopped early). Count every check a suite can print on a good run, skips included.
# checked NAME CMD...: runs a comparison helper (a Python or node script printing PASS/FAIL lines)
#   and passes its lines on; a helper that exits non-zero or prints no PASS/FAIL/SKIP line at all
#   adds "FAIL NAME: ...", so a crashed or silent helper is a failure, not fewer passes. (A helper
#   that printed a FAIL line may exit non-zero for it: the run has failed already, no line added.)

expect() { echo "EXPECT $1"; }

# san_build: true when the suite runs on the ASan+UBSan build (QWEN3_BUILD=build/san), where CI's
#   time is short and some suites run fewer cases (each says which, as a SKIP line with its reason).
san_build() { case "${QWEN3_BUILD:-build/rel}" in *san*) return 0 ;; esac; return 1; }

checked() {
    local name=$1 out rc; shift
    out=$("$@"); rc=$?
    [ -n "$out" ] && printf '%s\n' "$out"
    if [ "$rc" -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
        echo "FAIL $name: helper $(basename "$1") ${2:+$(basename "$2") }exited with status $rc"
    elif ! printf '%s\n' "$out" | grep -qE '^(PASS|FAIL|SKIP) '; then
        echo "FAIL $name: helper $(basename "$1") ${2:+$(basename "$2") }reported no check"
    fi
    return 0
}

# start_server ERRLOG SERVE_ARGS...: starts `$QWEN3 serve SERVE_ARGS --port 0` in the background
#   with stderr in ERRLOG and waits (up to 10 s) for its "listening on" line; sets $srv (the pid)
#   and $port. Returns 1, with the server stopped, when it did not start (the caller names the FAIL).
start_server() {
    local log=$1; shift
    : >"$log" # emptied first: the loop below must not read an earlier run's port from it
    "$QWEN3" serve "$@" --port 0 2>"$log" &
    srv=$!
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\).*/\1/p' "$log")
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    return 1
}

# shared_ckpt NAME DIR GEN_ARGS...: makes sure DIR holds the checkpoint tools/gen_checkpoint.py
#   writes with GEN_ARGS, for checkpoints that several suites share; prints "FAIL NAME: ..." and
#   returns 1 when it cannot be written. tests/run.sh runs suites side by side, so the first suite
#   to get there writes it (to DIR.part, renamed when whole) under a lock, and the others wait for
#   it instead of writing the same files at once or reading half of them.
shared_ckpt() {
    local name=$1 dir=$2; shift 2
    mkdir -p "$(dirname "$dir")"
    (
        flock 8
        [ -f "$dir/model.safetensors" ] && exit 0
        rm -rf "$dir" "$dir.part"
        "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$dir.part" "$@" -q && mv -T "$dir.part" "$dir"
    ) 8>"$dir.lock" || { echo "FAIL $name: gen_checkpoint.py $* failed"; return 1; }
}

# shared_thinker NAME: sets $M to $QWEN3_TMP/gen_thinker, the tiny thinking checkpoint with the real
#   vocabulary that the eval and gen_* suites share, writing it first if needed (see shared_ckpt).
shared_thinker() {
    M="$QWEN3_TMP/gen_thinker"
    shared_ckpt "$1" "$M" --preset tiny --vocab 151936 --thinker
}
