#!/usr/bin/env bash
# Scrapes 20 targets x 10,000 series every 5 s for 60 s with osprey-collector, Debian's
# Prometheus and Debian's VictoriaMetrics, one after the other on the same data, and prints each
# one's CPU seconds (utime + stime from /proc/PID/stat), CPU per target scrape, and resident
# memory (VmRSS) at the end.
# Usage: tests/bench/scrape_peers.sh [SECONDS]   (needs a release build: cargo build --release)
# TARGETS, SERIES (per target, a multiple of 100) and INTERVAL (seconds) change the load;
# OSPREY_COLLECTOR names another collector binary (e.g. target/ci/osprey-collector).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-60}
targets=${TARGETS:-20}
series=${SERIES:-10000}
interval=${INTERVAL:-5}
collector=${OSPREY_COLLECTOR:-target/release/osprey-collector}
[ -x "$collector" ] || { echo "build first: cargo build --release -p osprey-collector" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# One exposition of $series series (families of 100 series), served under $targets paths.
mkdir -p "$work/www"
python3 - "$work/www/metrics.txt" "$series" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for fam in range(int(sys.argv[2]) // 100):
        name = f"node_bench_family_{fam}_bytes_total"
        f.write(f"# HELP {name} Bytes moved by device.\n# TYPE {name} counter\n")
        for s in range(100):
            f.write(f'{name}{{device="sd{s}",mode="read"}} {fam * 1000 + s}\n')
PY
for i in $(seq -w 1 "$targets"); do ln -s metrics.txt "$work/www/t$i.txt"; done
port_www=19890
(cd "$work/www" && exec python3 -m http.server "$port_www" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
sleep 1

config="$work/scrape.yml"
{
  printf 'global:\n  scrape_interval: %ss\n  scrape_timeout: %ss\nscrape_configs:\n' "$interval" "$interval"
  for i in $(seq -w 1 "$targets"); do
    printf '  - job_name: t%s\n    metrics_path: /t%s.txt\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' "$i" "$i" "$port_www"
  done
} >"$config"

measure() { # name, then the command
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  sleep "$duration"
  local ticks rss
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local cpu
  cpu=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')
  local per_scrape
  per_scrape=$(awk -v c="$cpu" -v n="$targets" -v d="$duration" -v i="$interval" \
    'BEGIN {printf "%.2f", c * 1000 / (n * int(d / i))}')
  printf '%-16s cpu_seconds=%-8s cpu_ms_per_scrape=%-8s rss_mb=%s\n' "$name" "$cpu" "$per_scrape" \
    "$((rss / 1024))"
  echo "$name $cpu $rss" >>"$work/results"
}

echo "$targets targets x $series series, every $interval s, for $duration s"
measure osprey "$collector" --config "$config" --listen 127.0.0.1:19891 --data-dir "$work/osprey"
measure prometheus prometheus --config.file="$config" --storage.tsdb.path="$work/prom" \
  --web.listen-address=127.0.0.1:19892
measure victoria-metrics victoria-metrics -promscrape.config="$config" \
  -storageDataPath="$work/vm" -httpListenAddr=127.0.0.1:19893
awk '{cpu[$1] = $2; rss[$1] = $3}
  END {
    printf "osprey/prometheus cpu ratio: %.2f (target <= 0.5)\n", cpu["osprey"] / cpu["prometheus"]
    printf "osprey/victoria-metrics rss ratio: %.2f (target <= 1.0)\n", rss["osprey"] / rss["victoria-metrics"]
  }' "$work/results"
