#!/bin/bash
# everyday.sh - what a new user touches first (issue 12's faults), each check one that failed before
# its fix:
#   serve_port_in_use     a second `serve --port P` on a port a server holds fails at once, saying
#                         "address already in use" and naming P (no SO_REUSEPORT sharing)
#   quantize_requant_*    `quantize` of a Q4 model to q8_0 writes Q8_0 layer matrices (requantized
#                         through float32), and its logits stay close to the Q4 model's
#   flag_equals           --flag=value is accepted as --flag value
#   stdin_question, file_question   `echo q | qwen3 run M` and `run M -f FILE` ask what `run M q` asks
#   threads_clamped       -t above the CPU count is clamped with a warning naming the flag
#   bench_checks_path     bench with a wrong MODEL fails before measuring the machine (< 5 s; the
#                         measuring takes > 10 s here)
#   quant_progress        --quant at load / quantize print progress when stderr is a terminal
#   help_kv_*             every --help of a command with model flags lists --kv
#   chat_help_no_json     chat --help does not offer --json (chat has none; --json-schema is another flag)
#   version               qwen3 --version / qwen3 version print qwen3.h's QWEN3_VERSION
#   chat_unknown_command_multiline, chat_multiline_one_message   chat refuses an unknown /word at
#                         the start of a line, sends /no_think TEXT and //TEXT as messages, and reads
#                         a """ message of several lines as one message (its prompt is the render of it)
#   no_color              NO_COLOR turns the dimmed reasoning off on a terminal
#   chat_history_kept     chat's line history is saved and the next run adds to it
set -u
. "$(dirname "$0")/../lib.sh"
expect 25
T="$QWEN3_TMP/everyday"
mkdir -p "$T"
M="$T/tiny"
Q="$T/dense"
TH="$T/thinker"
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
if [ ! -f "$M/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$M" --preset tiny --vocab 151936 -q --seed 5 2>"$T/gen.err" \
        || { echo "FAIL everyday_checkpoint: gen_checkpoint.py failed: $(tail -n 2 "$T/gen.err")"; exit 0; }
fi
if [ ! -f "$Q/model.safetensors" ]; then # hidden 256: Q4's superblocks of 256 apply to every matrix
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$Q" --no-tokenizer -q --preset tiny --dtype bf16 --hidden 256 \
        --intermediate 512 --heads 8 --head-dim 32 --kv-heads 4 --layers 2 --seed 21 \
        || { echo "FAIL everyday_checkpoint_dense: gen_checkpoint.py failed: $(tail -n 2 "$T/gen.err")"; exit 0; }
fi

if [ ! -f "$TH/model.safetensors" ]; then
    "$PY" "$QWEN3_ROOT/tools/gen_checkpoint.py" "$TH" --preset tiny --vocab 151936 --thinker -q 2>"$T/gen.err" \
        || { echo "FAIL everyday_checkpoint_thinker: $(tail -n 2 "$T/gen.err")"; exit 0; }
fi

# ---- serve: the port is ours alone ----
"$QWEN3" serve "$M" --port 0 -t 1 --ctx 64 2>"$T/serve1.err" &
s1=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\).*/\1/p' "$T/serve1.err")
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    fail serve_port_in_use "the first server did not start: $(tail -n 3 "$T/serve1.err")"
else
    timeout 20 "$QWEN3" serve "$M" --port "$port" -t 1 --ctx 64 >/dev/null 2>"$T/serve2.err" &
    s2=$!
    # the second must exit by itself (non-zero) without ever listening
    for _ in $(seq 1 100); do kill -0 $s2 2>/dev/null || break; sleep 0.1; done
    if kill -0 $s2 2>/dev/null; then
        kill $s2 2>/dev/null; wait $s2 2>/dev/null
        fail serve_port_in_use "a second server started on port $port: $(tail -n 2 "$T/serve2.err")"
    else
        wait $s2; rc=$?
        if [ $rc -ne 0 ] && grep -q "address already in use" "$T/serve2.err" && grep -q ":$port" "$T/serve2.err" \
            && ! grep -q "listening on" "$T/serve2.err"; then pass serve_port_in_use
        else fail serve_port_in_use "status $rc, stderr: $(cat "$T/serve2.err")"; fi
    fi
fi
kill $s1 2>/dev/null; wait $s1 2>/dev/null

