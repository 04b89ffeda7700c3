#!/bin/bash
# chat_render.sh - `qwen3 render` against the official Qwen3 chat template run by Jinja2 the way
# transformers runs it (tests/ref/chat_ref.py), byte for byte:
#   - every conversation of tests/data/chat/cases.jsonl, with the hybrid template of the shared
#     Qwen3 tokenizer and with the two 2507 variants derived from it;
#   - 3,000 random floats and strings in tool schemas (json.dumps float repr and escapes);
#   - template detection: each variant as chat_template.jinja, a re-indented copy with literal
#     newlines in its strings, a "default" entry of a template list, and a changed template (refused);
#   - bad requests (tests/data/chat/errors.txt): refused with the line, message index and field.
set -u
. "$(dirname "$0")/../lib.sh"
expect 199
D="$QWEN3_ROOT/tests/data/chat"
T="$QWEN3_TMP/chat_render"
rm -rf "$T"; mkdir -p "$T"
REF="$QWEN3_ROOT/tests/ref/chat_ref.py"

# compare NAME REF_FILE OURS_FILE: one PASS/FAIL per line
compare() {
    checked "$1" "$PY" - "$1" "$2" "$3" <<'PYEOF'
import json, sys
name, ref, ours = sys.argv[1:]
# split on "\n" only: the lines hold raw U+2028 and friends, which str.splitlines() would split on
r = open(ref, encoding="utf-8").read().split("\n")[:-1]
o = open(ours, encoding="utf-8").read().split("\n")[:-1]
if not r:
    print(f"FAIL {name}: no reference output")
if len(r) != len(o):
    print(f"FAIL {name}: {len(r)} reference lines, {len(o)} of ours")
for i, (a, b) in enumerate(zip(r, o), 1):
    try:
        ra, rb = json.loads(a), json.loads(b)
    except ValueError as e:
        print(f"FAIL {name}_{i}: unreadable line: {e}")
        continue
    if "error" in ra:
        print(f"FAIL {name}_{i}: the reference failed: {ra['error']}")
    elif a == b:
        print(f"PASS {name}_{i}")
    else:
        pa, pb = ra["prompt"], rb.get("prompt", "")
        k = next((j for j in range(min(len(pa), len(pb))) if pa[j] != pb[j]), min(len(pa), len(pb)))
        print(f"FAIL {name}_{i}: differs at char {k}: reference {pa[k:k+40]!r} ours {pb[k:k+40]!r} {rb.get('error', '')}")
PYEOF
}

# 1. the conversations, all three templates
"$PY" "$REF" "$QWEN3_TOKENIZER" < "$D/cases.jsonl" > "$T/ref.jsonl" || echo "FAIL chat_render_reference: chat_ref.py exited with status $?"
"$QWEN3" render "$QWEN3_TOKENIZER" --jsonl --keep-going < "$D/cases.jsonl" > "$T/ours.jsonl" 2> "$T/err"
compare chat_render_qwen3 "$T/ref.jsonl" "$T/ours.jsonl"
for v in thinking-2507 instruct-2507; do
    "$PY" "$REF" "$QWEN3_TOKENIZER" --variant $v < "$D/cases.jsonl" > "$T/ref_$v.jsonl" ||
        echo "FAIL chat_render_reference_$v: chat_ref.py --variant $v exited with status $?"
    "$QWEN3" render --template qwen3-$v --jsonl --keep-going < "$D/cases.jsonl" > "$T/ours_$v.jsonl" 2> "$T/err"
    compare "chat_render_$v" "$T/ref_$v.jsonl" "$T/ours_$v.jsonl"
done

# 2. json.dumps corner cases at volume: floats of every magnitude, odd strings, as tool schemas and arguments
"$PY" - > "$T/floats.jsonl" <<'PYEOF' || echo "FAIL chat_render_dumps_cases: the generator exited with status $?"
import json, random, struct
rnd = random.Random(1234)
def rfloat():
    k = rnd.random()
    if k < 0.4:  # any bit pattern that is a finite double
        while True:
            x = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
            if x == x and abs(x) != float("inf"):
                return x
    if k < 0.7:  # around the fixed / exponent switch points
        return rnd.choice([1, -1]) * rnd.random() * 10.0 ** rnd.randint(-7, 18)
    if k < 0.85:  # powers of two, where the shortest repr is hardest
        return 2.0 ** rnd.randint(-1074, 1023)
    return round(rnd.uniform(-1e4, 1e4), rnd.randint(0, 6))
def rstr():
    pool = ["a", "é", "日", "\U0001F600", "\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f", "\u2028", " ", "/", "<", "&"]
    return "".join(rnd.choice(pool) for _ in range(rnd.randint(0, 12)))
for i in range(30):
    tool = {"name": f"t{i}", "floats": [rfloat() for _ in range(100)], "s": {rstr(): rstr() for _ in range(5)},
            "ints": [rnd.randint(-2**63, 2**63 - 1) for _ in range(5)]}
    msgs = [{"role": "user", "content": rstr()},
            {"role": "assistant", "content": rstr(), "tool_calls": [{"function": {"name": "t", "arguments": tool}}]}]
    print(json.dumps({"messages": msgs, "tools": [tool]}, ensure_ascii=False))
PYEOF
"$PY" "$REF" "$QWEN3_TOKENIZER" < "$T/floats.jsonl" > "$T/ref_f.jsonl" || echo "FAIL chat_render_dumps_reference: chat_ref.py exited with status $?"
"$QWEN3" render "$QWEN3_TOKENIZER" --jsonl --keep-going < "$T/floats.jsonl" > "$T/ours_f.jsonl" 2> "$T/err"
compare chat_render_dumps "$T/ref_f.jsonl" "$T/ours_f.jsonl" | checked chat_render_dumps "$PY" -c '
import sys
lines = sys.stdin.read().split("\n")[:-1]
bad = [l for l in lines if not l.startswith("PASS")]
print("\n".join(bad) if bad or not lines else f"PASS chat_render_dumps ({len(lines)} requests, 6000 floats, 600 strings)")'

