#!/bin/sh
# setup.sh - installs what the build and the tests need on Debian 12 (as root, or through sudo):
# Debian packages, then the npm reference packages of the tests (tests/node/package.json).
# Idempotent, and quick when everything is present.
set -e
cd "$(dirname "$0")/.."
PKGS="make gcc clang libclang-rt-14-dev libc6-dev libjansson-dev libutf8proc-dev libonig-dev libmicrohttpd-dev
      libedit-dev libcurl4-openssl-dev pkg-config groff-base binutils chromium python3 python3-numpy python3-jinja2 python3-torch python3-jsonschema curl ca-certificates"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# Node.js and npm: any install will do (Debian's packages, or a nodesource nodejs that bundles npm
# and conflicts with Debian's npm package), so look for the commands, not for package names.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# Reference implementations for the tests (Hugging Face tokenizers, the OpenAI SDK), pinned in
# tests/node/package.json; reinstalled when that file changes.
if [ -f tests/node/package.json ]; then
    want=$(cksum < tests/node/package.json)
    have=$(cat tests/node/node_modules/.qwen3-stamp 2>/dev/null || true)
    if [ "$want" != "$have" ]; then
        echo "setup: installing npm packages for the tests"
        (cd tests/node && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)
        echo "$want" > tests/node/node_modules/.qwen3-stamp
    fi
fi