# ---- quantize: Q4 -> Q8_0 really writes Q8_0 ----
rm -rf "$T/q4" "$T/q4q8"
"$QWEN3" quantize "$Q" "$T/q4" --type q4 -t 2 2>"$T/q.err" || fail quantize_q4 "$(cat "$T/q.err")"
"$QWEN3" quantize "$T/q4" "$T/q4q8" --type q8_0 -t 2 2>"$T/q.err" || fail quantize_requant "$(cat "$T/q.err")"
types() { "$PY" -c '
import json, struct, sys
f = open(sys.argv[1] + "/model.safetensors", "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
print(" ".join(sorted({v["dtype"] for k, v in h.items() if k != "__metadata__" and "layers" in k and k.endswith("proj.weight")})))' "$1"; }
t4=$(types "$T/q4"); t8=$(types "$T/q4q8")
[ "$t4" = "Q4" ] && [ "$t8" = "Q8_0" ] && pass quantize_requant_types \
    || fail quantize_requant_types "layer matrices of the q4 copy: '$t4', of its q8_0 requantization: '$t8' (want Q4, Q8_0)"
IDS=$("$PY" -c "print(','.join(str((i * 7919 + 11) % 2000) for i in range(12)))")
"$QWEN3" logits "$T/q4" --ids "$IDS" -o "$T/q4.f32" -t 2 2>/dev/null
"$QWEN3" logits "$T/q4q8" --ids "$IDS" -o "$T/q4q8.f32" -t 2 2>/dev/null
# Q8_0 of Q4's values adds at most half a Q8_0 step per weight: the logits stay within 5% of their range
r=$("$PY" -c '
import numpy as np, sys
a = np.fromfile(sys.argv[1], np.float32); b = np.fromfile(sys.argv[2], np.float32)
print("%.4f" % (np.abs(a - b).max() / np.abs(a).max()) if a.size and a.size == b.size else "nan")' "$T/q4.f32" "$T/q4q8.f32")
"$PY" -c "import sys; sys.exit(0 if float('$r') < 0.05 else 1)" && pass "quantize_requant_logits (max|d|/max|logit| $r)" \
    || fail quantize_requant_logits "max|d|/max|logit| = $r (bound 0.05)"

# ---- CLI habits ----
ids_of() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ids"])' 2>/dev/null; }
base=$("$QWEN3" run "$M" "Why is the sky blue?" --no-think -n 4 --seed 3 --json -t 1 </dev/null 2>/dev/null | ids_of)
eq=$("$QWEN3" run "$M" "Why is the sky blue?" --no-think --max-tokens=4 --seed=3 --json --threads=1 </dev/null 2>"$T/eq.err" | ids_of)
[ -n "$base" ] && [ "$eq" = "$base" ] && pass flag_equals || fail flag_equals "'$eq' vs '$base': $(head -c 300 "$T/eq.err")"
sin=$(echo "Why is the sky blue?" | "$QWEN3" run "$M" --no-think -n 4 --seed 3 --json -t 1 2>"$T/in.err" | ids_of)
[ -n "$base" ] && [ "$sin" = "$base" ] && pass stdin_question || fail stdin_question "'$sin' vs '$base': $(head -c 300 "$T/in.err")"
printf 'Why is the sky blue?\n' >"$T/q.txt"
fin=$("$QWEN3" run "$M" -f "$T/q.txt" --no-think -n 4 --seed 3 --json -t 1 </dev/null 2>"$T/f.err" | ids_of)
[ -n "$base" ] && [ "$fin" = "$base" ] && pass file_question || fail file_question "'$fin' vs '$base': $(head -c 300 "$T/f.err")"
"$QWEN3" run "$M" </dev/null >"$T/o" 2>"$T/e"; rc=$?
[ $rc -ne 0 ] && [ ! -s "$T/o" ] && grep -q "empty" "$T/e" && pass empty_stdin_question || fail empty_stdin_question "status $rc: $(cat "$T/e")"

"$QWEN3" info "$M" -t 1000 >/dev/null 2>"$T/t.err"; rc=$?
cpus=$(nproc)
[ $rc -eq 0 ] && grep -q "^qwen3: warning: -t 1000: .*using $cpus" "$T/t.err" && pass threads_clamped \
    || fail threads_clamped "status $rc, stderr: $(cat "$T/t.err")"

timeout 5 "$QWEN3" bench "$T/no-such-model" -p 1 -n 1 >/dev/null 2>"$T/b.err"; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "no-such-model" "$T/b.err" && pass bench_checks_path \
    || fail bench_checks_path "status $rc (124: still measuring the machine after 5 s), stderr: $(cat "$T/b.err")"

# progress on a terminal: script(1) gives the command a pseudo-terminal
rm -rf "$T/q8"
script -qec "'$QWEN3' quantize '$Q' '$T/q8' --type q8_0 -t 2" /dev/null >"$T/tty.out" 2>&1
grep -q "quantizing to Q8_0: 3/3 layers" "$T/tty.out" && pass quant_progress_tty \
    || fail quant_progress_tty "no progress line on a terminal: $(tr '\r' '\n' <"$T/tty.out" | tail -n 3)"
"$QWEN3" info "$Q" --quant q8_0 2>"$T/notty.err" >/dev/null
! grep -q "quantizing" "$T/notty.err" && pass quant_progress_not_piped || fail quant_progress_not_piped "$(cat "$T/notty.err")"

for c in info logits generate run chat serve bench perplexity; do
    "$QWEN3" $c --help 2>&1 | grep -q -- "--kv TYPE" && pass "help_kv_$c" || fail "help_kv_$c" "qwen3 $c --help does not list --kv"
done
"$QWEN3" chat --help | grep -qE -- "--json([^-]|$)" && fail chat_help_no_json "chat --help mentions --json: $("$QWEN3" chat --help | grep -E -- "--json([^-]|$)")" \
    || pass chat_help_no_json
want=$(sed -n 's/^#define QWEN3_VERSION "\(.*\)"/\1/p' "$QWEN3_ROOT/include/qwen3.h")
v1=$("$QWEN3" --version 2>&1); v2=$("$QWEN3" version 2>&1)
[ -n "$want" ] && [ "$v1" = "qwen3 $want" ] && [ "$v2" = "qwen3 $want" ] && pass version || fail version "'$v1' / '$v2' (want 'qwen3 $want')"

# ---- chat habits ----
# piped: an unknown /word is refused (not sent), a """ message of several lines is one turn, the
# soft switch /no_think inside a message and //text are messages: 3 turns -> 3 stats lines
printf '/frobnicate now\n"""first line\nsecond line"""\n/no_think hello there\n//etc/passwd?\n/exit\n' \
    | "$QWEN3" chat "$M" --no-think -n 1 --verbose --seed 1 -t 1 >"$T/chat.out" 2>"$T/chat.err"; rc=$?
turns=$(grep -c '^prompt: ' "$T/chat.err")
[ $rc -eq 0 ] && grep -q "unknown command '/frobnicate'" "$T/chat.err" && [ "$turns" = 3 ] && pass chat_unknown_command_multiline \
    || fail chat_unknown_command_multiline "status $rc, $turns turns (want 3), stderr: $(head -c 400 "$T/chat.err")"
# the """ message is one user message holding both lines: its prompt is exactly the render of it
want=$(printf '{"messages": [{"role": "user", "content": "first line\\nsecond line"}], "add_generation_prompt": true, "enable_thinking": false}\n' \
    | "$QWEN3" render "$M" --jsonl | "$PY" -c 'import json,sys; print(json.dumps({"text": json.loads(sys.stdin.read())["prompt"]}))' \
    | "$QWEN3" tokenize "$M" --jsonl | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
printf '"""first line\nsecond line"""\n' | "$QWEN3" chat "$M" --no-think -n 1 --verbose --seed 1 -t 1 >/dev/null 2>"$T/ml.err"
got=$(grep '^prompt: ' "$T/ml.err" | sed 's/^prompt: \([0-9]*\) tokens.*/\1/' | tr '\n' ' ')
[ -n "$want" ] && [ "$got" = "$want " ] && pass chat_multiline_one_message \
    || fail chat_multiline_one_message "turns' prompt tokens '$got'; one message of the two lines renders to $want"

# NO_COLOR: the reasoning is dimmed on a terminal unless NO_COLOR is set
script -qec "'$QWEN3' run '$TH' 'Why?' -n 6 --seed 1 -t 1" /dev/null >"$T/color.out" 2>&1
NO_COLOR=1 script -qec "'$QWEN3' run '$TH' 'Why?' -n 6 --seed 1 -t 1" /dev/null >"$T/nocolor.out" 2>&1
grep -q $'\x1b\[' "$T/color.out" && ! grep -q $'\x1b\[' "$T/nocolor.out" && grep -q "hmm" "$T/nocolor.out" && pass no_color \
    || fail no_color "escapes with NO_COLOR: $(grep -c $'\x1b\[' "$T/nocolor.out"), without: $(grep -c $'\x1b\[' "$T/color.out")"

# history kept between runs (libedit on a terminal): the second run appends to the first's file
rm -rf "$T/home"; mkdir -p "$T/home"
printf 'first question\n/exit\n' | HOME="$T/home" XDG_STATE_HOME= script -qec "'$QWEN3' chat '$M' --no-think -n 1 -t 1" /dev/null >/dev/null 2>&1
printf 'second question\n/exit\n' | HOME="$T/home" XDG_STATE_HOME= script -qec "'$QWEN3' chat '$M' --no-think -n 1 -t 1" /dev/null >/dev/null 2>&1
H="$T/home/.local/state/qwen3/chat_history"
[ -f "$H" ] && grep -q "first" "$H" && grep -q "second" "$H" && pass chat_history_kept \
    || fail chat_history_kept "$H: $(cat "$H" 2>&1 | head -c 300)"
