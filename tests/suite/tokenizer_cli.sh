#!/bin/bash
# tokenizer_cli.sh - `qwen3 tokenize` / `qwen3 detokenize`: output formats and bad input (each bad
# input must exit non-zero with a message naming the line, field or offset at fault, never crash).
set -u
. "$(dirname "$0")/../lib.sh"
expect 26
T=${QWEN3_TOKENIZER:?}
D=$QWEN3_TMP/tokenizer_cli
mkdir -p "$D"
export QWEN3_CACHE_DIR="$D/cache"

# check NAME EXPECTED_STATUS PATTERN -- command...   (PATTERN: grep -E on stdout+stderr)
check() {
    local name=$1 want=$2 pat=$3
    shift 4
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ge 128 ]; then echo "FAIL tokcli.$name: crashed (status $rc)"; return; fi
    if [ "$want" = 0 ] && [ "$rc" != 0 ]; then echo "FAIL tokcli.$name: status $rc: $out"; return; fi
    if [ "$want" != 0 ] && [ "$rc" = 0 ]; then echo "FAIL tokcli.$name: succeeded on bad input: $out"; return; fi
    if ! printf '%s' "$out" | grep -Eq -- "$pat"; then echo "FAIL tokcli.$name: output lacks /$pat/: $out"; return; fi
    echo "PASS tokcli.$name"
}
q() { "$QWEN3" "$@"; }
feed() { local input=$1; shift; printf '%b' "$input" | "$QWEN3" "$@"; }

check ids 0 '^9707,11,1879,0$' -- q tokenize "$T" "Hello, world!"
check show 0 '151644	"<\|im_start\|>"' -- q tokenize "$T" --show "<|im_start|>hi"
check show_bytes 0 '124026	"\\xF0\\x9D\\x94"' -- q tokenize "$T" --show "$(printf '\xf0\x9d\x94\x98')"
check no_special 0 '^27,91,318,' -- q tokenize "$T" --no-special "<|im_start|>"
check jsonl 0 '^\{"ids": \[9707\]\}$' -- feed '{"text": "Hello"}\n' tokenize "$T" --jsonl
check jsonl_plain 0 '^\{"ids": \[13708, 766, 29\]\}$' -- feed '{"text": "<think>", "special": false}\n' tokenize "$T" --jsonl
check detok 0 '^Hello, world!$' -- q detokenize "$T" 9707,11,1879,0
check detok_skip 0 '^ world$' -- q detokenize "$T" --skip-special 151644,1879,151645
check detok_jsonl 0 '^\{"text":"<\|im_start\|> world"\}' -- feed '{"ids": [151644, 1879], "skip_special_tokens": false}\n' detokenize "$T" --jsonl
check detok_fffd 0 '^\{"text":"\\uFFFD"\}$' -- feed '{"ids": [149]}\n' detokenize "$T" --jsonl
check help 0 'usage: qwen3 tokenize' -- q tokenize --help
check help_detok 0 'usage: qwen3 detokenize' -- q detokenize --help

check bad_json_line 1 'stdin line 2 column [0-9]+: invalid JSON' -- feed '{"text": "a"}\n{"text": \n' tokenize "$T" --jsonl
check bad_field 1 'stdin line 1: expected an object with a string field "text"' -- feed '{"txt": "a"}\n' tokenize "$T" --jsonl
check bad_special 1 'field "special"' -- feed '{"text": "a", "special": 1}\n' tokenize "$T" --jsonl
check bad_utf8_json 1 'stdin line 1' -- feed '{"text": "\xff"}\n' tokenize "$T" --jsonl
check bad_utf8_arg 1 'TEXT: text is not valid UTF-8: bad byte 0xFF at byte offset 2' -- q tokenize "$T" "$(printf 'ab\xffc')"
check bad_ids_arg 1 "IDS: element 1 \('x'\)" -- q detokenize "$T" 1,x
check bad_id_range 1 'ids\[1\] = 999999' -- q detokenize "$T" 5,999999
check bad_ids_jsonl 1 'stdin line 1: ids\[1\] is not a non-negative integer' -- feed '{"ids": [1, "a"]}\n' detokenize "$T" --jsonl
check bad_skip 1 'skip_special_tokens' -- feed '{"ids": [1], "skip_special_tokens": "yes"}\n' detokenize "$T" --jsonl
check no_model 1 'no tokenizer.json' -- q tokenize "$D" "x"
check missing_dir 1 'nonexistent' -- q tokenize "$D/nonexistent" "x"
check no_text 1 'TEXT is missing' -- q tokenize "$T"
check unknown_flag 1 'unknown flag --bogus' -- q tokenize "$T" --bogus x
mkdir -p "$D/wp"
printf '{"model": {"type": "WordPiece", "vocab": {"a": 0}}}' > "$D/wp/tokenizer.json"
check wordpiece 1 'tokenizer.json line 1 column [0-9]+: model.type is "WordPiece"' -- q tokenize "$D/wp" "x"
