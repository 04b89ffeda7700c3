#!/bin/bash
# install.sh - `make install` into a temporary DESTDIR, then what a user of the library does:
#   install_files          binary, qwen3.h, libqwen3.a, libqwen3.so.X.Y.Z + .so.X + .so links,
#                          qwen3.pc, man page, bash completion, all under PREFIX inside DESTDIR
#   soname, exports        the shared library's soname is libqwen3.so.MAJOR (0.MINOR before 1.0); it
#                          exports qwen3_* only
#   pkgconfig_example      the README's example program builds with `pkg-config --cflags --libs
#                          qwen3` against the installed tree and prints what `qwen3 generate` prints
#   static_example         the same with libqwen3.a linked in (its dependencies shared)
#   man_page               the man page renders without warnings and carries every command's flags
#   bash_completion        completes commands and a command's flags
set -u
. "$(dirname "$0")/../lib.sh"
T="$QWEN3_TMP/install"
if san_build; then
    expect 1; echo "SKIP install: the sanitizer build is not installed (the release run of make test checks it)"; exit 0
fi
expect 9
M="$QWEN3_TMP/install/tiny"
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
mkdir -p "$T"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 -q --seed 11 2>"$T/gen.err" \
        || { echo "FAIL install_checkpoint: $(tail -n 2 "$T/gen.err")"; exit 0; }
fi
command -v pkg-config >/dev/null || { echo "FAIL install: pkg-config is missing (scripts/setup.sh installs it)"; exit 0; }
R="$T/root"; P=/opt/qwen3-test
rm -rf "$R"
if ! make -C "$QWEN3_ROOT" -s -j2 install PREFIX=$P DESTDIR="$R" >"$T/make.log" 2>&1; then
    echo "FAIL install_make: $(tail -n 5 "$T/make.log")"; exit 0
fi
ver=$(sed -n 's/^#define QWEN3_VERSION "\(.*\)"/\1/p' "$QWEN3_ROOT/include/qwen3.h"); major=${ver%%.*}
[ "$major" = 0 ] && major=0.$(echo "$ver" | cut -d. -f2) # before 1.0 the soname carries the minor number
missing=""
for f in bin/qwen3 include/qwen3.h lib/libqwen3.a lib/libqwen3.so.$ver lib/libqwen3.so.$major lib/libqwen3.so \
         lib/pkgconfig/qwen3.pc share/man/man1/qwen3.1 share/bash-completion/completions/qwen3; do
    [ -e "$R$P/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && pass install_files || fail install_files "missing under DESTDIR/PREFIX:$missing"
[ "$(readlink "$R$P/lib/libqwen3.so.$major")" = "libqwen3.so.$ver" ] && [ "$(readlink "$R$P/lib/libqwen3.so")" = "libqwen3.so.$major" ] \
    && pass install_links || fail install_links "$(ls -l "$R$P/lib")"
soname=$(readelf -d "$R$P/lib/libqwen3.so.$ver" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libqwen3.so.$major" ] && pass soname || fail soname "'$soname' (want libqwen3.so.$major)"
other=$(nm -D --defined-only "$R$P/lib/libqwen3.so.$ver" | awk '{print $3}' | grep -v '^qwen3_' | head -5)
n_api=$(nm -D --defined-only "$R$P/lib/libqwen3.so.$ver" | grep -c ' qwen3_')
[ -z "$other" ] && [ "$n_api" -gt 20 ] && pass "exports ($n_api qwen3_* symbols only)" || fail exports "other symbols: $other ($n_api qwen3_*)"
grep -q "^prefix=$P\$" "$R$P/lib/pkgconfig/qwen3.pc" && pass pc_prefix || fail pc_prefix "$(head -n 3 "$R$P/lib/pkgconfig/qwen3.pc")"

# the README's example, verbatim
"$PY" - "$QWEN3_ROOT/README.md" "$T/hello.c" <<'PYEOF'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"<!-- example: hello\.c -->\s*```c\n(.*?)```", t, re.S)
open(sys.argv[2], "w").write(m.group(1) if m else "")
PYEOF
[ -s "$T/hello.c" ] || fail readme_example "no '<!-- example: hello.c -->' C block in README.md"
export PKG_CONFIG_PATH="$R$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$R"
want=$("$QWEN3" generate "$M" --prompt "Once upon a time" -n 8 -t 1 2>/dev/null)
if cc -o "$T/hello" "$T/hello.c" $(pkg-config --cflags --libs qwen3) 2>"$T/cc.err"; then
    got=$(LD_LIBRARY_PATH="$R$P/lib" "$T/hello" "$M" "Once upon a time" 2>"$T/run.err")
    [ -n "$want" ] && [ "$got" = "qwen3 $ver: Once upon a time$want" ] && pass pkgconfig_example \
        || fail pkgconfig_example "printed '$got', want 'qwen3 $ver: Once upon a time$want' ($(head -c 200 "$T/run.err"))"
else
    fail pkgconfig_example "cc $(pkg-config --cflags --libs qwen3): $(head -c 400 "$T/cc.err")"
fi
if cc -o "$T/hello_static" "$T/hello.c" $(pkg-config --cflags qwen3) "$R$P/lib/libqwen3.a" \
        $(pkg-config --libs jansson libutf8proc libmicrohttpd) -lm -pthread 2>"$T/cc2.err"; then
    got=$("$T/hello_static" "$M" "Once upon a time" 2>&1)
    [ "$got" = "qwen3 $ver: Once upon a time$want" ] && ! ldd "$T/hello_static" | grep -q libqwen3 && pass static_example \
        || fail static_example "printed '$got'"
else
    fail static_example "$(head -c 400 "$T/cc2.err")"
fi

# man page: renders cleanly, every command with its flags
MAN="$R$P/share/man/man1/qwen3.1"
warn=$(groff -man -Tutf8 -ww "$MAN" 2>&1 >/dev/null | head -n 3)
txt=$(groff -man -Tutf8 "$MAN" 2>/dev/null | sed 's/.\x08//g')
ok=1
for c in run chat serve quantize bench; do
    printf '%s\n' "$txt" | grep -q "usage: qwen3 $c" || ok=0
done
[ -z "$warn" ] && [ $ok = 1 ] && printf '%s\n' "$txt" | grep -q -- "--think-budget" && pass man_page \
    || fail man_page "warnings '$warn', commands present: $ok"

# bash completion
comp=$(bash -c 'source "$1"; COMP_WORDS=(qwen3 ru); COMP_CWORD=1; _qwen3; echo "${COMPREPLY[*]}";
                COMP_WORDS=(qwen3 run M --thi); COMP_CWORD=3; _qwen3; echo "${COMPREPLY[*]}"' _ "$R$P/share/bash-completion/completions/qwen3" 2>&1)
[ "$(printf '%s\n' "$comp" | head -n 1)" = "run" ] && [ "$(printf '%s\n' "$comp" | tail -n 1)" = "--think-budget --think-grace" ] \
    && pass bash_completion || fail bash_completion "$comp"
