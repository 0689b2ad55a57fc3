#!/bin/sh
# Builds the osprey-agent and osprey-collector container images FROM scratch, pulling nothing:
# each image holds its binary, the shared libraries the binary links with the dynamic loader,
# a passwd and group naming the unprivileged user `osprey` (uid and gid 10001) and its default
# configuration. Then writes this host's settings for compose.yml (see README.md).
#
# usage: build-images.sh [--profile P] [--binaries DIR] [--tag TAG] [--settings DIR]
#   --profile P     cargo profile the binaries are built with (default dist)
#   --binaries DIR  take osprey-agent and osprey-collector from DIR instead of building them
#   --tag TAG       the images' tag (default the binaries' version, and `latest` as well)
#   --settings DIR  where .env and targets/node.yml go (default this script's directory,
#                   where docker-compose reads .env)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
profile=dist
binaries=
tag=
settings=$here

# Prints the usage lines at the top of this file and exits with status $1.
usage() {
    sed -n '7,12p' "$0" | cut -c3-
    exit "$1"
}
while [ $# -gt 0 ]; do
    case $1 in -h | --help) usage 0 ;; esac
    [ $# -ge 2 ] || usage 2 >&2
    case $1 in
        --profile) profile=$2 ;;
        --binaries) binaries=$2 ;;
        --tag) tag=$2 ;;
        --settings) settings=$2 ;;
        *) usage 2 >&2 ;;
    esac
    shift 2
done

if [ -z "$binaries" ]; then
    (cd "$root" && cargo build --profile "$profile" -p osprey-agent -p osprey-collector)
    binaries=${CARGO_TARGET_DIR:-$root/target}/$profile
fi
version=$("$binaries/osprey-agent" --version | cut -d' ' -f2)
tags=${tag:-$version latest}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# Copies each file named after the root filesystem $1 to its own path under that root,
# following symbolic links (a library's soname is usually a link to the versioned file).
place() {
    rootfs=$1
    shift
    for file in "$@"; do
        mkdir -p "$rootfs$(dirname "$file")"
        cp -L "$file" "$rootfs$file"
    done
}

# The libraries the binary $1 links and the dynamic loader, as absolute paths. ldd prints
# `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and `/lib64/ld-linux-x86-64.so.2 (0x...)`.
linked() {
    ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# Stages the build context of the image of binary $1 in $stage/$1 and builds it with
# $1.Dockerfile. Further arguments are `source:destination` files or folders to add.
build_image() {
    name=$1
    shift
    rootfs=$stage/$name/rootfs
    mkdir -p "$rootfs/usr/bin" "$rootfs/etc" "$stage/$name/data"
    # Without the debug line tables of the release profile (as in the Debian packages, whose
    # -dbgsym packages keep them): the image carries what runs.
    objcopy --strip-debug "$binaries/$name" "$rootfs/usr/bin/$name"
    # shellcheck disable=SC2046 # one library path per line, no spaces in them
    place "$rootfs" $(linked "$binaries/$name")
    echo 'osprey:x:10001:10001:Osprey:/nonexistent:/sbin/nologin' >"$rootfs/etc/passwd"
    echo 'osprey:x:10001:' >"$rootfs/etc/group"
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
    for pair in "$@"; do
        mkdir -p "$rootfs$(dirname "${pair#*:}")"
        cp -RL "${pair%%:*}" "$rootfs${pair#*:}"
    done
    set --
    for t in $tags; do
        set -- "$@" --tag "$name:$t"
    done
    docker build --file "$here/$name.Dockerfile" "$@" "$stage/$name"
}

build_image osprey-agent "$here/agent.toml:/etc/osprey/agent.toml"
# The host's CA bundle, when it has one, lets webhooks and mail servers be reached over TLS.
certificates=/etc/ssl/certs/ca-certificates.crt
[ -f $certificates ] || certificates=
build_image osprey-collector "$here/collector.yml:/etc/osprey/collector.yml" \
    "$root/alert-rules:/etc/osprey/alert-rules" ${certificates:+$certificates:$certificates}

# This host's settings: the group owning the Docker socket (the agent joins it to read
# container metrics), the host name (the agent's, and the `instance` label of its series) and
# the agent as the collector's `node` target.
socket=/var/run/docker.sock
gid=$(stat -c %g $socket) || {
    echo "$socket is missing: compose.yml mounts it for the agent's container metrics" >&2
    exit 1
}
mkdir -p "$settings/targets"
settings=$(cd "$settings" && pwd)
host=$(uname -n)
cat >"$settings/.env" <<END
# This host's settings for compose.yml, written by build-images.sh.
OSPREY_TAG=${tag:-$version}
OSPREY_DOCKER_GID=$gid
OSPREY_HOSTNAME=$host
OSPREY_TARGETS_DIR=$settings/targets
END
cat >"$settings/targets/node.yml" <<END
# This host's agent, scraped as job node; written again by each run of build-images.sh. Other
# hosts' agents go in another file of this folder, which the collector reads too.
- targets: [agent:9717]
  labels: {instance: $host}
END
echo "images: $(for t in $tags; do printf 'osprey-agent:%s osprey-collector:%s ' "$t" "$t"; done)"
echo "settings: $settings/.env, $settings/targets/node.yml"
