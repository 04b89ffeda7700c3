#!/bin/bash
# logprobs.sh - log-probabilities in the server (OpenAI's shapes) checked against the logits path:
#   completion_echo_vs_logits   /v1/completions with echo + logprobs (greedy, --exact): every prompt
#                               token's and generated token's logprob, and the top-N, equal the
#                               log-softmax of `qwen3 logits` over prompt + `qwen3 generate`'s ids
#                               (|d| <= 2e-3: the server decodes through the KV cache, the reference
#                               is one prefill), the first prompt token null, text_offset right
#   completion_stream_same      the streamed records equal the whole-body ones
#   chat_logprobs               chat: one entry per generated token whose bytes join to the answer,
#                               top_logprobs sorted, the chosen token's logprob among them agreeing;
#                               streamed the same
#   unsupported_*               logit_bias, suffix, ... set to a real value, and structured output we
#                               cannot honour (a response_format type, a grammar or schema we refuse)
#                               get a 400 naming the option; neutral values (response_format text,
#                               logit_bias {}, echo false) are accepted
set -u
. "$(dirname "$0")/../lib.sh"
expect 25
T="$QWEN3_TMP/logprobs"
mkdir -p "$T"
M="$T/tiny"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 -q --seed 9 2>"$T/gen.err" \
        || { echo "FAIL logprobs_checkpoint: $(tail -n 2 "$T/gen.err")"; exit 0; }
fi
if ! start_server "$T/serve.err" "$M" -t 2 --ctx 256 --exact; then
    echo "FAIL logprobs_server: did not start: $(tail -n 3 "$T/serve.err")"; exit 0
fi
PROMPT="The quick brown fox jumps over the lazy dog because"
ids=$("$QWEN3" tokenize "$M" "$PROMPT")
gen=$("$QWEN3" generate "$M" --ids "$ids" -n 4 -t 2 2>/dev/null | tr ' ' ',')
"$QWEN3" logits "$M" --ids "$ids,$gen" -o "$T/ref.f32" -t 2 2>"$T/logits.err" || echo "FAIL logprobs_reference: $(cat "$T/logits.err")"
PORT=$port PROMPT=$PROMPT IDS="$ids,$gen" NPROMPT=$(echo "$ids" | tr ',' '\n' | wc -l) REF="$T/ref.f32" \
    TOKJSON="$M/tokenizer.json" checked logprobs timeout 120 "$PY" - <<'PYEOF'
import json, os, urllib.request, urllib.error
import numpy as np
port = os.environ["PORT"]
def post(path, body, stream=False):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())
    if not stream:
        return status, json.loads(data)
    return status, [json.loads(l[6:]) for l in data.split("\n") if l.startswith("data: ") and l != "data: [DONE]"]
def check(name, ok, why=""):
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)))

# the reference: log-softmax over the ids the tokenizer knows (the sampler's range)
tj = json.load(open(os.environ["TOKJSON"]))
n_tok = max(max(tj["model"]["vocab"].values()), max(t["id"] for t in tj["added_tokens"])) + 1
ids = [int(x) for x in os.environ["IDS"].split(",")]
n_prompt = int(os.environ["NPROMPT"])
L = np.fromfile(os.environ["REF"], np.float32).reshape(len(ids), -1)[:, :n_tok].astype(np.float64)
ref = L - (L.max(1, keepdims=True) + np.log(np.exp(L - L.max(1, keepdims=True)).sum(1, keepdims=True)))

K = 3
body = {"prompt": os.environ["PROMPT"], "max_tokens": len(ids) - n_prompt, "temperature": 0, "logprobs": K, "echo": True}
st, r = post("/v1/completions", body)
try:
    ch = r["choices"][0]; lp = ch["logprobs"]
    worst, why = 0.0, ""
    ok = len(lp["token_logprobs"]) == len(ids) and lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    if not ok: why = "%d records for %d tokens, first %r" % (len(lp["token_logprobs"]), len(ids), lp["token_logprobs"][:1])
    for i in range(1, len(ids)) if ok else []:
        want = ref[i - 1, ids[i]]
        worst = max(worst, abs(lp["token_logprobs"][i] - want))
        top = sorted(lp["top_logprobs"][i].values(), reverse=True)
        wtop = np.sort(ref[i - 1])[::-1][:K]
        if len(top) != K: ok, why = False, "position %d: %d top entries, want %d" % (i, len(top), K)
        else: worst = max(worst, float(np.abs(np.array(top) - wtop).max()))
    ok = ok and worst <= 2e-3 and ch["text"].startswith(os.environ["PROMPT"])
    offs = lp["text_offset"]; toks = lp["tokens"]
    ok_off = all(offs[i + 1] == offs[i] + len(toks[i]) for i in range(len(toks) - 1)) and offs[0] == 0 \
        and "".join(toks) == ch["text"]
    check("completion_echo_vs_logits (max |d| %.2e over %d tokens)" % (worst, len(ids) - 1), ok,
          why or "max |d| %.3g (bound 2e-3) or text %r" % (worst, ch["text"][:80]))
    check("completion_text_offset", ok_off, "offsets %r for tokens %r, text %r" % (offs, toks, ch["text"]))
