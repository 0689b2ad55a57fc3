#!/usr/bin/env bash
# Runs every check and test: formatting, lints, dependency checks, the binaries, unit and
# end-to-end tests, and the collector's soak (tests/bench/soak.sh) in its short form beside
# them (SOAK_MINUTES, default 10; 0 leaves it out).
# Builds with the `ci` profile (release optimisation without LTO, see Cargo.toml) so the test
# binaries link quickly while timing-sensitive tests still see optimised code.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Known vulnerabilities, licences, banned and duplicate crates, sources (.ci/deny.toml). CI
# cannot reach GitHub, so the advisories come from the snapshot committed in .ci/advisory-db/.
.ci/advisory-db/unpack.sh target/advisory-dbs
cargo deny --workspace --offline --config .ci/deny.toml check
cargo build --workspace --bins --profile ci
soak_minutes=${SOAK_MINUTES:-10}
if [ "$soak_minutes" -gt 0 ]; then
  # A light load (1,333 samples/s and two queries a second), so it runs while the tests do.
  OSPREY_COLLECTOR=target/ci/osprey-collector tests/bench/soak.sh "$soak_minutes" \
    >target/soak.log 2>&1 &
  soak=$!
  trap 'kill "$soak" 2>/dev/null || true' EXIT
fi
OSPREY_PROFILE=ci cargo test --workspace --profile ci -- --test-threads=2
if [ "$soak_minutes" -gt 0 ]; then
  soak_status=0
  wait "$soak" || soak_status=$?
  cat target/soak.log
  [ "$soak_status" -eq 0 ] || { echo "the soak failed (above)" >&2; exit 1; }
fi
