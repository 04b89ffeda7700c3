#!/bin/bash
# pull.sh - `qwen3 pull`, `list`, `rm`, hub names as MODEL, and the wrong-MODEL messages, against a
# loopback hub (tests/hub/hub_server.py) serving a generated checkpoint in the hub's URL layout, with
# fault injection: a dropped connection (resumed with Range), a server that ignores Range, a wrong
# sha256, 401 (and HF_TOKEN), 403, 404, a flaky API (503), a slow and a stalled server, a size larger
# than the disk. The cache layout is checked by tests/hub/check_cache.py (Python, from
# huggingface_hub's layout), and a cache written by tests/hub/make_cache.py the way huggingface_hub
# writes it must be usable. No test touches the internet: HF_ENDPOINT is the loopback server.
set -u
echo "EXPECT 85"
ROOT=${QWEN3_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PY:-/usr/bin/python3}
QWEN3=${QWEN3:-$ROOT/qwen3}
TMP=${QWEN3_TMP:-$ROOT/build/testdata}/pull
rm -rf "$TMP"
mkdir -p "$TMP/root/test" "$TMP/root/other"
export QWEN3_CACHE_DIR="$TMP/qcache"

if [ ! -x "$QWEN3" ]; then echo "FAIL pull: engine binary $QWEN3 not found (run make)"; exit 0; fi

# Checkpoints: one with the tokenizer (test/Tiny), a smaller one without for the fault repos.
"$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/ckpt" --preset tiny --shards 2 -q || { echo "FAIL pull.gen: gen_checkpoint"; exit 0; }
"$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/small" --preset tiny --shards 2 --no-tokenizer -q || { echo "FAIL pull.gen: gen_checkpoint"; exit 0; }
ln -s ../../ckpt "$TMP/root/test/Tiny"
for n in Drop NoRange BadSum Gated Forbidden Slow Slow2 Slow3 Stall Huge Flaky Tiny2; do ln -s ../../small "$TMP/root/test/$n"; done
# a GGUF repo: real GGUF files written by gen_checkpoint.py (BF16, the same weights as $TMP/small;
# F32 as a split set, the same weights as $TMP/f32), and stand-ins (GGUF magic + random bytes) for
# the tags whose choice and transfer only are tested
"$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/gg" --preset tiny --no-tokenizer --gguf -q || { echo "FAIL pull.gen: --gguf"; exit 0; }
"$PY" "$ROOT/tools/gen_checkpoint.py" "$TMP/f32" --preset tiny --dtype f32 --no-tokenizer --gguf --gguf-split 2 -q ||
    { echo "FAIL pull.gen: --gguf-split"; exit 0; }
G="$TMP/root/test/Tiny-GGUF"
mkdir -p "$G"
for f in Tiny-Q4_K_M.gguf Tiny-Q8_0.gguf Tiny-F16-00001-of-00002.gguf Tiny-F16-00002-of-00002.gguf mmproj-Tiny-F16.gguf; do
    { printf 'GGUF'; head -c 20000 /dev/urandom; } > "$G/$f"
done
cp "$TMP/gg/model.gguf" "$G/Tiny-BF16.gguf"
mv "$TMP/f32/model-00001-of-00002.gguf" "$G/Tiny-F32-00001-of-00002.gguf"
mv "$TMP/f32/model-00002-of-00002.gguf" "$G/Tiny-F32-00002-of-00002.gguf"
echo '{"note": "GGUF repos carry no config.json"}' > "$G/params.json"

PORTFILE="$TMP/port"
LOG="$TMP/requests.log"
: > "$LOG"
"$PY" "$ROOT/tests/hub/hub_server.py" "$TMP/root" "$PORTFILE" "$LOG" 2>"$TMP/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$PORTFILE" ] && break; sleep 0.05; done
if [ ! -s "$PORTFILE" ]; then echo "FAIL pull.server: the loopback hub did not start: $(cat "$TMP/server.err")"; exit 0; fi
PORT=$(cat "$PORTFILE")

export HF_HUB_CACHE="$TMP/cache" HF_ENDPOINT="http://127.0.0.1:$PORT" QWEN3_HUB_BACKOFF_MS=50 QWEN3_HUB_TIMEOUT=5
export HF_TOKEN_PATH="$TMP/no-token" HF_HOME="$TMP/hfhome"
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE

