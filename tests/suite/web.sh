#!/bin/bash
# web.sh - the web chat page served at / (src/server/web/chat.html), in a real browser: Debian's
# headless Chromium driven by tests/node/web_test.mjs (see there for the checks), plus GET / without
# the API key while the API still asks for it. Skipped, saying why, where Chromium is not installed
# (scripts/setup.sh installs the chromium package). ~10 s.
set -u
T="$QWEN3_TMP/web"
mkdir -p "$T"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
. "$(dirname "$0")/../lib.sh"
if [ -n "$CHROMIUM" ]; then expect 7; else expect 2; fi # the page, then 6 browser checks or one SKIP
M="$T/thinker"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 --thinker -q 2>"$T/gen.err" \
        || { echo "FAIL web_checkpoint: $(tail -n 2 "$T/gen.err")"; exit 0; }
fi
if ! start_server "$T/serve.err" "$M" -t 2 --ctx 4096 --api-key sekrit; then
    echo "FAIL web_server: did not start: $(tail -n 3 "$T/serve.err")"; exit 0
fi
page=$(curl -s -o "$T/page.html" -w '%{http_code} %{content_type}' "http://127.0.0.1:$port/")
api=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/models")
[ "$page" = "200 text/html; charset=utf-8" ] && cmp -s "$T/page.html" "$QWEN3_ROOT/src/server/web/chat.html" && [ "$api" = 401 ] \
    && echo "PASS web_page_served (GET / open, the API still asks for the key)" \
    || echo "FAIL web_page_served: GET / -> '$page' (same bytes as chat.html: $(cmp -s "$T/page.html" "$QWEN3_ROOT/src/server/web/chat.html" && echo yes || echo no)), /v1/models without key -> $api"
if [ -z "$CHROMIUM" ]; then
    echo "SKIP web_browser: chromium is not installed (apt-get install chromium, as scripts/setup.sh does)"
else
    # the page takes the key from localStorage: give it through the field, as a user would
    rm -rf "$T/profile"
    CHROMIUM="$CHROMIUM" PAGE_URL="http://127.0.0.1:$port/" SHOT="$T/page.png" PROFILE="$T/profile" KEY=sekrit \
        checked web_browser timeout 120 node "$QWEN3_ROOT/tests/node/web_test.mjs"
fi
kill $srv 2>/dev/null; wait $srv 2>/dev/null
exit 0
