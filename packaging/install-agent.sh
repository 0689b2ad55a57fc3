#!/usr/bin/env bash
# Installs the Osprey agent on this machine, from its Debian package or from a bare binary,
# and prints the line to add to the collector's scrape configuration (packaging/README.md).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: install-agent.sh (--deb FILE | --binary FILE) [--config FILE] [--host NAME]

Installs the Osprey agent as the systemd service osprey-agent, run by the system user
osprey-agent (in the docker group when that group exists), configured by
/etc/osprey/agent.toml. Runs without questions and may run again: a second run leaves the
same installation (an existing /etc/osprey/agent.toml is never overwritten). Needs root.

  --deb FILE     install the osprey-agent .deb with dpkg (binary in /usr/bin)
  --binary FILE  install a bare osprey-agent binary as /usr/local/bin/osprey-agent, with
                 the unit /etc/systemd/system/osprey-agent.service and the configuration
                 from this script's directory (systemd/osprey-agent.service, agent.toml)
  --config FILE  the agent configuration to install when /etc/osprey/agent.toml is absent
                 (default: agent.toml beside this script, or the package's)
  --host NAME    the name or address the collector reaches this machine by, for the printed
                 scrape target (default: hostname --fqdn)
  -h, --help     this text

Over SSH, for a fleet:
  scp -r packaging osprey-agent_*.deb node1: && \
    ssh node1 sudo packaging/install-agent.sh --deb osprey-agent_*.deb --host node1
EOF
}

deb=
binary=
config=
host=
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=${2:?--deb needs a file}; shift 2 ;;
    --binary) binary=${2:?--binary needs a file}; shift 2 ;;
    --config) config=${2:?--config needs a file}; shift 2 ;;
    --host) host=${2:?--host needs a name}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
if { [ -n "$deb" ] && [ -n "$binary" ]; } || [ -z "$deb$binary" ]; then
  echo "give one of --deb FILE and --binary FILE" >&2
  usage >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-agent.sh needs root (run it with sudo)" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
unit=osprey-agent.service
config_file=/etc/osprey/agent.toml
# The first line of a unit this script wrote, so that a later --deb install can replace it.
marker="# Installed by packaging/install-agent.sh --binary; the osprey-agent .deb replaces it."
bare_unit=/etc/systemd/system/$unit
bare_binary=/usr/local/bin/osprey-agent
systemd_runs() { [ -d /run/systemd/system ]; }

install_config() {
  if [ -e "$config_file" ]; then
    return
  fi
  local source=${config:-$here/agent.toml}
  [ -f "$source" ] || { echo "no agent configuration at $source (give --config FILE)" >&2; exit 1; }
  install -D -m 0644 "$source" "$config_file"
}

install_from_deb() {
  # A unit and binary left by an earlier --binary install would shadow the package's.
  if [ -f "$bare_unit" ] && [ "$(head -n 1 "$bare_unit")" = "$marker" ]; then
    if systemd_runs; then
      systemctl stop "$unit" || true
    fi
    systemctl disable "$unit" >/dev/null 2>&1 || true
    rm -f "$bare_unit" "$bare_binary"
  fi
  # The package brings its own configuration unless one is in place already (kept, as an
  # administrator's change to a conffile is).
  if [ -n "$config" ]; then
    install_config
  fi
  DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i "$deb" >/dev/null
  # The package's postinst enables and starts the service on its first installation only;
  # running this script again means the agent should run, even if it was disabled since.
  if systemd_runs; then
    systemctl enable "$unit" >/dev/null 2>&1
    systemctl start "$unit"
  fi
}

install_from_binary() {
  "$binary" --version >/dev/null || { echo "$binary does not run" >&2; exit 1; }
  local packaged_unit=$here/systemd/$unit
  [ -f "$packaged_unit" ] || { echo "$packaged_unit is missing: copy the whole packaging/ directory" >&2; exit 1; }
  if ! getent passwd osprey-agent >/dev/null; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin --comment "Osprey agent" osprey-agent
  fi
  if getent group docker >/dev/null; then
    usermod --append --groups docker osprey-agent
  fi
  install -D -m 0755 "$binary" "$bare_binary"
  install_config
  {
    echo "$marker"
    sed "s|/usr/bin/osprey-agent|$bare_binary|" "$packaged_unit"
  } >"$bare_unit.new"
  chmod 0644 "$bare_unit.new"
  mv "$bare_unit.new" "$bare_unit"
  if command -v systemctl >/dev/null; then
    systemctl enable "$unit" >/dev/null 2>&1 || true
  fi
  if systemd_runs; then
    systemctl daemon-reload
    # A restart, so that a new binary takes over.
    systemctl restart "$unit"
  fi
}

if [ -n "$deb" ]; then
  install_from_deb
else
  install_from_binary
fi

if systemd_runs; then
  echo "osprey-agent.service: $(systemctl is-active "$unit" || true)"
else
  echo "systemd is not running here: the service starts at the next boot"
fi
port=$(sed -n 's/^listen *= *"[^"]*:\([0-9]*\)".*/\1/p' "$config_file")
echo "add this target to job node in the collector's scrape_configs:"
echo "      - targets: [\"${host:-$(hostname --fqdn 2>/dev/null || hostname)}:${port:-9717}\"]"
