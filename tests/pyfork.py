#!/usr/bin/python3 -IS
# pyfork.py - the tests' Python, started once: `$PY ARGS` through a server that imported numpy and
# PyTorch at the start of the run and forks a child for each call.
#
# Why: the tests call Python about 450 times a run (the references, the checks written inline).
# Starting an interpreter costs 30 ms here, importing numpy 140 ms more and PyTorch 1.5 s, most of
# it page faults and file reads that a virtual machine makes dear: about 40% of the tests' time
# was Python, and most of that was imports. A fork of a process that has them costs 20-45 ms.
#
#   tests/pyfork.py serve SOCKET   the server (tests/run.sh starts it and stops it at the end)
#   tests/pyfork.py ARGS...        a client: as `python3 ARGS` (a script path, `-c CODE` or `-`,
#                                  then its arguments): the child gets this process's stdin,
#                                  stdout, stderr (passed over the socket), working directory and
#                                  environment, and the client exits with the child's status
#
# The client runs a plain `/usr/bin/python3 ARGS` instead when $QWEN3_PYFORK is unset, the server
# does not answer, or ARGS start with an interpreter option other than -c and -. A client that dies
# (a test's timeout killed it) makes the server kill its child's process group. The child is the
# interpreter a script would have had: its own process, __main__, sys.argv, sys.path[0], fresh
# stdio objects over the passed descriptors, atexit handlers and non-daemon threads waited for;
# what differs is that numpy and torch are already imported (and so see the server's environment
# at import: the suites set no variable that those two read).
import json
import os
import signal
import socket
import struct
import sys

PYTHON = "/usr/bin/python3"


def real_python(argv):
    os.execv(PYTHON, [PYTHON] + argv)


def client(argv):
    path = os.environ.get("QWEN3_PYFORK")
    if not path or (argv and argv[0].startswith("-") and argv[0] not in ("-c", "-")):
        real_python(argv)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
    except OSError:
        real_python(argv)
    msg = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    try:
        socket.send_fds(s, [struct.pack("!I", len(msg)) + msg], [0, 1, 2])
    except OSError:  # a closed standard descriptor (`<&-`): the plain interpreter handles that
        real_python(argv)
    reply = b""
    while len(reply) < 8:
        chunk = s.recv(8 - len(reply))
        if not chunk:
            sys.stderr.write("pyfork: the server closed the connection before the child ended\n")
            sys.exit(125)
        reply += chunk
    kind, value = struct.unpack("!ii", reply)
    if kind == 1:  # killed by a signal: end the same way, so the caller sees what a plain run shows
        signal.signal(value, signal.SIG_DFL)
        os.kill(os.getpid(), value)
        sys.exit(128 + value)
    sys.exit(value)


def print_exception(e):
    """The traceback a plain interpreter prints: without the frames of this file and of runpy."""
    import traceback
    tb = e.__traceback__
    while tb and (tb.tb_frame.f_code.co_filename in (__file__, "<frozen runpy>")):
        tb = tb.tb_next
    traceback.print_exception(type(e), e, tb)


def child(req, fds, close):
    """In the forked child: become the interpreter the client asked for. Never returns (whatever
    fails, the child ends here and never goes back to the server's loop)."""
    try:
        code = run_as_interpreter(req, fds, close)
    except BaseException as e:
        print_exception(e)
        code = 1
    os._exit(code & 0xFF)


