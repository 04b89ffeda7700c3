#!/bin/sh
# make.sh - installs what the build and the tests need (Debian 12, as root or with sudo), then runs
# `make` with the given targets. The README's quick start is `./make.sh demo` and `./make.sh test`.
set -e
cd "$(dirname "$0")"
scripts/setup.sh
exec make -j2 "$@"
