#!/bin/bash
# tools/kv_accuracy.sh MODEL [LEN] [LAST] [THREADS] - what each KV cache type costs at long context:
# KL(F32 cache || TYPE cache) of the next-token distributions and top-1 agreement, for TYPE in
# f16 q8_0 q4_0, over the last LAST positions (default 256) of one LEN-token chunk (default 8192)
# of English text (this repository's README and docs, repeated as needed), the same weights on both
# sides (`qwen3 perplexity --kl-base MODEL --kl-base-kv f32 --kv TYPE --score-last LAST`). Every
# position of the chunk attends through the cache type, so the scored positions see LEN - LAST ..
# LEN cached keys and values. Prints a Markdown table (README: Long context). Slow: 2 prefills of
# LEN tokens per type (minutes each at 8K for the 0.6B shape on 2 cores).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
QWEN3=${QWEN3:-$ROOT/qwen3}
MODEL=${1:?usage: tools/kv_accuracy.sh MODEL [LEN] [LAST] [THREADS]}
LEN=${2:-8192}
LAST=${3:-256}
T=${4:-2}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for i in 1 2 3 4 5 6; do cat "$ROOT/README.md" "$ROOT"/../shared/*.md 2>/dev/null || cat "$ROOT/README.md"; done >"$TMP/text.txt"
echo "| KV cache | bytes per token vs F32 | mean KL vs F32 cache | max KL | top-1 agreement |"
echo "|---|---|---|---|---|"
for kv in f16 q8_0 q4_0; do
    out=$("$QWEN3" perplexity "$MODEL" -f "$TMP/text.txt" -c "$LEN" --chunks 1 --score-last "$LAST" \
          --kl-base "$MODEL" --kl-base-kv f32 --kv "$kv" -t "$T" 2>"$TMP/err") ||
        { echo "kv_accuracy: $kv failed: $(tail -n 1 "$TMP/err")" >&2; exit 1; }
    line=$(printf '%s\n' "$out" | grep "KL(base || model)")
    mean=$(printf '%s\n' "$line" | sed -n 's/.*mean \([0-9.e+-]*\).*/\1/p')
    max=$(printf '%s\n' "$line" | sed -n 's/.* max \([0-9.e+-]*\);.*/\1/p')
    top=$(printf '%s\n' "$line" | sed -n 's/.*agreement \([0-9.]*%\).*/\1/p')
    case $kv in f16) b=0.50;; q8_0) b=0.27;; q4_0) b=0.14;; esac
    echo "| ${kv^^} | $b | $mean | $max | $top |"
done
echo
echo "$LEN-token chunk, last $LAST positions scored, $T threads, model $MODEL"
