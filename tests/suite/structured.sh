#!/bin/bash
# structured.sh - constrained decoding end to end, on a random-weight checkpoint (the model is noise,
# so the grammar does all the work), every answer checked by an independent validator (Debian's
# python3-jsonschema; Python's re for GBNF grammars that are regular):
#   schema_valid_*        /v1/chat/completions with response_format json_schema: for each schema (a
#                         Pydantic-style one with $defs / $ref among them) and
#                         seed (greedy and sampled, non-thinking), the answer finishes "stop" and its
#                         content parses and validates against the schema
#   json_object           response_format json_object: the content parses to an object
#   tool_named, tool_required   tool_choice naming a function / "required": finish "tool_calls", one
#                         call to a rendered tool (the named one), its arguments valid against the
#                         function's parameters
#   thinking_schema       a prompt that opened <think>, with a budget: the reasoning is free, the
#                         answer after </think> validates
#   stream_schema         streamed: the deltas joined validate
#   gbnf_grammar          llama.cpp's "grammar" field (GBNF) on /v1/completions: fullmatch of the
#                         equivalent regular expression
#   refuse_*              keywords outside the subset, a bad response_format type, two constraints at
#                         once, a GBNF error: 400 naming the field (and the keyword / line)
#   cli_json_schema       `qwen3 run --json-schema FILE --json`: content validates
#   cli_bad_schema        `qwen3 run --json-schema` with a refused keyword: exit 2, keyword named
set -u
. "$(dirname "$0")/../lib.sh"
T="$QWEN3_TMP/structured"
mkdir -p "$T"
if ! "$PY" -c "import jsonschema" 2>/dev/null; then
    expect 1; echo "SKIP structured: python3-jsonschema is not installed (scripts/setup.sh installs it)"; exit 0
fi
expect 23
M="$T/tiny"
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 -q --seed 5 2>"$T/gen.err" \
        || { echo "FAIL structured_checkpoint: $(tail -n 2 "$T/gen.err")"; exit 0; }
fi
if ! start_server "$T/serve.err" "$M" -t 2 --ctx 1024 --parallel 4; then
    echo "FAIL structured_server: did not start: $(tail -n 3 "$T/serve.err")"; exit 0
fi
PORT=$port checked structured timeout 600 "$PY" - <<'PYEOF'
import json, os, re, urllib.request, urllib.error, concurrent.futures as cf
import jsonschema
port = os.environ["PORT"]
def post(path, body, stream=False):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            data = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())
    if not stream:
        return status, json.loads(data)
    return status, [json.loads(l[6:]) for l in data.split("\n") if l.startswith("data: ") and l != "data: [DONE]"]
def check(name, ok, why=""):
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)))
def validate(schema, text):
    """None when text parses and validates, else why not."""
    try:
        v = json.loads(text)
    except ValueError as e:
        return "does not parse (%s): %r" % (e, text[:200])
    try:
        jsonschema.validate(v, schema, cls=jsonschema.Draft202012Validator)
    except jsonschema.ValidationError as e:
        return "invalid: %s: %r" % (e.message, text[:200])
    return None

S = "string"
SCHEMAS = {
    "object": {"type": "object", "properties": {"name": {"type": S, "maxLength": 8}, "age": {"type": "integer"},
                                                 "ok": {"type": "boolean"}}, "required": ["name", "age"]},
    "enum_const": {"type": "object", "properties": {"kind": {"enum": ["cat", "dog", 3, None, {"a": [1]}]},
                                                     "v": {"const": "x\"y\\z"}}, "required": ["kind", "v"]},
    "array": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
    "nested": {"type": "object", "properties": {"p": {"type": "object", "properties": {
        "x": {"type": "number"}, "y": {"type": ["integer", "null"]}}, "required": ["x", "y"]},
        "l": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": S, "minLength": 1, "maxLength": 3}},
                                          "required": ["k"]}, "maxItems": 2}}, "required": ["p", "l"]},
    "anyof": {"anyOf": [{"type": "integer"}, {"type": S, "maxLength": 5}, {"type": "array", "items": {"type": "boolean"}, "maxItems": 3}]},
    "optional_only": {"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "boolean"}, "c": {"enum": [1, 2]}}},
    "strings": {"type": "object", "properties": {"s": {"type": S, "minLength": 2, "maxLength": 6}, "t": {"type": S, "maxLength": 0}},
                "required": ["s", "t"], "additionalProperties": False},
    "scalar_number": {"type": "number"},
    "refs": {"$defs": {"Tag": {"enum": ["x", "y"]}, "Item": {"title": "Item", "type": "object", "additionalProperties": False,
             "properties": {"id": {"type": "integer"}, "tag": {"$ref": "#/$defs/Tag"}}, "required": ["id", "tag"]}},
             "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "maxItems": 2}},
             "required": ["items"]},
}
runs = []
for name, schema in SCHEMAS.items():
    for seed, temp in ((1, 0), (2, 1.0), (3, 1.0)):
        runs.append((name, schema, seed, temp))
