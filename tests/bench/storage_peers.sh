# Shell functions the storage benchmarks share (sourced by tsdb-vs-peers.sh and
# disk-footprint.sh): checking for tools, finding a free port, waiting for an HTTP endpoint,
# loading a dataset into VictoriaMetrics until its directory stops changing, reading one number
# from a Prometheus-compatible query API, and `du -sb` of a directory.

# require_tools TOOL...: exits with a hint when one is not installed.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null ||
            { echo "missing $tool (tests/install-deps.sh installs the peers)" >&2; exit 1; }
    done
}

# free_port: a TCP port on 127.0.0.1 nothing listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_url URL [SECONDS]: waits until URL answers 2xx (default 60 s); fails after that.
wait_for_url() {
    local url=$1 tries=$((${2:-60} * 5))
    while [ "$tries" -gt 0 ]; do
        curl -fs "$url" >/dev/null 2>&1 && return 0
        sleep 0.2
        tries=$((tries - 1))
    done
    echo "no answer from $url" >&2
    return 1
}

# du_bytes DIR: the bytes `du -sb` reports for DIR.
du_bytes() {
    du -sb "$1" | cut -f1
}

# query_number BASE_URL QUERY TIME: the value of the first series QUERY returns at TIME (Unix
# seconds) from BASE_URL/api/v1/query, or "none" when it returns no series.
query_number() {
    curl -fs "$1/api/v1/query" --data-urlencode "query=$2" --data-urlencode "time=$3" |
        python3 -c 'import json, sys
result = json.load(sys.stdin)["data"]["result"]
print(result[0]["value"][1] if result else "none")'
}

# vm_start DIR PORT LOG: starts VictoriaMetrics on DIR (keeping everything: retention 100
# years), sets VM_PID and waits until it is healthy.
vm_start() {
    victoria-metrics -storageDataPath "$1" -httpListenAddr "127.0.0.1:$2" \
        -retentionPeriod 100y -loggerLevel ERROR >"$3" 2>&1 &
    VM_PID=$!
    wait_for_url "http://127.0.0.1:$2/health" 20
}

# vm_load PORT FILE DIR: imports FILE (Prometheus text with timestamps) into the
# VictoriaMetrics on PORT, forces a flush and a merge, and waits until the size of its data
# directory DIR stops changing (merges run in the background).
vm_load() {
    local base="http://127.0.0.1:$1" last=-1 now
    curl -fs --data-binary "@$2" "$base/api/v1/import/prometheus"
    curl -fs "$base/internal/force_flush"
    curl -fs "$base/internal/force_merge"
    for _ in $(seq 60); do
        sleep 2
        now=$(du_bytes "$3")
        [ "$now" = "$last" ] && return 0
        last=$now
    done
}
