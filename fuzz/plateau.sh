#!/usr/bin/env bash
# Runs one fuzz target for SECONDS at the lowest priority (the machine is
# shared) and logs libFuzzer's progress lines prefixed with the elapsed wall
# time, so the coverage curve (cov at several times) shows whether it plateaued.
#   fuzz/plateau.sh checkpoint 2100   # -> fuzz/target/plateau/checkpoint.log
# New inputs go to a scratch corpus under target/ (seeded from fuzz/corpus/).
# One process (no -jobs: its workers log to files instead); crashes land in
# fuzz/artifacts/<target>/. The elapsed time includes building the target.
set -euo pipefail
target=${1:?target}
seconds=${2:?seconds}
cd "$(dirname "$0")"
work=target/plateau/$target
mkdir -p "$work/corpus"
start=$(date +%s)
nice -n 19 cargo +nightly fuzz run "$target" "$work/corpus" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 2>&1 |
    while IFS= read -r line; do
        printf '%6d %s\n' "$(( $(date +%s) - start ))" "$line"
    done > "target/plateau/$target.log"