except (KeyError, TypeError, IndexError) as e:
    check("completion_echo_vs_logits", False, "status %d, body %s (%r)" % (st, json.dumps(r)[:300], e))
    lp = None

st, chunks = post("/v1/completions", dict(body, stream=True), stream=True)
got = []
text = ""
for c in chunks:
    if c.get("choices"):
        text += c["choices"][0]["text"]
        if c["choices"][0]["logprobs"]: got += c["choices"][0]["logprobs"]["token_logprobs"]
check("completion_stream_same", lp is not None and got == lp["token_logprobs"] and text == ch["text"],
      "streamed %r vs %r" % (got[:6], lp and lp["token_logprobs"][:6]))

# chat
cb = {"messages": [{"role": "user", "content": "Why is the sky blue?"}], "max_tokens": 6, "seed": 4, "temperature": 1,
      "logprobs": True, "top_logprobs": 5, "chat_template_kwargs": {"enable_thinking": False}}
st, r = post("/v1/chat/completions", cb)
try:
    c = r["choices"][0]; ent = c["logprobs"]["content"]
    joined = b"".join(bytes(e["bytes"]) for e in ent).decode("utf-8", "replace")
    ok = len(ent) == r["usage"]["completion_tokens"] and joined == c["message"]["content"]
    for e in ent:
        tops = [t["logprob"] for t in e["top_logprobs"]]
        ok = ok and len(tops) == 5 and tops == sorted(tops, reverse=True) and e["logprob"] <= tops[0] + 1e-6
        ok = ok and all(abs(t["logprob"] - e["logprob"]) < 1e-6 for t in e["top_logprobs"] if t["token"] == e["token"])
    check("chat_logprobs", ok, json.dumps(c)[:400])
    st, chunks = post("/v1/chat/completions", dict(cb, stream=True), stream=True)
    sent = [x for ch_ in chunks if ch_.get("choices") and ch_["choices"][0]["logprobs"] for x in ch_["choices"][0]["logprobs"]["content"]]
    check("chat_logprobs_stream_same", [e["logprob"] for e in sent] == [e["logprob"] for e in ent],
          "%r vs %r" % ([e["logprob"] for e in sent][:4], [e["logprob"] for e in ent][:4]))
except (KeyError, TypeError, IndexError) as e:
    check("chat_logprobs", False, "status %d, body %s (%r)" % (st, json.dumps(r)[:300], e))
st, r = post("/v1/chat/completions", dict(cb, logprobs=False))
check("chat_top_without_logprobs", st == 400 and r["error"]["param"] == "top_logprobs", "%d %s" % (st, r))

# options we do not implement: 400 naming them; neutral values pass
chat = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
comp = {"prompt": "Hi", "max_tokens": 1}
for path, base, field, value in [
        ("/v1/chat/completions", chat, "response_format", {"type": "regex"}),
        ("/v1/chat/completions", chat, "logit_bias", {"9707": 5}),
        ("/v1/chat/completions", chat, "grammar", "root ::= undefined-rule"),
        ("/v1/chat/completions", chat, "guided_json", {"type": "string", "pattern": "a+"}),
        ("/v1/chat/completions", chat, "functions", [{"name": "f"}]),
        ("/v1/completions", comp, "suffix", " end"),
        ("/v1/completions", comp, "best_of", 3),
        ("/v1/completions", comp, "min_tokens", 4),
        ("/v1/chat/completions", chat, "stop_token_ids", [151645]),
        ("/v1/chat/completions", chat, "n_predict", 5),
        ("/v1/chat/completions", chat, "echo", True),
        ("/v1/chat/completions", chat, "chat_template", "{{ messages }}")]:
    st, r = post(path, dict(base, **{field: value}))
    check("unsupported_" + field, st == 400 and r["error"]["param"] == field and field in r["error"]["message"],
          "%d %s" % (st, json.dumps(r)[:200]))
for path, base, field, value in [
        ("/v1/chat/completions", chat, "response_format", {"type": "text"}),
        ("/v1/chat/completions", chat, "logit_bias", {}),
        ("/v1/completions", comp, "echo", False),
        ("/v1/completions", comp, "best_of", 1),
        ("/v1/completions", comp, "suffix", None),
        ("/v1/chat/completions", chat, "stop_token_ids", []),
        ("/v1/chat/completions", chat, "user", "someone")]:
    st, r = post(path, dict(base, **{field: value}))
    check("neutral_%s_accepted" % field, st == 200, "%d %s" % (st, json.dumps(r)[:200]))
PYEOF
kill $srv 2>/dev/null; wait $srv 2>/dev/null
exit 0
