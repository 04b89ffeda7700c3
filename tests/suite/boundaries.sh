#!/bin/bash
# boundaries.sh - the build keeps cli/ and server/ on the public API.
#
# The Makefile compiles src/cli and src/server with include/ and $(BUILD)/front only (links to those
# two directories and to base/err.h + base/buf.h), never -Isrc. Checks:
#   - the front-ends' flags (make print-front-flags) name no directory under src/;
#   - a probe including the allowed headers compiles with them, and a probe including any other
#     internal header (every header under src/ outside cli/ and server/ but base/err.h and
#     base/buf.h) does not;
#   - no include in cli/ or server/ climbs out with ".." or an absolute path (the one way around the
#     include path: a quoted include is first looked up beside the file);
#   - what the build really compiled: every header the front-ends' objects depend on ($BUILD's .d
#     files) is one of include/, cli/, server/, base/err.h, base/buf.h.
set -u
. "$(dirname "$0")/../lib.sh"
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${QWEN3_BUILD:-build/rel}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/boundaries.$$
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT" || exit 1
# every internal header: all of src/ but the front-ends' own and base's err.h and buf.h (the only
# two the front-ends may include), so a link added to $(FRONT) for any other header fails here
internal=()
for h in $(cd src && find . -name '*.h' | sed 's|^\./||' | sort); do
    case $h in cli/* | server/* | base/err.h | base/buf.h) ;; *) internal+=("$h") ;; esac
done
expect $((4 + ${#internal[@]}))

SAN_ARG=""
[ "$BUILD" = build/san ] && SAN_ARG="SAN=1"
# (without -MMD -MP: the probes below must not leave dependency files behind)
flags=$(make -s --no-print-directory $SAN_ARG print-front-flags 2>"$TMP/err" | sed -e 's/ -MMD\b//g' -e 's/ -MP\b//g')
if [ -z "$flags" ]; then
    echo "FAIL boundaries-flags: make print-front-flags printed nothing: $(tail -n 1 "$TMP/err")"
elif printf '%s\n' $flags | grep -qE '^-I(\./)?src(/|$)|^-I.*/src/?$'; then
    echo "FAIL boundaries-flags: the front-ends are compiled with src/ on the include path: $flags"
else
    echo "PASS boundaries-flags"
fi

printf '#include "qwen3.h"\n#include "base/buf.h"\n#include "base/err.h"\n#include "cli/cli.h"\n#include "server/server.h"\nint main(void) { return 0; }\n' >"$TMP/ok.c"
# shellcheck disable=SC2086
if ${CC:-cc} $flags -fsyntax-only "$TMP/ok.c" 2>"$TMP/ok.err"; then echo "PASS boundaries-allowed"
else echo "FAIL boundaries-allowed: the allowed headers do not compile with the front-ends' flags: $(head -n 3 "$TMP/ok.err")"; fi

for h in "${internal[@]}"; do
    name="boundaries-refuses-${h//\//-}"
    printf '#include "%s"\nint main(void) { return 0; }\n' "$h" >"$TMP/probe.c"
    # shellcheck disable=SC2086
    if ${CC:-cc} $flags -fsyntax-only "$TMP/probe.c" 2>"$TMP/probe.err"; then
        echo "FAIL $name: a front-end could include $h"
    elif grep -q "$h" "$TMP/probe.err" && grep -qi "no such file" "$TMP/probe.err"; then
        echo "PASS $name"
    else
        echo "FAIL $name: the probe failed for another reason: $(head -n 2 "$TMP/probe.err")"
    fi
done

bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<](\.\.|/)' src/cli src/server)
if [ -z "$bad" ]; then echo "PASS boundaries-no-escape"
else echo "FAIL boundaries-no-escape: an include leaves the include path: $(printf '%s' "$bad" | head -n 2)"; fi

# the dependencies the build recorded for the front-ends' objects
deps=$(find "$BUILD/src/cli" "$BUILD/src/server" -name '*.d' 2>/dev/null)
if [ -z "$deps" ]; then
    echo "FAIL boundaries-build: no dependency files under $BUILD/src/cli or $BUILD/src/server (run make)"
else
    # every word of the rules, one a line; keep the headers; strip the paths the front may use
    out=$(cat $deps | tr ' \\' '\n\n' | sed 's/:$//' | grep '\.h$' | sort -u |
          grep -vE "^(include/qwen3[a-z_]*\.h|$BUILD/front/(cli|server)/.*\.h|$BUILD/front/base/(err|buf)\.h)$")
    if [ -z "$out" ]; then echo "PASS boundaries-build"
    else echo "FAIL boundaries-build: front-end objects depend on internal headers: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"; fi
fi