# 3. template detection
REQ='{"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": true, "enable_thinking": false}'
detect() { # NAME DIR EXPECTED_PROMPT_SUFFIX
    local out
    out=$(printf '%s\n' "$REQ" | "$QWEN3" render "$2" 2> "$T/err"; echo "rc=$?")
    out=${out%rc=0}   # the marker keeps the trailing newlines that $(...) would strip
    if [ "${out: -${#3}}" = "$3" ]; then echo "PASS $1"; else echo "FAIL $1: got '${out: -30}' $(cat "$T/err")"; fi
}
"$PY" - "$QWEN3_TOKENIZER" "$T" <<'PYEOF' || echo "FAIL chat_detect_setup: writing the template directories exited with status $?"
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["QWEN3_ROOT"], "tests/ref"))
import chat_ref
tok, out = sys.argv[1:]
tpl, _ = chat_ref.load_template(tok)
def put(name, fname, text):
    os.makedirs(f"{out}/{name}", exist_ok=True)
    with open(f"{out}/{name}/{fname}", "w", encoding="utf-8") as f:
        f.write(text)
put("hybrid", "chat_template.jinja", tpl + "\n")
put("thinking", "chat_template.jinja", chat_ref.variant(tpl, "thinking-2507"))
put("instruct", "chat_template.jinja", chat_ref.variant(tpl, "instruct-2507"))
# re-indented, literal newlines inside string literals, double quotes: renders the same
re = chat_ref.variant(tpl, "thinking-2507").replace("\\n", "\n").replace("    ", "\t").replace("{%- endif %}", "{%-   endif   %}")
put("reformatted", "chat_template.jinja", re)
put("list", "tokenizer_config.json", json.dumps({"chat_template": [{"name": "tool_use", "template": "x"},
                                                                    {"name": "default", "template": tpl}]}))
put("changed", "chat_template.jinja", tpl.replace("You may call one or more functions", "You may call functions"))
put("changed2", "chat_template.jinja", tpl.replace("{{- '<|im_end|>\\n' }}", "{{ '<|im_end|>\\n' }}"))
put("none", "tokenizer_config.json", json.dumps({"eos_token": "<|im_end|>"}))
PYEOF
detect chat_detect_shared "$QWEN3_TOKENIZER" $'<|im_start|>assistant\n<think>\n\n</think>\n\n'
detect chat_detect_jinja_file "$T/hybrid" $'<|im_start|>assistant\n<think>\n\n</think>\n\n'
detect chat_detect_thinking_2507 "$T/thinking" $'<|im_start|>assistant\n<think>\n'
detect chat_detect_instruct_2507 "$T/instruct" $'hi<|im_end|>\n<|im_start|>assistant\n'
detect chat_detect_reformatted "$T/reformatted" $'<|im_start|>assistant\n<think>\n'
detect chat_detect_template_list "$T/list" $'<|im_start|>assistant\n<think>\n\n</think>\n\n'
for d in changed changed2 none; do
    printf '%s\n' "$REQ" | "$QWEN3" render "$T/$d" > "$T/out" 2> "$T/err"
    rc=$?
    if [ $rc -ne 0 ] && [ ! -s "$T/out" ] && grep -q "$T/$d/" "$T/err"; then echo "PASS chat_detect_refuses_$d"
    else echo "FAIL chat_detect_refuses_$d: rc=$rc out=$(head -c 80 "$T/out") err=$(cat "$T/err")"; fi
done
printf '%s\n' "$REQ" | "$QWEN3" render "$T/changed" --template qwen3 > "$T/out" 2> "$T/err" \
    && echo "PASS chat_detect_override" || echo "FAIL chat_detect_override: $(cat "$T/err")"

# 4. bad requests: each alone must fail, naming line 1 and the field; all together with --keep-going
n=0
while IFS=$'\t' read -r expect req; do
    case "$expect" in '#'*|'') continue ;; esac
    n=$((n + 1))
    printf '%s\n' "$req" | "$QWEN3" render "$QWEN3_TOKENIZER" --jsonl > "$T/out" 2> "$T/err"
    rc=$?
    if [ $rc -ne 0 ] && [ ! -s "$T/out" ] && grep -qF "stdin line 1: $expect" "$T/err"; then echo "PASS chat_bad_input_$n"
    else echo "FAIL chat_bad_input_$n: rc=$rc, wanted '$expect', got: $(cat "$T/err")"; fi
done < "$D/errors.txt"
{ head -n 1 "$D/cases.jsonl"; grep -v '^#' "$D/errors.txt" | sed -n 1p | cut -f2; head -n 1 "$D/cases.jsonl"; } \
    | "$QWEN3" render "$QWEN3_TOKENIZER" --jsonl --keep-going > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -ne 0 ] && [ "$(wc -l < "$T/out")" -eq 3 ] && sed -n 2p "$T/out" | grep -q '"error": "line 2: messages\[1\].role'; then
    echo "PASS chat_bad_input_keep_going"
else echo "FAIL chat_bad_input_keep_going: rc=$rc $(cat "$T/out" "$T/err" | head -c 300)"; fi
"$QWEN3" render --bogus < /dev/null > /dev/null 2>&1 && echo "FAIL chat_render_unknown_flag" || echo "PASS chat_render_unknown_flag"
"$QWEN3" render --help | grep -q -- '--jsonl' && echo "PASS chat_render_help" || echo "FAIL chat_render_help"
exit 0
