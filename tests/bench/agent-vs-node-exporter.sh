#!/usr/bin/env bash
# Measures osprey-agent against Debian's prometheus-node-exporter in one run, side by side:
# CPU time per scrape (utime+stime from /proc/PID/stat over N scrapes), peak RSS (VmHWM),
# bytes per response, and the median scrape latency.
#
# Usage: tests/bench/agent-vs-node-exporter.sh [SCRAPES]     (default 300)
# OSPREY_AGENT_ARGS="--no-containers" passes extra arguments to the agent (e.g. to leave out the
# containers of a Docker host, which node_exporter does not measure).
# Needs: the agent as packaged (cargo build --profile dist -p osprey-agent), prometheus-node-exporter,
# python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
scrapes="${1:-300}"
agent="${OSPREY_AGENT:-target/dist/osprey-agent}"
node_exporter="${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}"
[ -x "$agent" ] || { echo "missing $agent: run cargo build --profile dist -p osprey-agent" >&2; exit 1; }
[ -x "$node_exporter" ] || { echo "missing $node_exporter: run tests/install-deps.sh" >&2; exit 1; }

exec python3 - "$agent" "$node_exporter" "$scrapes" <<'PY'
import gzip, os, socket, statistics, subprocess, sys, time, urllib.request

agent, node_exporter, scrapes = sys.argv[1], sys.argv[2], int(sys.argv[3])
ticks = os.sysconf("SC_CLK_TCK")

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def start(argv, port):
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if process.poll() is not None:
                sys.exit(f"{argv[0]} exited with {process.returncode}")
            time.sleep(0.05)
    process.kill()
    sys.exit(f"{argv[0]} did not listen on {port}")

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

def scrape(url, gzip_wanted=False):
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_wanted else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()

def measure(name, argv, port):
    process = start(argv, port)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for _ in range(5):  # warm-up: first-scrape allocations, page cache
            scrape(url)
        body = scrape(url)
        gzipped = scrape(url, gzip_wanted=True)
        if gzipped[:2] != b"\x1f\x8b":  # not compressed by the server: compress like it would
            gzipped = gzip.compress(gzipped)
        before = cpu_seconds(process.pid)
        latencies = []
        for _ in range(scrapes):
            started = time.perf_counter()
            scrape(url)
            latencies.append(time.perf_counter() - started)
        cpu = cpu_seconds(process.pid) - before
        return {
            "cpu_ms_per_scrape": cpu / scrapes * 1000,
            "median_latency_ms": statistics.median(latencies) * 1000,
            "peak_rss_mib": peak_rss_kib(process.pid) / 1024,
            "bytes_per_response": len(body),
            "gzip_bytes_per_response": len(gzipped),
            "samples": sum(1 for l in body.decode().splitlines() if l and not l.startswith("#")),
        }
    finally:
        process.terminate()
        process.wait()

agent_port, ne_port = free_port(), free_port()
agent_args = os.environ.get("OSPREY_AGENT_ARGS", "").split()
ours = measure("osprey-agent", [agent, "--listen", f"127.0.0.1:{agent_port}", *agent_args], agent_port)
theirs = measure("node_exporter", [node_exporter, f"--web.listen-address=127.0.0.1:{ne_port}"], ne_port)

print(f"{scrapes} scrapes each, sequential, on {os.cpu_count()} CPUs")
print(f"{'':28}{'osprey-agent':>14}{'node_exporter':>15}{'agent/node_exporter':>22}")
rows = [
    ("CPU per scrape (ms)", "cpu_ms_per_scrape", "{:.3f}"),
    ("median latency (ms)", "median_latency_ms", "{:.3f}"),
    ("peak RSS (MiB)", "peak_rss_mib", "{:.1f}"),
    ("bytes per response", "bytes_per_response", "{:.0f}"),
    ("gzip bytes per response", "gzip_bytes_per_response", "{:.0f}"),
    ("samples per response", "samples", "{:.0f}"),
]
for label, key, fmt in rows:
    a, n = ours[key], theirs[key]
    ratio = f"{a / n:.3f}" if n else "n/a"
    print(f"{label:28}{fmt.format(a):>14}{fmt.format(n):>15}{ratio:>22}")
PY
