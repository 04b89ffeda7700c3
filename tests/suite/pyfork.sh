#!/bin/bash
# pyfork.sh - tests/pyfork.py, the tests' Python (a client of a server that forks an interpreter
# with numpy and PyTorch imported), behaves as /usr/bin/python3 where the suites can tell:
#   served          the call ran in the server's child (torch already imported), within 60 s of
#                   the run's start (the server imports first); every check below compares the
#                   client with a plain interpreter, so without it they would compare python3 with
#                   itself: the rest is skipped then
#   argv, stdin_script, script, stdin_data, exit_code, exception, exit_message, signal, threads,
#   atexit, no_newline, executable
#                   the same stdout, stderr and exit status as `/usr/bin/python3 ARGS` (`-c CODE`,
#                   `-` reading the script from stdin, a script file: sys.argv, __file__,
#                   sys.path[0], the working directory and an environment variable; a non-zero
#                   sys.exit, an uncaught exception's traceback (no frame of pyfork.py), sys.exit
#                   with a message, death by SIGTERM, a non-daemon thread that outlives the main
#                   code, an atexit handler, output without a final newline, sys.executable)
#   unclosed_file   a file the script opened and never closed holds all it wrote (an interpreter
#                   flushes it at exit; the child, which ends with os._exit, flushes what it opened)
#   killed_client   a client killed by `timeout` takes its child with it (within 5 s)
set -u
. "$(dirname "$0")/../lib.sh"
expect 15
T="$QWEN3_TMP/pyfork"
rm -rf "$T"
mkdir -p "$T/dir"
CLIENT=${PY:-}
PLAIN=/usr/bin/python3
names="argv stdin_script script stdin_data exit_code exception exit_message signal threads atexit no_newline executable unclosed_file killed_client"
served=""
if [ "$(basename "${CLIENT:-x}")" = pyfork.py ] && [ -n "${QWEN3_PYFORK:-}" ]; then
    for _ in $(seq 1 120); do
        [ "$("$CLIENT" -c "import sys; print('torch' in sys.modules)" 2>/dev/null)" = True ] && { served=1; break; }
        sleep 0.5
    done
fi
if [ -z "$served" ]; then
    if [ "$(basename "${CLIENT:-x}")" = pyfork.py ]; then
        echo "FAIL pyfork_served: no call of $CLIENT ran in the server's child within 60 s (QWEN3_PYFORK=${QWEN3_PYFORK:-unset})"
    else
        echo "FAIL pyfork_served: \$PY is '${CLIENT:-unset}', not tests/pyfork.py (run through tests/run.sh)"
    fi
    for n in $names; do echo "SKIP pyfork_$n: the client did not reach its server"; done
    exit 0
fi
echo "PASS pyfork_served"

# same NAME [STDIN-FILE] -- ARGS...: the client and the plain interpreter give the same stdout,
# stderr (with "pyfork" nowhere in it) and exit status
same() {
    local name=$1 in=/dev/null; shift
    [ "$1" != -- ] && { in=$1; shift; }
    shift
    (cd "$T/dir" && FOO=bar "$CLIENT" "$@" <"$in" >"$T/$name.o1" 2>"$T/$name.e1"); local rc1=$?
    (cd "$T/dir" && FOO=bar "$PLAIN" "$@" <"$in" >"$T/$name.o2" 2>"$T/$name.e2"); local rc2=$?
    if [ "$rc1" = "$rc2" ] && cmp -s "$T/$name.o1" "$T/$name.o2" && cmp -s "$T/$name.e1" "$T/$name.e2" \
        && ! grep -q "pyfork\.py" "$T/$name.e1"; then
        echo "PASS pyfork_$name (exit $rc1, $(wc -c <"$T/$name.o1") bytes out, $(wc -c <"$T/$name.e1") bytes err)"
    else
        echo "FAIL pyfork_$name: client exit $rc1 out '$(head -c 120 "$T/$name.o1")' err '$(tail -n 2 "$T/$name.e1" | head -c 200)'; plain exit $rc2 out '$(head -c 120 "$T/$name.o2")' err '$(tail -n 2 "$T/$name.e2" | head -c 200)'"
    fi
}

same argv -- -c 'import sys; print(sys.argv)' a 'b c' ''
printf 'import sys\nprint("from stdin", sys.argv, sys.path[0] == "")\n' >"$T/stdin.py"
same stdin_script "$T/stdin.py" -- - x y
printf 'import os, sys\nprint(os.path.basename(__file__), __name__, sys.argv[1:], sys.path[0], os.getcwd(), os.environ.get("FOO"))\n' >"$T/script.py"
same script -- "$T/script.py" one two
printf 'line one\nline two\n' >"$T/data.txt"
same stdin_data "$T/data.txt" -- -c 'import sys; print(repr(sys.stdin.read()))'
same exit_code -- -c 'import sys; print("before"); sys.exit(7)'
printf 'def f():\n    raise ValueError("boom")\nf()\n' >"$T/raise.py"
same exception -- "$T/raise.py"
same exit_message -- -c 'import sys; sys.exit("a message")'
same signal -- -c 'import os, signal, sys; print("x"); sys.stdout.flush(); os.kill(os.getpid(), signal.SIGTERM)'
same threads -- -c 'import threading, time
def late(): time.sleep(0.3); print("thread done")
threading.Thread(target=late).start(); print("main done")'
same atexit -- -c 'import atexit; atexit.register(lambda: print("at exit")); print("main")'
same no_newline -- -c 'import sys; sys.stdout.write("no newline")'
same executable -- -c 'import sys; print(sys.executable)'

# a global file object and one a function returned, both never closed, both holding less than
# their buffer (so nothing reaches the file unless it is flushed at the end)
"$CLIENT" -c "out = open('$T/u1.txt', 'w'); out.write('x' * 100 + 'end')
def f():
    g = open('$T/u2.txt', 'w'); g.write('y' * 100); return g
keep = f()"
if [ "$(wc -c <"$T/u1.txt" 2>/dev/null)" = 103 ] && [ "$(tail -c 3 "$T/u1.txt")" = end ] && [ "$(wc -c <"$T/u2.txt" 2>/dev/null)" = 100 ]; then
    echo "PASS pyfork_unclosed_file"
else echo "FAIL pyfork_unclosed_file: $(wc -c <"$T/u1.txt" 2>/dev/null) and $(wc -c <"$T/u2.txt" 2>/dev/null) bytes, want 103 and 100"; fi

timeout 1 "$CLIENT" -c "import os, time; open('$T/child.pid', 'w').write(str(os.getpid())); time.sleep(60)" 2>/dev/null
pid=$(cat "$T/child.pid" 2>/dev/null)
gone=""
for _ in $(seq 1 50); do
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && { gone=1; break; }
    sleep 0.1
done
if [ -n "$gone" ]; then echo "PASS pyfork_killed_client (child $pid ended with its client)"
else echo "FAIL pyfork_killed_client: child '${pid:-none}' still running 5 s after its client was killed"; fi