# run NAME WANT_STATUS(0|fail) PATTERN command... : stdout+stderr must match PATTERN (grep -E)
run() {
    local name=$1 want=$2 pat=$3
    shift 3
    local out rc
    local t0=$(date +%s%N)
    out=$(timeout 60 "$@" 2>&1); rc=$?
    [ -n "${PULL_TIMING:-}" ] && echo "time $name $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    printf '%s\n' "$out" > "$TMP/last.out"
    if [ $rc -eq 124 ]; then echo "FAIL $name: hung"; return 1; fi
    if [ $rc -ge 128 ]; then echo "FAIL $name: crashed (status $rc): $(tail -c 400 "$TMP/last.out")"; return 1; fi
    if [ "$want" = 0 ] && [ $rc -ne 0 ]; then echo "FAIL $name: status $rc: $(tail -c 600 "$TMP/last.out")"; return 1; fi
    if [ "$want" != 0 ] && [ $rc -eq 0 ]; then echo "FAIL $name: succeeded, expected a failure: $(tail -c 400 "$TMP/last.out")"; return 1; fi
    if ! grep -Eq -- "$pat" "$TMP/last.out"; then echo "FAIL $name: output lacks /$pat/: $(tail -c 600 "$TMP/last.out")"; return 1; fi
    echo "PASS $name"
}
layout() { # NAME REPO SOURCE [FILES...]
    local name=$1 repo=$2 src=$3
    shift 3
    local msg
    if msg=$("$PY" "$ROOT/tests/hub/check_cache.py" "$HF_HUB_CACHE/models--test--$repo" "$src" main "$@" 2>&1); then
        echo "PASS $name ($msg)"
    else
        echo "FAIL $name: $msg"
    fi
}
cdn_gets() { grep -c "^GET /cdn/test/$1/" "$LOG"; }

# ---- a whole checkpoint, its layout, and use by name ----
COMMIT=$("$PY" -c 'import hashlib,sys; print(hashlib.sha1(b"test/Tiny").hexdigest())')
run pull.basic 0 "^$HF_HUB_CACHE/models--test--Tiny/snapshots/$COMMIT\$" "$QWEN3" pull test/Tiny
layout pull.layout Tiny "$TMP/ckpt"
before=$(cdn_gets Tiny)
run pull.again 0 "snapshots/$COMMIT" "$QWEN3" pull test/Tiny
after=$(cdn_gets Tiny)
if [ "$before" = "$after" ]; then echo "PASS pull.again.no-download (CDN GETs $before before and after)"
else echo "FAIL pull.again.no-download: the second pull downloaded again ($before -> $after CDN GETs)"; fi
# by name, with no network (the endpoint is a closed port)
"$QWEN3" logits "$TMP/ckpt" --ids 1,2,3 -o "$TMP/a.f32" >/dev/null 2>&1
run pull.by-name.logits 0 '' env HF_ENDPOINT=http://127.0.0.1:9 "$QWEN3" logits test/Tiny --ids 1,2,3 -o "$TMP/b.f32"
if cmp -s "$TMP/a.f32" "$TMP/b.f32" && [ -s "$TMP/a.f32" ]; then echo "PASS pull.by-name.same-logits"
else echo "FAIL pull.by-name.same-logits: logits of test/Tiny differ from those of the source directory"; fi
run pull.by-name.info 0 'layers' env HF_ENDPOINT=http://127.0.0.1:9 "$QWEN3" info test/Tiny
run pull.by-name.tokenize 0 '^9707,11,1879,0$' "$QWEN3" tokenize test/Tiny "Hello, world!"
run pull.by-name.revision 0 'layers' "$QWEN3" info "test/Tiny@$COMMIT"
run pull.offline 0 "snapshots/$COMMIT" env HF_HUB_OFFLINE=1 HF_ENDPOINT=http://127.0.0.1:9 "$QWEN3" pull test/Tiny
run pull.offline.missing fail 'HF_HUB_OFFLINE=1 forbids the network' env HF_HUB_OFFLINE=1 "$QWEN3" pull test/Tiny2
n=$(grep -c "test/Tiny2" "$LOG")
[ "$n" = 0 ] && echo "PASS pull.offline.no-request" || echo "FAIL pull.offline.no-request: $n requests for test/Tiny2 in offline mode"

