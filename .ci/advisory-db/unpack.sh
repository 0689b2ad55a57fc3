#!/usr/bin/env bash
# Turns the committed advisory snapshot into the git clone cargo-deny opens with --offline:
#
#   .ci/advisory-db/unpack.sh DB_PATH      (the `db-path` of .ci/deny.toml)
#
# cargo-deny looks for the clone of its default database URL at
# DB_PATH/advisory-db-3157b0e258782691 (the URL's last segment and its xxHash64) and takes the
# newer of the HEAD commit's date and the HEAD file's modification time as the time of the last
# fetch. Both are set to the upstream date in UPSTREAM, so `maximum-db-staleness` measures how
# old the advisories really are, not when they were unpacked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db="$1/advisory-db-3157b0e258782691"
date=$(sed -n 's/^date //p' "$here/UPSTREAM")
commit=$(sed -n 's/^commit //p' "$here/UPSTREAM")
rm -rf "$db"
mkdir -p "$db"
tar -xzf "$here/crates.tar.gz" -C "$db"
git -C "$db" init --quiet
git -C "$db" add --all
GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -C "$db" \
  -c user.name=osprey-ci -c user.email=ci@osprey.invalid -c commit.gpgsign=false \
  commit --quiet --message "rustsec/advisory-db $commit"
touch -d "$date" "$db/.git/HEAD"