def run_as_interpreter(req, fds, close):
    """The interpreter's life in the child; returns its exit status."""
    import atexit
    import builtins
    import io
    import runpy
    import threading
    import types
    import weakref
    for f in close:
        try:
            os.close(f)
        except OSError:
            pass
    for i, f in enumerate(fds):
        os.dup2(f, i)
        os.close(f)
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the server's own handler is not the script's
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8",
                                  line_buffering=os.isatty(1))
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    # An interpreter's exit finalizes the script's objects, and a file it never closed is flushed
    # then; this child ends with os._exit (a full finalization with torch loaded takes ~0.9 s), so
    # the files it opens are remembered and flushed at the end instead
    opened = []
    real_open = io.open

    def tracking_open(*args, **kwargs):
        f = real_open(*args, **kwargs)
        opened.append(weakref.ref(f))
        return f
    builtins.open = io.open = tracking_open
    argv = req["argv"]
    code = 0
    try:
        if argv and argv[0] in ("-c", "-"):
            if argv[0] == "-c":
                src, where, sys.argv = argv[1], "<string>", ["-c"] + argv[2:]
            else:
                src, where, sys.argv = sys.stdin.read(), "<stdin>", list(argv)
            sys.path[0] = ""
            main = types.ModuleType("__main__")
            main.__dict__["__builtins__"] = builtins
            sys.modules["__main__"] = main
            exec(compile(src, where, "exec"), main.__dict__)
        elif argv:
            sys.argv = list(argv)
            sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
            runpy.run_path(argv[0], run_name="__main__")
        else:
            sys.stderr.write("pyfork: no script given\n")
            code = 2
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt as e:
        print_exception(e)
        code = 130
    except BaseException as e:
        print_exception(e)
        code = 1
    try:
        threading._shutdown()
        atexit._run_exitfuncs()
    except BaseException as e:
        print_exception(e)
        code = code or 1
    for ref in opened:
        f = ref()
        if f is not None and not f.closed:
            try:
                f.flush()
            except BaseException as e:
                print_exception(e)
                code = code or 1
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            code = code or 120
    return code


def recv_request(conn):
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    if len(data) < 4 or len(fds) != 3:
        for f in fds:
            os.close(f)
        return None, None
    n = struct.unpack("!I", data[:4])[0]
    data = data[4:]
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return json.loads(data[:n]), fds


def serve(path):
    import gc
    import select
    # what the scripts import (their costly part), and what a child imports to start one
    for mod in ("numpy", "torch", "jinja2", "jsonschema", "urllib.request", "http.client", "subprocess",
                "hashlib", "re", "atexit", "io", "runpy", "threading", "traceback", "types", "weakref"):
        try:
            __import__(mod)
        except ImportError:  # the call that needs it fails as a plain interpreter would
            pass
    gc.freeze()  # what was imported stays out of the children's collections (and their copied pages)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    by_conn = {}   # client connection -> (pid, pidfd)
    by_pidfd = {}  # pidfd -> (pid, client connection)
    sys.stdout.flush()
    sys.stderr.flush()
    while True:
        ready, _, _ = select.select([srv] + list(by_conn) + list(by_pidfd), [], [])
        for r in ready:
            if r is srv:
                conn, _ = srv.accept()
                conn.settimeout(10)  # a client stopped between connect and send must not stall all
                try:
                    req, fds = recv_request(conn)
                    conn.settimeout(None)
                except (OSError, ValueError):
                    req, fds = None, None
                if req is None:
                    conn.close()
                    continue
                close = [srv.fileno(), conn.fileno()] + [c.fileno() for c in by_conn] + list(by_pidfd)
                pid = os.fork()
                if pid == 0:
                    child(req, fds, close)
                for f in fds:
                    os.close(f)
                pidfd = os.pidfd_open(pid)
                by_conn[conn] = (pid, pidfd)
                by_pidfd[pidfd] = (pid, conn)
            elif r in by_pidfd:
                pid, conn = by_pidfd.pop(r)
                os.close(r)
                _, status = os.waitpid(pid, 0)
                if conn in by_conn:
                    del by_conn[conn]
                    if os.WIFSIGNALED(status):
                        reply = struct.pack("!ii", 1, os.WTERMSIG(status))
                    else:
                        reply = struct.pack("!ii", 0, os.WEXITSTATUS(status))
                    try:
                        conn.sendall(reply)
                    except OSError:
                        pass
                    conn.close()
            elif r in by_conn:
                # the client closed its end (killed): end the child and what it started
                pid, pidfd = by_conn.pop(r)
                r.close()
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                by_pidfd[pidfd] = (pid, None)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        client(sys.argv[1:])