# ---- faults ----
run pull.drop 0 'transfer closed|connection closed' "$QWEN3" pull test/Drop
layout pull.drop.layout Drop "$TMP/small"
if grep -q "^GET /cdn/test/Drop/model-00001-of-00002.safetensors range=bytes=[1-9]" "$LOG"; then echo "PASS pull.drop.resumed-with-range"
else echo "FAIL pull.drop.resumed-with-range: no Range request after the dropped connection"; fi
run pull.norange 0 '' "$QWEN3" pull test/NoRange
layout pull.norange.layout NoRange "$TMP/small"
run pull.badsum fail 'checksum mismatch.*deleted' "$QWEN3" pull test/BadSum
left=$(ls "$HF_HUB_CACHE/models--test--BadSum/blobs" | grep -c -E '^[0-9a-f]{64}(\.incomplete)?$')
[ "$left" = 0 ] && echo "PASS pull.badsum.not-kept" || echo "FAIL pull.badsum.not-kept: $left LFS blob(s) kept after a checksum mismatch"
run pull.401 fail '401.*HF_TOKEN' "$QWEN3" pull test/Gated
run pull.401.token 0 'snapshots/' env HF_TOKEN=hf_test_token "$QWEN3" pull test/Gated
grep -q "auth=Bearer hf_test_token" "$LOG" && echo "PASS pull.401.token-sent" || echo "FAIL pull.401.token-sent: no Authorization: Bearer in the requests"
run pull.401.bad-token fail 'HF_TOKEN was refused' env HF_TOKEN=wrong "$QWEN3" pull test/Gated
run pull.403 fail '403.*gated' "$QWEN3" pull test/Forbidden
run pull.404.repo fail '404.*no repo test/Nothing' "$QWEN3" pull test/Nothing
run pull.404.revision fail "no revision 'nobranch'" "$QWEN3" pull test/Tiny@nobranch
run pull.flaky 0 'HTTP 503; retrying' "$QWEN3" pull test/Flaky
t0=$(date +%s.%N)
run pull.slow 0 'snapshots/' "$QWEN3" pull test/Slow
layout pull.slow.layout Slow "$TMP/small"
run pull.stall fail 'no data for 1 s.*gave up after 2 attempts.*pull again to resume' \
    env QWEN3_HUB_TIMEOUT=1 QWEN3_HUB_RETRIES=2 "$QWEN3" pull test/Stall
run pull.disk-space fail 'not enough disk space' "$QWEN3" pull test/Huge
# a full disk while writing: a file size limit makes write() fail the same way (EFBIG)
run pull.disk-full fail 'disk full writing' bash -c "trap '' XFSZ; ulimit -f 200; exec \"$QWEN3\" pull test/Tiny2"
run pull.disk-full.resume 0 'resuming at' "$QWEN3" pull test/Tiny2
layout pull.disk-full.layout Tiny2 "$TMP/small"

# two pulls of one repo at once: both succeed, each file downloaded once (the lock), layout intact
"$QWEN3" pull test/Slow2 >"$TMP/c1.out" 2>&1 & p1=$!
"$QWEN3" pull test/Slow2 >"$TMP/c2.out" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
if [ $r1 = 0 ] && [ $r2 = 0 ]; then echo "PASS pull.concurrent"
else echo "FAIL pull.concurrent: statuses $r1 and $r2: $(tail -c 300 "$TMP/c1.out") $(tail -c 300 "$TMP/c2.out")"; fi
layout pull.concurrent.layout Slow2 "$TMP/small"
g=$(grep -c "^GET /cdn/test/Slow2/model-00001-of-00002.safetensors" "$LOG")
[ "$g" = 1 ] && echo "PASS pull.concurrent.once" || echo "FAIL pull.concurrent.once: the shard was downloaded $g times"

