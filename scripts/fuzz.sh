#!/bin/bash
# fuzz.sh - `make fuzz`: reruns every fuzz target briefly (FUZZ_SECONDS each, default 15) from the
# corpora kept in the repository. Runs scripts/fuzz_*.sh; exit status non-zero if any found a crash.
cd "$(dirname "$0")/.."
export FUZZ_SECONDS=${FUZZ_SECONDS:-15}
status=0
for s in scripts/fuzz_*.sh; do
    echo "== $s"
    bash "$s" "$FUZZ_SECONDS" || status=1
done
exit $status
