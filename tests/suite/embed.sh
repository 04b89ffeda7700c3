#!/bin/bash
# embed.sh - embeddings (Qwen3-Embedding's last-token pooling) against the numpy reference forward
# pass (tests/ref/embed_ref.py over qwen3_ref.py), on a dense and a MoE random-weight checkpoint:
#   cli_vs_ref_*      `qwen3 embed` (exact path) of three texts, one as an instructed query, equals the
#                     reference's normalised last hidden state of the same ids + <|endoftext|>:
#                     max |d| <= 1e-5 (entries are ~0.06; the exact path's logits agree to ~5e-6),
#                     norm 1 within 1e-5
#   server_*          /v1/embeddings: a string, a list of strings, token ids (no <|endoftext|> added),
#                     base64, dimensions (prefix renormalised), usage; equal to the CLI's vectors
#   server_refuse_*   an empty input, a bad encoding_format, dimensions above hidden_size: 400 naming it
set -u
. "$(dirname "$0")/../lib.sh"
expect 6
T="$QWEN3_TMP/embed"
mkdir -p "$T"
for p in tiny tiny-moe; do
    if [ ! -f "$T/$p/model.safetensors" ]; then
        "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$T/$p" --preset $p --vocab 151936 -q --seed 21 2>"$T/gen.err" \
            || { echo "FAIL embed_checkpoint: $(tail -n 2 "$T/gen.err")"; exit 0; }
    fi
done
TASK="Given a web search query, retrieve relevant passages that answer the query"
for p in tiny tiny-moe; do
    M="$T/$p"
    eos=$("$QWEN3" tokenize "$M" "<|endoftext|>")
    { echo "$("$QWEN3" tokenize "$M" "The capital of China is Beijing."),$eos"
      echo "$("$QWEN3" tokenize "$M" "$(printf 'Instruct: %s\nQuery:%s' "$TASK" "What is the capital of China?")"),$eos"
      echo "$("$QWEN3" tokenize "$M" "x"),$eos"; } > "$T/ids_$p.txt"
    { "$QWEN3" embed "$M" "The capital of China is Beijing." -t 2 &&
      "$QWEN3" embed "$M" "What is the capital of China?" --instruct "$TASK" -t 2 &&
      "$QWEN3" embed "$M" "x" -t 2; } > "$T/cli_$p.jsonl" 2>"$T/cli_$p.err"
    "$PY" "$QWEN3_ROOT/tests/ref/embed_ref.py" "$M" "$T/ids_$p.txt" > "$T/ref_$p.jsonl" 2>"$T/ref_$p.err"
    A="$T/cli_$p.jsonl" B="$T/ref_$p.jsonl" N="$p" checked "cli_vs_ref_$p" "$PY" - <<'PYEOF'
import json, os
import numpy as np
a = [np.array(json.loads(l)) for l in open(os.environ["A"]) if l.strip()]
b = [np.array(json.loads(l)) for l in open(os.environ["B"]) if l.strip()]
name = "cli_vs_ref_" + os.environ["N"]
if len(a) != 3 or len(b) != 3:
    print("FAIL %s: %d CLI vectors, %d reference vectors (want 3 each)" % (name, len(a), len(b)))
else:
    d = max(float(np.abs(x - y).max()) for x, y in zip(a, b))
    nrm = max(abs(float(np.linalg.norm(x)) - 1) for x in a)
    ok = d <= 1e-5 and nrm <= 1e-5
    print(("PASS %s (max |d| %.2g, |norm-1| %.2g)" if ok else "FAIL %s: max |d| %.3g, |norm-1| %.3g") % (name, d, nrm))
PYEOF
done

M="$T/tiny"
if ! start_server "$T/serve.err" "$M" -t 2 --ctx 256 --exact; then
    echo "FAIL embed_server: did not start: $(tail -n 3 "$T/serve.err")"; exit 0
fi
PORT=$port CLI="$T/cli_tiny.jsonl" IDS="$T/ids_tiny.txt" checked embed_server "$PY" - <<'PYEOF'
import base64, json, os, struct, urllib.request, urllib.error
import numpy as np
port = os.environ["PORT"]
def post(body):
    req = urllib.request.Request("http://127.0.0.1:%s/v1/embeddings" % port, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())
def check(name, ok, why=""):
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)))
cli = [np.array(json.loads(l)) for l in open(os.environ["CLI"]) if l.strip()]
ids = [[int(x) for x in l.split(",")] for l in open(os.environ["IDS"]) if l.strip()]
st, r = post({"input": ["The capital of China is Beijing.", "x"], "model": "tiny"})
try:
    got = [np.array(d["embedding"]) for d in r["data"]]
    d = max(float(np.abs(got[0] - cli[0]).max()), float(np.abs(got[1] - cli[2]).max()))
    check("server_strings", st == 200 and [x["index"] for x in r["data"]] == [0, 1] and d < 1e-6 and
          r["usage"]["prompt_tokens"] == len(ids[0]) + len(ids[2]) and r["object"] == "list", "d %g %s" % (d, json.dumps(r)[:200]))
except (KeyError, TypeError, IndexError) as e:
    check("server_strings", False, "%d %s" % (st, json.dumps(r)[:300]))
# token ids as given (here the same ids, <|endoftext|> included by the caller), base64, dimensions
st, r = post({"input": ids[1], "encoding_format": "base64"})
try:
    raw = base64.b64decode(r["data"][0]["embedding"])
    v = np.array(struct.unpack("<%df" % (len(raw) // 4), raw))
    check("server_ids_base64", st == 200 and len(v) == len(cli[1]) and float(np.abs(v - cli[1]).max()) < 1e-6,
          "%d %s" % (st, json.dumps(r)[:200]))
except (KeyError, TypeError, IndexError, ValueError) as e:
    check("server_ids_base64", False, "%d %s %r" % (st, json.dumps(r)[:300], e))
st, r = post({"input": "x", "dimensions": 8})
try:
    v = np.array(r["data"][0]["embedding"])
    want = cli[2][:8] / np.linalg.norm(cli[2][:8])
    check("server_dimensions", st == 200 and len(v) == 8 and float(np.abs(v - want).max()) < 1e-6, "%s" % json.dumps(r)[:200])
except (KeyError, TypeError, IndexError) as e:
    check("server_dimensions", False, "%d %s" % (st, json.dumps(r)[:300]))
bad = []
for body, param in [({"input": ""}, "input"), ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
                    ({"input": "x", "dimensions": 100000}, "dimensions"), ({"input": []}, "input")]:
    st, r = post(body)
    if st != 400 or r.get("error", {}).get("param") != param: bad.append((body, st, r))
check("server_refuse_bad_inputs", not bad, "%r" % bad[:2])
PYEOF
kill $srv 2>/dev/null; wait $srv 2>/dev/null
exit 0
