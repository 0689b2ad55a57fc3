#!/usr/bin/env bash
# Soak: the collector scrapes 100 targets (node-exporter-sized, 200 changing series each) every
# 15 s, evaluates the default alert rules and a recording group, and answers a dashboard's query
# load (two queries a second, instant and over the last QUERY_WINDOW seconds) for MINUTES
# minutes. Every minute it prints the collector's resident memory, open file descriptors and
# threads; at the end it checks that they stayed flat once the query window has filled with data
# and that the collector logged no error and failed no query, and exits non-zero otherwise.
#
# Usage: tests/bench/soak.sh [MINUTES]   (default 60; CI runs the 10-minute form)
# OSPREY_COLLECTOR names the binary (default target/release/osprey-collector); TARGETS, SERIES,
# INTERVAL (seconds) and QUERY_WINDOW (seconds; default a third of the run, at most 900) change
# the load.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=${1:-60}
targets=${TARGETS:-100}
series=${SERIES:-200}
interval=${INTERVAL:-15}
window=${QUERY_WINDOW:-$(( minutes * 20 < 900 ? minutes * 20 : 900 ))}
# Memory grows while the query window fills with data; flatness is judged after that.
warmup=$(( window / 60 + 1 ))
collector=${OSPREY_COLLECTOR:-target/release/osprey-collector}
[ -x "$collector" ] || { echo "build first: cargo build --release -p osprey-collector" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The targets: one process listening on $targets ephemeral ports (written to $work/ports once
# all listen), each serving $series series whose counters grow with time and whose gauges
# wander, as a node's would.
python3 - "$PWD/tests/bench" "$work/ports" "$targets" "$series" >"$work/targets.log" 2>&1 <<'PY' &
import math, sys, time
sys.path.insert(0, sys.argv[1])
import scrape_targets
ports_file, count, series = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def page(index):
    now = time.time()
    lines = []
    for s in range(series // 2):
        lines.append(f'soak_bytes_total{{device="d{s}"}} {int(now * (s + 1) * 1000 + index)}')
        lines.append(f'soak_load{{device="d{s}"}} {math.sin(now / 300 + s + index):.4f}')
    return ("\n".join(lines) + "\n").encode()

scrape_targets.serve(ports_file, count, page)
PY
pids+=($!)
for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.1; done
[ -s "$work/ports" ] || { echo "the targets did not start:"; cat "$work/targets.log"; exit 1; }

config="$work/osprey.yml"
{
  printf 'global:\n  scrape_interval: %ss\n  evaluation_interval: 15s\n' "$interval"
  printf 'rule_files: ["%s/alert-rules/*.yml", "recording.yml"]\n' "$PWD"
  printf 'scrape_configs:\n  - job_name: soak\n    static_configs:\n      - targets:\n'
  while read -r target_port; do printf '          - "127.0.0.1:%s"\n' "$target_port"; done <"$work/ports"
} >"$config"
cat >"$work/recording.yml" <<'YML'
groups:
  - name: soak
    rules:
      - record: instance:soak_bytes:rate5m
        expr: sum by (instance) (rate(soak_bytes_total[5m]))
      - record: job:soak_load:avg
        expr: avg by (job) (soak_load)
      - alert: SoakTargetDown
        expr: up{job="soak"} == 0
        for: 1m
YML

port=$(free_port)
"$collector" --config="$config" --data-dir="$work/data" --listen="127.0.0.1:$port" \
  >"$work/collector.log" 2>&1 &
collector_pid=$!
pids+=($collector_pid)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done

# The query load: what a host dashboard asks, now and over the window, twice a second.
python3 - "$port" "$window" >"$work/queries.log" 2>&1 <<'PY' &
import json, sys, time, urllib.parse, urllib.request
port, window = sys.argv[1], int(sys.argv[2])
queries = [
    "sum by (instance) (rate(soak_bytes_total[5m]))",
    "topk(5, avg by (device) (soak_load))",
    'count(up{job="soak"} == 1)',
    "quantile(0.9, soak_load)",
    "instance:soak_bytes:rate5m",
]
failures = 0
while True:
    for q in queries:
        end = time.time()
        for path, params in (
            ("query", {"query": q}),
            ("query_range", {"query": q, "start": end - window, "end": end, "step": 15}),
        ):
            url = f"http://127.0.0.1:{port}/api/v1/{path}?" + urllib.parse.urlencode(params)
            try:
                with urllib.request.urlopen(url, timeout=30) as answer:
                    if json.load(answer)["status"] != "success":
                        raise RuntimeError("not success")
            except Exception as error:
                failures += 1
                print(f"query failed: {q}: {error}", flush=True)
            time.sleep(0.5)
PY
pids+=($!)

stat() { # rss_kib fds threads
  local rss threads fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$collector_pid/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$collector_pid/status")
  fds=$(ls "/proc/$collector_pid/fd" | wc -l)
  echo "$rss $fds $threads"
}
echo "soak: $targets targets x $series series every ${interval}s, rules, 2 queries/s over ${window}s, $minutes min (warm-up $warmup)"
printf '%6s %9s %6s %8s %10s\n' minute rss_mib fds threads samples/s
: >"$work/stats"
for minute in $(seq 1 "$minutes"); do
  sleep 60
  kill -0 "$collector_pid" 2>/dev/null || { echo "the collector exited:"; cat "$work/collector.log"; exit 1; }
  read -r rss fds threads <<<"$(stat)"
  rate=$(curl -fs "http://127.0.0.1:$port/api/v1/query" --data-urlencode \
    "query=sum(scrape_samples_scraped{job=\"soak\"}) / $interval" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(round(float(r[0]["value"][1])) if r else 0)')
  printf '%6d %9.1f %6d %8d %10s\n' "$minute" "$(awk "BEGIN {print $rss / 1024}")" "$fds" "$threads" "$rate"
  echo "$minute $rss $fds $threads" >>"$work/stats"
done

# Flat: after the warm-up, the second half's peak resident memory is within a quarter (plus
# 16 MiB for the allocator's noise) of the first half's, and file descriptors and threads stay
# within a few of where they were.
errors=$(grep -c -E ' ERROR |"level":"ERROR"' "$work/collector.log" || true)
query_failures=$(grep -c 'query failed' "$work/queries.log" || true)
status=0
python3 - "$work/stats" "$warmup" "$errors" "$query_failures" <<'PY' || status=$?
import sys
rows = [tuple(int(x) for x in line.split()) for line in open(sys.argv[1])]
warmup, errors, query_failures = (int(a) for a in sys.argv[2:])
settled = [r for r in rows if r[0] > warmup] or rows
half = max(1, len(settled) // 2)
first, second = settled[:half], settled[half:] or settled[-1:]
first_peak, second_peak = max(r[1] for r in first), max(r[1] for r in second)
problems = []
if second_peak > first_peak * 1.25 + 16 * 1024:
    problems.append(f"peak resident memory grew from {first_peak // 1024} MiB "
                    f"to {second_peak // 1024} MiB")
for name, col, slack in (("open fds", 2, 10), ("threads", 3, 4)):
    values = [r[col] for r in settled]
    if max(values) - min(values) > slack:
        problems.append(f"{name} ranged {min(values)}..{max(values)}")
if errors:
    problems.append(f"the collector logged {errors} errors")
if query_failures:
    problems.append(f"{query_failures} queries failed")
print(f"errors logged: {errors}; failed queries: {query_failures}; peak RSS "
      f"{first_peak // 1024} MiB (minutes {first[0][0]}-{first[-1][0]}), "
      f"{second_peak // 1024} MiB (minutes {second[0][0]}-{second[-1][0]})")
if problems:
    print("NOT FLAT: " + "; ".join(problems))
    sys.exit(1)
print("flat")
PY
grep -E ' (WARN|ERROR) |"level":"(WARN|ERROR)"' "$work/collector.log" | head -20 || true
exit $status