# an interrupted pull (killed mid-file) resumes where it stopped
"$QWEN3" pull test/Slow3 >/dev/null 2>&1 & pk=$!
for _ in $(seq 100); do
    ls "$HF_HUB_CACHE"/models--test--Slow3/blobs/*.incomplete >/dev/null 2>&1 && break
    sleep 0.05
done
sleep 0.2
kill -9 $pk 2>/dev/null; wait $pk 2>/dev/null
run pull.interrupted.resume 0 'resuming at' "$QWEN3" pull test/Slow3
layout pull.interrupted.layout Slow3 "$TMP/small"

# ---- GGUF tags ----
run pull.gguf.tag 0 'snapshots/[0-9a-f]{40}/Tiny-Q8_0\.gguf$' "$QWEN3" pull test/Tiny-GGUF:Q8_0
n=$(grep -c '^GET /cdn/test/Tiny-GGUF/' "$LOG")
[ "$n" = 1 ] && echo "PASS pull.gguf.one-file" || echo "FAIL pull.gguf.one-file: $n GGUF downloads for one tag"
layout pull.gguf.layout Tiny-GGUF "$G" Tiny-Q8_0.gguf
run pull.gguf.split 0 'Tiny-F16-00001-of-00002\.gguf$' "$QWEN3" pull hf.co/test/Tiny-GGUF:f16
layout pull.gguf.split.layout Tiny-GGUF "$G" Tiny-F16-00001-of-00002.gguf Tiny-F16-00002-of-00002.gguf
# real GGUF files pulled, then loaded by name: the same logits as the safetensors of the same weights
"$QWEN3" logits "$TMP/small" --ids 1,2,3 -o "$TMP/st_bf16.f32" >/dev/null 2>&1
"$QWEN3" logits "$TMP/f32" --ids 1,2,3 -o "$TMP/st_f32.f32" >/dev/null 2>&1
run pull.gguf.real 0 'Tiny-BF16\.gguf$' "$QWEN3" pull test/Tiny-GGUF:BF16
run pull.gguf.real.logits 0 '' "$QWEN3" logits test/Tiny-GGUF:BF16 --ids 1,2,3 -o "$TMP/gg_bf16.f32"
if [ -s "$TMP/st_bf16.f32" ] && cmp -s "$TMP/st_bf16.f32" "$TMP/gg_bf16.f32"; then echo "PASS pull.gguf.real.same-logits"
else echo "FAIL pull.gguf.real.same-logits: logits of test/Tiny-GGUF:BF16 differ from those of the safetensors"; fi
run pull.gguf.real-split 0 'Tiny-F32-00001-of-00002\.gguf$' "$QWEN3" pull test/Tiny-GGUF:F32
run pull.gguf.real-split.logits 0 '' "$QWEN3" logits test/Tiny-GGUF:F32 --ids 1,2,3 -o "$TMP/gg_f32.f32"
if [ -s "$TMP/st_f32.f32" ] && cmp -s "$TMP/st_f32.f32" "$TMP/gg_f32.f32"; then echo "PASS pull.gguf.real-split.same-logits"
else echo "FAIL pull.gguf.real-split.same-logits: logits of test/Tiny-GGUF:F32 differ from those of the safetensors"; fi
run pull.gguf.default 0 'Tiny-Q4_K_M\.gguf$' "$QWEN3" pull test/Tiny-GGUF
run pull.gguf.unknown-tag fail "no GGUF file for tag 'Q5_K_M'.*Q4_K_M" "$QWEN3" pull test/Tiny-GGUF:Q5_K_M
run pull.gguf.partial-tag fail "no GGUF file for tag 'Q4_K'" "$QWEN3" pull test/Tiny-GGUF:Q4_K
grep -q mmproj "$LOG" && echo "FAIL pull.gguf.no-mmproj: an mmproj file was requested" || echo "PASS pull.gguf.no-mmproj"
run pull.gguf.offline 0 'Tiny-Q8_0\.gguf$' env HF_HUB_OFFLINE=1 "$QWEN3" pull test/Tiny-GGUF:Q8_0

# ---- list, rm, --pull ----
run list 0 'test/Tiny +[0-9.]+ MB +safetensors' "$QWEN3" list
run list.gguf 0 'test/Tiny-GGUF .*gguf .*Q8_0' "$QWEN3" list
run rm 0 'removed test/Tiny ' "$QWEN3" rm test/Tiny
[ -e "$HF_HUB_CACHE/models--test--Tiny" ] && echo "FAIL rm.gone: the repo folder is still there" || echo "PASS rm.gone"
run rm.again fail 'not in the Hugging Face cache' "$QWEN3" rm test/Tiny
run rm.bad-name fail 'not a hub name|written as a path' "$QWEN3" rm ../etc
run list.after-rm 0 'test/Drop' "$QWEN3" list
if grep -q 'test/Tiny ' "$TMP/last.out"; then echo "FAIL list.after-rm.absent: test/Tiny still listed"; else echo "PASS list.after-rm.absent"; fi
run name.not-cached fail 'looked for .*models--test--Tiny/refs/main.*qwen3 pull test/Tiny' "$QWEN3" info test/Tiny
run name.not-cached.run fail 'qwen3 pull test/Tiny.*--pull' "$QWEN3" run test/Tiny "hi"
run name.pull-flag 0 'layers' "$QWEN3" info test/Tiny --pull

# a cache written the way huggingface_hub writes it is used as is
HF_HUB_CACHE="$TMP/hfcache" "$PY" "$ROOT/tests/hub/make_cache.py" "$TMP/hfcache" acme Made "$TMP/ckpt"
run name.transformers-cache 0 'layers' env HF_HUB_CACHE="$TMP/hfcache" HF_ENDPOINT=http://127.0.0.1:9 "$QWEN3" info acme/Made
run name.hf-home 0 'layers' env -u HF_HUB_CACHE HF_HOME="$TMP/hfhome2" bash -c \
    "mkdir -p '$TMP/hfhome2' && ln -sfn '$TMP/hfcache' '$TMP/hfhome2/hub' && exec '$QWEN3' info acme/Made"

# ---- wrong MODEL: one clear message, for every command (issue 12) ----
mkdir -p "$TMP/notok" "$TMP/nochat" "$TMP/empty"
cp "$TMP/small"/*.json "$TMP/small"/*.safetensors "$TMP/notok/"
cp -r "$TMP/notok/." "$TMP/nochat/" && cp "$TMP/ckpt/tokenizer.json" "$TMP/nochat/"
for cmd in "run M hi" "chat M" "serve M" "info M" "logits M --ids 1 -o $TMP/x" "tokenize M hi" "bench M" "quantize M $TMP/qout --type q8_0"; do
    c=${cmd%% *}
    args=${cmd#* }
    run "wrong.missing.$c" fail "MODEL '$TMP/nope' does not exist" "$QWEN3" ${args/M/$c $TMP/nope}
done
run wrong.missing.plain-name fail "does not exist.*form ORG/NAME" "$QWEN3" run Qwen3-0.6B hi
run wrong.file fail "is a file: pass the directory that holds the model \($TMP/small\)" "$QWEN3" run "$TMP/small/model-00001-of-00002.safetensors" hi
run wrong.file.config fail "is a file: pass the directory" "$QWEN3" info "$TMP/small/config.json"
run wrong.no-tokenizer fail "has no tokenizer files: no tokenizer.json \(nor vocab.json \+ merges.txt\)" "$QWEN3" run "$TMP/notok" hi
run wrong.no-chat-template fail "no chat template: tokenizer_config.json \(or chat_template.jinja\) is missing" "$QWEN3" run "$TMP/nochat" hi
run wrong.not-model-dir fail "is not a model directory: no config.json" "$QWEN3" run "$TMP/empty" hi
run wrong.repo-id fail "Nobody/Nothing.*looked for .*models--Nobody--Nothing/refs/main.*qwen3 pull Nobody/Nothing" "$QWEN3" chat Nobody/Nothing
run wrong.serve.repo-id fail "qwen3 pull Nobody/Nothing" "$QWEN3" serve Nobody/Nothing --port 0
run wrong.gguf-tag-not-cached fail "no GGUF file for tag 'Q6_K'.*qwen3 pull test/Tiny-GGUF:Q6_K" "$QWEN3" info test/Tiny-GGUF:Q6_K
exit 0
