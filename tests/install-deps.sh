#!/usr/bin/env bash
# Installs cargo-deny and the real peers the end-to-end tests run against (Debian packages).
# Needs root for the packages: run as another user, it runs itself again through sudo.
set -euo pipefail
# cargo-deny (tests/run.sh's dependency check) goes to the invoking user's cargo, so it is
# installed before the script asks for root, and not again by the root run sudo starts. Built
# from source: a few minutes of CPU (19 minutes on a busy two-core machine). The version is
# pinned because .ci/deny.toml and .ci/advisory-db/unpack.sh follow its configuration format
# and database layout.
cargo_deny_version=0.20.2
if [ -z "${SUDO_USER:-}" ] || [ "$(id -u)" -ne 0 ]; then
  if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $cargo_deny_version" ]; then
    echo "installing cargo-deny $cargo_deny_version"
    cargo install cargo-deny --version "$cargo_deny_version" --locked
  fi
fi
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -- "$0" "$@"
fi
packages=(
  prometheus                 # prometheus + promtool: scrapes the agent, checks metrics and rules
  prometheus-node-exporter   # the peer the agent is compared with
  prometheus-alertmanager    # amtool: validates Alertmanager configurations
  victoria-metrics           # storage peer for benchmarks
  docker.io                  # a real Docker engine for container metrics
  busybox-static             # the rootfs of the local test image (images cannot be pulled)
  python3-aiosmtpd           # a real SMTP server on loopback
  systemd                    # systemd-analyze verify / security for the units
  debootstrap                # a Debian rootfs with systemd as PID 1, to run the units for real
  dpkg-dev                   # dpkg-shlibdeps: the packages' library dependencies
  binutils                   # objcopy, strip: the packages' binaries and -dbgsym files
  curl                       # the install script and package tests fetch from the services
  iproute2                   # network namespaces for the installed binaries' default ports
  util-linux                 # setpriv, unshare, nsenter: run as the packages' users
  passwd                     # useradd, as the packages' maintainer scripts do
  e2fsprogs                  # mkfs.ext4: a small loop filesystem the disk alert tests fill
  mount                      # mount, losetup for that filesystem
  docker-compose             # packaging/docker/compose.yml
  openssl                    # a private CA for the STARTTLS mail test
  chromium                   # a real browser renders the collector's web UI
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  # Debian starts the services of these packages on installation (Prometheus on 9090, ...); the
  # tests start their own instances, so a policy-rc.d of our own keeps the packages installed
  # now from starting theirs. Services that were running before are left as they are.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# left by tests/install-deps.sh while it installs packages\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "test dependencies present"
