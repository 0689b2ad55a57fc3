#!/usr/bin/env bash
# Builds the Debian packages osprey-agent and osprey-collector, and their debug symbols as
# osprey-agent-dbgsym and osprey-collector-dbgsym, with dpkg-deb (packaging/README.md).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: packaging/build-deb.sh [--profile PROFILE] [--no-build] [--compression TYPE] [OUTPUT_DIR]

Builds osprey-agent and osprey-collector with cargo and packages them, with their debug
symbols split into -dbgsym packages, as OUTPUT_DIR/*.deb (default target/debian/).

  --profile PROFILE  cargo profile to build and package (default dist; ci builds faster)
  --no-build         package the binaries already built in the profile's target directory
  --compression TYPE dpkg-deb's compression: xz (default, smallest), zstd (fastest; needs
                     dpkg 1.21.18 or later to install, as in Debian 12) or gzip
  -h, --help         this text
EOF
}

profile=dist
build=yes
compression=xz
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=${2:?--profile needs a value}; shift 2 ;;
    --profile=*) profile=${1#--profile=}; shift ;;
    --no-build) build=no; shift ;;
    --compression) compression=${2:?--compression needs a value}; shift 2 ;;
    --compression=*) compression=${1#--compression=}; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
packaging=$repo/packaging
target=${CARGO_TARGET_DIR:-$repo/target}
out=$(mkdir -p "${out:-$target/debian}" && cd "${out:-$target/debian}" && pwd)
binaries=$target/$([ "$profile" = dev ] && echo debug || echo "$profile")
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml")
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$build" = yes ]; then
  cargo build --manifest-path "$repo/Cargo.toml" --profile "$profile" \
    -p osprey-agent -p osprey-collector
fi

# The Depends line of a binary's shared libraries: dpkg-shlibdeps when dpkg-dev is installed,
# otherwise libc6 at the newest glibc symbol version the binary uses.
depends_of() {
  if command -v dpkg-shlibdeps >/dev/null; then
    mkdir -p "$work/shlibs/debian" && touch "$work/shlibs/debian/control"
    (cd "$work/shlibs" && dpkg-shlibdeps -O "$1" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
  else
    local glibc
    glibc=$(objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
    if objdump -p "$1" | grep -q 'NEEDED *libgcc_s'; then
      echo "libc6 (>= $glibc), libgcc-s1"
    else
      echo "libc6 (>= $glibc)"
    fi
  fi
}

# Fills the control template $1 into $2/DEBIAN/control; the remaining arguments are extra
# sed expressions.
write_control() {
  local template=$1 root=$2
  shift 2
  local size
  size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
  sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$size/" "$@" \
    "$template" >"$root/DEBIAN/control"
}

# Writes the maintainer scripts of package $1 into $2/DEBIAN: the shared bodies in
# packaging/deb/maintainer/ under the package's settings.
write_maintainer_scripts() {
  local package=$1 root=$2 script
  for script in postinst prerm postrm; do
    {
      printf '#!/bin/sh\nset -e\n\n'
      cat "$packaging/deb/$package/settings"
      echo
      cat "$packaging/deb/maintainer/$script"
    } >"$root/DEBIAN/$script"
    chmod 0755 "$root/DEBIAN/$script"
  done
}

# Strips the debug information of binary $1 into $2 (the -dbgsym package's root) at Debian's
# /usr/lib/debug/.build-id/xx/yyyy.debug, links the binary to it and prints the build id.
split_debug_info() {
  local binary=$1 dbgsym_root=$2 build_id debug_file
  build_id=$(readelf -n "$binary" | sed -n 's/^ *Build ID: //p')
  [ -n "$build_id" ] || { echo "$binary has no build id" >&2; exit 1; }
  debug_file=$dbgsym_root/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug
  mkdir -p "$(dirname "$debug_file")"
  objcopy --only-keep-debug --compress-debug-sections "$binary" "$debug_file"
  chmod 0644 "$debug_file"
  strip --remove-section=.comment --remove-section=.note "$binary"
  objcopy --add-gnu-debuglink="$debug_file" "$binary"
  echo "$build_id"
}

# Builds package $1 from the binary of the same name; the remaining arguments are
# `destination=source` files to add (a trailing `/` on the destination keeps the file name).
build_package() {
  local package=$1
  shift
  local root=$work/$package dbgsym_root=$work/$package-dbgsym build_id depends file
  mkdir -p "$root/DEBIAN" "$root/usr/bin" "$dbgsym_root/DEBIAN" \
    "$root/usr/share/doc/$package" "$dbgsym_root/usr/share/doc"
  [ -x "$binaries/$package" ] || {
    echo "$binaries/$package is missing (build it, or drop --no-build)" >&2
    exit 1
  }
  install -m 0755 "$binaries/$package" "$root/usr/bin/$package"
  build_id=$(split_debug_info "$root/usr/bin/$package" "$dbgsym_root")
  install -D -m 0644 "$packaging/systemd/$package.service" \
    "$root/lib/systemd/system/$package.service"
  install -m 0644 "$packaging/deb/copyright" "$root/usr/share/doc/$package/copyright"
  for file in "$@"; do
    local destination=${file%%=*} source=${file#*=}
    [[ $destination == */ ]] && destination=$destination$(basename "$source")
    install -D -m 0644 "$source" "$root$destination"
  done
  (cd "$root" && find etc -type f 2>/dev/null | sed 's|^|/|' | sort) >"$root/DEBIAN/conffiles"
  write_maintainer_scripts "$package" "$root"
  depends=$(depends_of "$root/usr/bin/$package")
  [ -n "$depends" ] || { echo "no dependencies found for $package" >&2; exit 1; }
  write_control "$packaging/deb/$package/control" "$root" -e "s/@DEPENDS@/$depends/"
  ln -s "$package" "$dbgsym_root/usr/share/doc/$package-dbgsym"
  write_control "$packaging/deb/dbgsym.control" "$dbgsym_root" \
    -e "s/@PACKAGE@/$package/g" -e "s/@BUILD_ID@/$build_id/"
  for tree in "$root" "$dbgsym_root"; do
    local name
    name=$(basename "$tree")
    dpkg-deb --root-owner-group -Z"$compression" --build "$tree" "$out/${name}_${version}_$arch.deb" >/dev/null
  done
  printf '%-18s binary %6s  .deb %6s  -dbgsym.deb %6s\n' "$package" \
    "$(du -h --apparent-size "$root/usr/bin/$package" | cut -f1)" \
    "$(du -h --apparent-size "$out/${package}_${version}_$arch.deb" | cut -f1)" \
    "$(du -h --apparent-size "$out/${package}-dbgsym_${version}_$arch.deb" | cut -f1)"
}

build_package osprey-agent "/etc/osprey/agent.toml=$packaging/agent.toml"

collector_files=("/etc/osprey/collector.yml=$packaging/deb/osprey-collector/collector.yml")
for rules in "$repo"/alert-rules/*.yml; do
  collector_files+=("/usr/share/osprey/alert-rules/=$rules")
done
# The full commented example of every key, its rule files pointing where the package puts
# the shipped rules.
mkdir -p "$work/examples"
sed 's#\.\./alert-rules/#/usr/share/osprey/alert-rules/#' "$packaging/collector.yml" \
  >"$work/examples/collector.yml"
collector_files+=("/usr/share/doc/osprey-collector/examples/=$work/examples/collector.yml")
build_package osprey-collector "${collector_files[@]}"

echo "packages in $out:"
ls -1 "$out"/*_"${version}"_"$arch".deb
