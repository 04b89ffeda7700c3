# tests/mpi_lib.sh - sourced by the MPI suites (mpi.sh, mpi_tp.sh) after tests/lib.sh: what both
# need to run the engine under mpirun and compare it with one process.
#
# mpi_skip_unless_built PREFIX NAMES: without mpirun or the MPI binary, a SKIP line with the reason
#   for each of NAMES (as PREFIX_NAME) and exit 0.
# mrun RANKS ARGS...: `qwen3-mpi ARGS` on RANKS ranks of this machine (as root, oversubscribed, the
#   shared-memory transport), 120 s at most.
# errs FILE: the first 3 lines of an mpirun stderr that are not Open MPI's own boilerplate.
# same_out NAME RANKS ARGS...: `qwen3 ARGS` and `mrun RANKS ARGS` print the same (a line per
#   generation for a batch); PASS, or FAIL naming the first line that differs. Uses the suite's
#   pass / fail and $T.

MPIBIN="$(dirname "$QWEN3")/qwen3-mpi"

mpi_skip_unless_built() {
    local prefix=$1 why n
    shift
    command -v mpirun >/dev/null 2>&1 && [ -x "$MPIBIN" ] && return 0
    why="mpirun not found (Debian: openmpi-bin, libopenmpi-dev; scripts/setup.sh installs them)"
    command -v mpirun >/dev/null 2>&1 && why="$MPIBIN not built (make MPI=1; make test builds it when mpicc exists)"
    for n in $*; do echo "SKIP ${prefix}_$n: $why"; done
    exit 0
}

# Open MPI as root needs --allow-run-as-root; more ranks than cores need --oversubscribe. The
# sanitizer build: Open MPI's own allocations are not ours to report. pml ob1 is the point-to-point
# layer that self,vader run under anyway: naming it skips the probing of the others (UCX, the
# libfabric MTLs), a quarter of a second of every mpirun here (0.85 -> 0.6 s, 2 ranks).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca pml ob1 --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
mrun() { local n=$1; shift; timeout 120 "${MPIRUN[@]}" -n "$n" "$MPIBIN" "$@"; }
errs() { grep -v '^\s*$' "$1" | grep -v '^--\|^  \|^mpirun\|^Primary\|^a non-zero\|^the job\|^MPI_ABORT\|^with errorcode\|^NOTE\|^You may\|^exactly\|^Process\|^Exit' | head -n 3 | tr '\n' ' '; }

same_out() {
    local name=$1 n=$2; shift 2
    local a b
    a=$("$QWEN3" "$@" 2>"$T/$name.err1") || { fail "$name" "one process: $(tail -n 1 "$T/$name.err1")"; return; }
    b=$(mrun "$n" "$@" 2>"$T/$name.err") || { fail "$name" "mpirun: $(errs "$T/$name.err")"; return; }
    local a1=${a//$'\n'/ | } b1=${b//$'\n'/ | } # a batch prints a line per generation
    if [ -n "$a" ] && [ "$a" = "$b" ]; then pass "$name ($(printf '%s\n' "$a" | wc -l) lines: ${a1:0:60}...)"
    else # the first line that differs (a batch's first generation may be the same)
        local k=1; while [ "$(printf '%s\n' "$a" | sed -n "${k}p")" = "$(printf '%s\n' "$b" | sed -n "${k}p")" ] && [ $k -lt 64 ]; do k=$((k + 1)); done
        a1=$(printf '%s\n' "$a" | sed -n "${k}p"); b1=$(printf '%s\n' "$b" | sed -n "${k}p")
        fail "$name" "line $k: one process: ${a1:0:100} | mpirun: ${b1:0:100}"; fi
}
