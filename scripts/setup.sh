#!/bin/sh
# setup.sh - installs the Debian packages and npm packages the build and tests need. Idempotent and
# quick when everything is present (the stamp records what was installed).
set -e
cd "$(dirname "$0")/.."
PKGS="make gcc clang libclang-rt-14-dev libc6-dev libjansson-dev libutf8proc-dev libonig-dev libmicrohttpd-dev libedit-dev
      python3 python3-numpy python3-jinja2 nodejs npm curl ca-certificates"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# Reference implementations for the tests (Hugging Face tokenizers, OpenAI SDK), pinned in
# tests/node/package.json and installed offline-safe into tests/node/node_modules.
if [ -f tests/node/package.json ] && [ ! -d tests/node/node_modules ]; then
    echo "setup: installing npm packages for the tests"
    (cd tests/node && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