def one(run):
    name, schema, seed, temp = run
    body = {"messages": [{"role": "user", "content": "Answer in JSON."}], "max_tokens": 400, "seed": seed,
            "temperature": temp, "chat_template_kwargs": {"enable_thinking": False},
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}}
    return run, post("/v1/chat/completions", body)
results = {}
with cf.ThreadPoolExecutor(4) as ex:
    for (name, schema, seed, temp), (st, r) in ex.map(one, runs):
        why = None
        if st != 200: why = "status %d %s" % (st, json.dumps(r)[:200])
        elif r["choices"][0]["finish_reason"] != "stop": why = "finish %s: %r" % (r["choices"][0]["finish_reason"], r["choices"][0]["message"]["content"][:200])
        else: why = validate(schema, r["choices"][0]["message"]["content"])
        results.setdefault(name, []).append(why)
for name in SCHEMAS:
    bad = [w for w in results[name] if w]
    check("schema_valid_%s (%d generations)" % (name, len(results[name])), not bad, "; ".join(bad)[:400])

# json_object: any object (strings are unbounded: a noise model may run out of tokens inside one, so
# several seeds; every one that ends must be an object, and at least one must end)
ends, bad = 0, []
for seed in range(1, 5):
    st, r = post("/v1/chat/completions", {"messages": [{"role": "user", "content": "JSON"}], "max_tokens": 300, "seed": seed,
                                          "chat_template_kwargs": {"enable_thinking": False}, "response_format": {"type": "json_object"}})
    if st != 200: bad.append("status %d" % st); continue
    if r["choices"][0]["finish_reason"] != "stop": continue
    ends += 1
    try:
        if not isinstance(json.loads(r["choices"][0]["message"]["content"]), dict): bad.append("not an object")
    except ValueError as e: bad.append("does not parse: %r" % r["choices"][0]["message"]["content"][:100])
check("json_object (%d of 4 ended)" % ends, ends >= 1 and not bad, "%d ended; %s" % (ends, bad))

# thinking: a prompt that opened <think> (the Thinking-2507 way, on /v1/completions) leaves the
# reasoning free until the budget forces </think>; the answer after it validates
schema = SCHEMAS["object"]
st, r = post("/v1/completions", {"prompt": "<|im_start|>user\nThink, then JSON.<|im_end|>\n<|im_start|>assistant\n<think>\n",
                                 "max_tokens": 400, "seed": 4, "thinking_token_budget": 8,
                                 "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": schema}}})
try:
    text = r["choices"][0]["text"]
    head, sep, answer = text.partition("</think>")
    why = validate(schema, answer) if r["choices"][0]["finish_reason"] == "stop" else "finish " + r["choices"][0]["finish_reason"]
    check("thinking_schema", why is None and sep and "Considering the limited time" in head, "%s; text %r" % (why, text[:300]))
except (KeyError, IndexError, TypeError) as e:
    check("thinking_schema", False, "%d %s" % (st, json.dumps(r)[:300]))

# streamed
schema = SCHEMAS["nested"]
st, chunks = post("/v1/chat/completions", {"messages": [{"role": "user", "content": "JSON"}], "max_tokens": 400, "seed": 7,
                                           "stream": True, "chat_template_kwargs": {"enable_thinking": False},
                                           "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}}, True)
text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))
fin = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices") and c["choices"][0].get("finish_reason")]
why = validate(schema, text)
check("stream_schema", st == 200 and fin == ["stop"] and why is None, "%d %s %s" % (st, fin, why))

