#!/bin/bash
# recipe_keep.sh OUT DEST - the finished stages of a tools/recipe.sh run in the form a repository
# keeps: for each model line (teacher, student) its last finished stage packed (`qwen3 pack`: the
# trained vocabulary rows + one shared row, BF16 as every stage exports, ~13 MB for the teacher),
# and every finished stage's log of losses (loss.jsonl / post.jsonl). The machines this project is
# developed on keep no files from one 3-hour session to the next, and the whole recipe takes longer
# than one; a session commits what this writes, the next one runs
#     STAGES_FROM=DEST tools/recipe.sh OUT
# and goes on from there (the stages taken from DEST are marked so: OUT/NAME/FROM). A stage's
# export is what the next stage starts from in any run, so nothing is lost at the seam but the
# unfinished stage. Stages already taken from DEST are not written again.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: recipe_keep.sh OUT DEST}
DEST=${2:?usage: recipe_keep.sh OUT DEST}
Q=${QWEN3:-./qwen3}
. tools/train_lib.sh # RECIPE_LINES
mkdir -p "$DEST"
for line in "${RECIPE_LINES[@]}"; do
    last=""
    for name in $line; do [ -f "$OUT/$name/DONE" ] && last=$name; done
    for name in $line; do # every finished stage's losses
        [ -f "$OUT/$name/DONE" ] && [ ! -f "$OUT/$name/FROM" ] || continue
        mkdir -p "$DEST/logs"
        for f in loss.jsonl post.jsonl; do [ -f "$OUT/$name/$f" ] && cp "$OUT/$name/$f" "$DEST/logs/$name.$f"; done
    done
    [ -n "$last" ] && [ ! -f "$OUT/$last/FROM" ] || continue
    for name in $line; do rm -rf "${DEST:?}/$name"; done # the line's earlier packed stage is superseded
    "$Q" pack "$OUT/$last" "$DEST/$last"
    echo "recipe_keep: $OUT/$last -> $DEST/$last ($(du -sh "$DEST/$last" | cut -f1))"
done
