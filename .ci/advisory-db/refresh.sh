#!/usr/bin/env bash
# Replaces the RustSec advisory snapshot that `cargo deny check` reads in CI (which cannot
# reach GitHub) with the advisories of a newer copy of github.com/rustsec/advisory-db.
#
#   .ci/advisory-db/refresh.sh [REPO]
#
# REPO is a clone (bare or not) of the database; without it, the script clones it from GitHub
# into a temporary directory. Writes crates.tar.gz (the `crates/` advisories at REPO's HEAD
# with the database's licence files, CC0-1.0 and CC-BY-4.0; byte-for-byte reproducible) and
# UPSTREAM (that commit and its date: the date the staleness limit in .ci/deny.toml measures).
# Commit both.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=${1:-}
if [ -z "$repo" ]; then
  repo=$(mktemp -d)
  trap 'rm -rf "$repo"' EXIT
  git clone --quiet --bare https://github.com/rustsec/advisory-db "$repo"
fi
commit=$(git -C "$repo" rev-parse HEAD)
date=$(git -C "$repo" show -s --format=%cI HEAD)
git -C "$repo" archive --format=tar HEAD crates LICENSE.txt LICENSES | gzip -9n >"$here/crates.tar.gz"
printf 'commit %s\ndate %s\n' "$commit" "$date" >"$here/UPSTREAM"
count=$(tar -tzf "$here/crates.tar.gz" | grep -c '\.md$')
echo "advisory snapshot: $count advisories as of $date ($commit)"