# a GBNF grammar on completions (llama.cpp's field), checked with the equivalent regular expression
g = 'root ::= ("yes" | "no") ", " item ("; " item){0,2} "."\nitem ::= [a-z]{1,4} "=" [0-9]{1,3}\n'
rx = re.compile(r'(yes|no), [a-z]{1,4}=[0-9]{1,3}(; [a-z]{1,4}=[0-9]{1,3}){0,2}\.')
texts, bad = [], []
for seed in (1, 2, 3):
    st, r = post("/v1/completions", {"prompt": "Say:", "max_tokens": 200, "seed": seed, "temperature": 1.0, "grammar": g})
    t = r["choices"][0]["text"] if st == 200 else None
    if st != 200 or r["choices"][0]["finish_reason"] != "stop" or not rx.fullmatch(t): bad.append((st, t, r.get("choices", [{}])[0].get("finish_reason")))
    texts.append(t)
check("gbnf_grammar", not bad, "%r" % bad[:2])

# tool_choice: a named function, and "required" over two tools: one call, arguments valid
W = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {
     "city": {"type": "string", "maxLength": 10}, "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"]}}}
T2 = {"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {
      "a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}
for name, tools, choice, seed in [("tool_named", [W, T2], {"type": "function", "function": {"name": "get_weather"}}, 1),
                                  ("tool_required", [W, T2], "required", 2)]:
    st, r = post("/v1/chat/completions", {"messages": [{"role": "user", "content": "Call a tool."}], "max_tokens": 300,
                                          "seed": seed, "temperature": 1.0, "tools": tools, "tool_choice": choice,
                                          "chat_template_kwargs": {"enable_thinking": False}})
    try:
        ch = r["choices"][0]
        calls = ch["message"]["tool_calls"]
        fn = calls[0]["function"]
        spec = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
        why = None if fn["name"] in spec else "unknown function %s" % fn["name"]
        if choice != "required" and fn["name"] != "get_weather": why = "called %s" % fn["name"]
        why = why or validate(spec[fn["name"]], fn["arguments"])
        check(name, st == 200 and ch["finish_reason"] == "tool_calls" and len(calls) == 1 and why is None,
              "%s; %s" % (why, json.dumps(r)[:300]))
    except (KeyError, IndexError, TypeError) as e:
        check(name, False, "%d %s" % (st, json.dumps(r)[:300]))

# refusals: 400 naming the field and what is wrong
chat = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
def rf(schema): return {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}
for name, extra, param, words in [
        ("pattern", rf({"type": "string", "pattern": "^a"}), "response_format", ["'pattern'"]),
        ("ref", rf({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}}), "response_format", ["$ref", "/properties/a"]),
        ("minimum", {"json_schema": {"type": "integer", "minimum": 3}}, "json_schema", ["minimum"]),
        ("type", {"response_format": {"type": "yaml"}}, "response_format", ["yaml"]),
        ("two", dict(rf({"type": "integer"}), grammar='root ::= "a"'), "grammar", ["response_format", "grammar"]),
        ("gbnf_error", {"grammar": 'root ::= "a" | (b'}, "grammar", ["line 1"])]:
    st, r = post("/v1/chat/completions", dict(chat, **extra))
    msg = r.get("error", {}).get("message", "") if isinstance(r, dict) else ""
    check("refuse_" + name, st == 400 and r["error"]["param"] == param and all(w in msg for w in words),
          "%d %s" % (st, json.dumps(r)[:300]))
PYEOF
kill $srv 2>/dev/null; wait $srv 2>/dev/null

# the CLI
cat > "$T/schema.json" <<'EOF'
{"type": "object", "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3}},
 "required": ["id", "tags"]}
EOF
out=$("$QWEN3" run "$M" "JSON please" --json-schema "$T/schema.json" --no-think -n 300 --seed 3 -t 2 --json 2>"$T/cli.err")
SCHEMA="$T/schema.json" OUT="$out" checked cli_json_schema "$PY" - <<'PYEOF'
import json, os, jsonschema
o = json.loads(os.environ["OUT"])
try:
    jsonschema.validate(json.loads(o["content"]), json.load(open(os.environ["SCHEMA"])))
    ok = o["finish_reason"] == "stop"
    print("PASS cli_json_schema" if ok else "FAIL cli_json_schema: finish %s" % o["finish_reason"])
except Exception as e:
    print("FAIL cli_json_schema: %s: %r" % (e, o.get("content", "")[:200]))
PYEOF
echo '{"type": "string", "format": "date"}' > "$T/bad.json"
"$QWEN3" run "$M" "x" --json-schema "$T/bad.json" -t 2 >/dev/null 2>"$T/bad.err"; rc=$?
[ $rc -eq 2 ] && grep -q "'format'" "$T/bad.err" && echo "PASS cli_bad_schema" || echo "FAIL cli_bad_schema: exit $rc: $(cat "$T/bad.err")"
exit 0
