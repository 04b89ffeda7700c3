# bench/lib.sh - sourced by the bench scripts that build a C harness against the library.
# bench_cc NAME SRC: build/bench/NAME from SRC, linked with $BUILD/libqwen3.a (made first if missing)
# and the libraries the Makefile links the engine with.
BUILD=${QWEN3_BUILD:-build/rel}
D=build/bench
mkdir -p "$D"
bench_cc() {
    [ -f "$BUILD/libqwen3.a" ] || make -s -j2 "$BUILD/libqwen3.a"
    ${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -o "$D/$1" "$2" "$BUILD/libqwen3.a" \
        -ljansson -lutf8proc -lmicrohttpd -ledit -lcurl -lm -pthread
}
