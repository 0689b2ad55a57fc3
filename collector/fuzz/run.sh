#!/usr/bin/env bash
# Runs the fuzz targets one after another, each for SECONDS (default 60), and prints one line
# per target: executions, corpus entries and coverage at the end, and whether it crashed.
#
#   collector/fuzz/run.sh [SECONDS] [TARGET...]     (all targets when none is named)
#
# The committed corpus/<target> directories are read-only seeds: what a run discovers goes to
# $FUZZ_WORK/<target> (default /tmp/osprey-fuzz), so a later run starts from it again. A crash
# leaves its input in artifacts/<target>/. Set FUZZ_CPU to pin the runs to one core (taskset).
# Needs the nightly toolchain and `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
work=${FUZZ_WORK:-/tmp/osprey-fuzz}
pin=()
if [ -n "${FUZZ_CPU:-}" ]; then
  pin=(taskset -c "$FUZZ_CPU")
fi
# Debug assertions on, so an arithmetic overflow on hostile input is a crash, not a wrap.
"${pin[@]}" cargo +nightly fuzz build --debug-assertions
failed=0
for target in "${targets[@]}"; do
  mkdir -p "$work/$target"
  log="$work/$target.log"
  status=clean
  started=$SECONDS
  "${pin[@]}" cargo +nightly fuzz run --debug-assertions "$target" "$work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || { status="CRASHED (see $log and artifacts/$target/)"; failed=1; }
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  last=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1)
  echo "$target: ${execs} execs in $((SECONDS - started)) s, ${last:-no coverage line}; $status"
done
exit "$failed"
