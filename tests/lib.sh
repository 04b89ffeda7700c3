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
