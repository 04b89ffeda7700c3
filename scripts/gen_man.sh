#!/bin/bash
# gen_man.sh QWEN3_BINARY > qwen3.1 - the man page, generated from the help texts (`qwen3 help` and
# every `qwen3 COMMAND --help`), so it never says other than the program does.
set -eu
BIN=$1
ver=$("$BIN" --version | sed 's/^qwen3 //')
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
commands() { "$BIN" help | sed -n '/^commands:/,$p' | sed -n 's/^  \([a-z][a-z0-9_-]*\) .*/\1/p' | grep -v -x -e help -e version; }
cat <<HEAD
.TH QWEN3 1 "" "qwen3 $ver" "User Commands"
.SH NAME
qwen3 \\- Qwen3 inference in C: chat, generation and an OpenAI-compatible server
.SH SYNOPSIS
.B qwen3
.I COMMAND
.RI [ args ]
.br
.B qwen3 \\-\\-version
.SH DESCRIPTION
Runs Qwen3 models from Hugging Face checkpoint directories. Flags take their value as the next
argument or after \\fB=\\fR (\\fB\\-\\-ctx 4096\\fR or \\fB\\-\\-ctx=4096\\fR).
.PP
.nf
HEAD
"$BIN" help | esc
echo ".fi"
echo ".SH COMMANDS"
for c in $(commands); do
    echo ".SS $c"
    echo ".nf"
    "$BIN" "$c" --help | esc
    echo ".fi"
done
cat <<'TAIL'
.SH ENVIRONMENT
.TP
.B QWEN3_ISA
scalar, avx2 or avx512: the widest kernels to use.
.TP
.B QWEN3_CACHE_DIR
where the tokenizer's binary cache lives (else $XDG_CACHE_HOME/qwen3, else ~/.cache/qwen3);
.B QWEN3_NO_CACHE=1
turns it off.
.TP
.B QWEN3_FILE_CACHE
keep or drop: whether a model file's pages stay in the page cache once its matrices are copied
into the model's own memory at load (default: dropped when the files are over half of the
machine's memory, where the cache could not stay beside the copy anyway).
.TP
.B QWEN3_REPACK=0
keeps the weights row-major (no interleaving for the one-token kernels).
.TP
.B NO_COLOR
set (to anything): no ANSI colours in run and chat.
.SH FILES
.TP
.I ~/.local/state/qwen3/chat_history
the line history of qwen3 chat (under $XDG_STATE_HOME when set).
.SH SEE ALSO
The README of the qwen3 sources.
TAIL
