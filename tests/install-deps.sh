#!/usr/bin/env bash
# Installs the real peers the end-to-end tests run against (Debian packages). Needs root: run
# as another user, it runs itself again through sudo.
set -euo pipefail
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
  systemd                    # systemd-analyze verify / security for the unit file
  openssl                    # a private CA for the STARTTLS mail test
  chromium                   # a real browser renders the collector's web UI
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts these as services where systemd runs; the tests start their own instances.
for service in prometheus prometheus-node-exporter prometheus-alertmanager victoria-metrics; do
  pkill -x "$service" 2>/dev/null || true
done
echo "test dependencies present"
