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
