#!/usr/bin/env bash
# Runs every check and test: formatting, lints, dependency checks, the binaries, unit and
# end-to-end tests.
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
OSPREY_PROFILE=ci cargo test --workspace --profile ci -- --test-threads=2
