#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the release binaries, unit and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins --release
OSPREY_PROFILE=release cargo test --workspace --release -- --test-threads=2
