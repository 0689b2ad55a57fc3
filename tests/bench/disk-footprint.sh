#!/usr/bin/env bash
# Bytes per sample as the operator's disk sees them: `du -sb` of the data directory, Osprey side
# by side with VictoriaMetrics and Prometheus holding the same samples. It reads nothing but
# `du -sb` of data directories and query answers, so it measures whatever layout the store has.
#
# node (the default): a node_exporter-like dataset (tests/bench/node_dataset.py, every scrape
#   1-5 ms off its 15 s slot) stored
#   (a) by `osprey-collector import`, then served by the collector for RUN_SECONDS;
#   (b) by the store's appender scrape by scrape with its background maintenance, spanning
#       the dataset's day boundaries (`cargo bench --bench disk_footprint`);
#   and by VictoriaMetrics (import, force_flush, force_merge) and Prometheus (promtool blocks).
# high-cardinality: 5 local targets x 200,000 series scraped twice by Osprey and by Prometheus,
#   each stopped with SIGTERM, then both data directories; and `osprey-collector import` of
#   1,000,000 series x 3 samples.
#
# usage: tests/bench/disk-footprint.sh [node|high-cardinality]
#   HOSTS=3            node hosts of ~150 series each
#   DAYS=3             days of samples at 15 s
#   RUN_SECONDS=90     how long the collector serves the imported data in path (a)
#   OSPREY_COLLECTOR=target/release/osprey-collector   the collector binary
#   CARGO_PROFILE=bench   the profile `cargo bench` builds disk_footprint with (ci: no LTO)
# Needs promtool, victoria-metrics and prometheus (tests/install-deps.sh installs them).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODE=${1:-node}
HOSTS=${HOSTS:-3}
DAYS=${DAYS:-3}
RUN_SECONDS=${RUN_SECONDS:-90}
COLLECTOR=${OSPREY_COLLECTOR:-$ROOT/target/release/osprey-collector}
CARGO_PROFILE=${CARGO_PROFILE:-bench}
HC_TARGETS=5
HC_SERIES=200000
HC_IMPORT_SAMPLES=3
# The node dataset's first scrape is at most 15 s before this (node_dataset.py's START_MS).
DATASET_START_S=1700000000

. "$ROOT/tests/bench/storage_peers.sh"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        # A process killed here exits non-zero: that is not the script's outcome.
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# started PID: remember a process the script started, for the cleanup.
started() {
    PIDS+=("$1")
}

# forget PID: the process has been waited for; the cleanup leaves it alone.
forget() {
    local kept=() pid
    for pid in "${PIDS[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    PIDS=("${kept[@]}")
}

# running PID: whether the process is alive (a child that exited and was not waited for yet is
# a zombie, which `kill -0` still finds).
running() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]
}

# stop PID NAME LOG: SIGTERM, then wait up to 5 minutes for an exit with status 0.
stop() {
    local pid=$1 name=$2 log=$3 status=0
    kill -TERM "$pid"
    for _ in $(seq 3000); do
        running "$pid" || break
        sleep 0.1
    done
    if running "$pid"; then
        echo "$name did not exit within 5 minutes of SIGTERM; its log:" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    wait "$pid" || status=$?
    forget "$pid"
    if [ "$status" -ne 0 ]; then
        echo "$name exited with status $status after SIGTERM; its log:" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    echo "   $name exited cleanly after SIGTERM"
}

# start_collector DATA_DIR CONFIG LOG: starts the collector on a free port, sets
# COLLECTOR_PID and COLLECTOR_URL, and waits until it is ready.
start_collector() {
    local port
    port=$(free_port)
    "$COLLECTOR" --config "$2" --data-dir "$1" --listen "127.0.0.1:$port" >"$3" 2>&1 &
    COLLECTOR_PID=$!
    started "$COLLECTOR_PID"
    COLLECTOR_URL="http://127.0.0.1:$port"
    wait_for_url "$COLLECTOR_URL/-/ready" 300 || { tail -20 "$3" >&2; exit 1; }
}

# metric_sum URL NAME: the sum of every series of NAME on URL's /metrics.
metric_sum() {
    curl -fs "$1/metrics" | awk -v name="$2" '
        $1 == name || index($1, name "{") == 1 { sum += $NF }
        END { printf "%d\n", sum }'
}

# per_sample BYTES SAMPLES: bytes per sample with three decimals.
per_sample() {
    awk -v b="$1" -v s="$2" 'BEGIN { printf "%.3f", b / s }'
}

# mb BYTES: megabytes (10^6) with one decimal.
mb() {
    awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'
}

require_collector() {
    [ -x "$COLLECTOR" ] || {
        echo "no collector at $COLLECTOR: build it (cargo build --release -p osprey-collector)" \
            "or name one with OSPREY_COLLECTOR" >&2
        exit 1
    }
}

# node_samples_held URL TIME: the node dataset's samples a query API holds at TIME, counted
# host by host so that no one query loads more than a host's samples.
node_samples_held() {
    local total=0 host count
    for host in $(seq 0 $((HOSTS - 1))); do
        count=$(query_number "$1" \
            "sum(count_over_time({job=\"node\",instance=\"host-$host:9100\"}[$((DAYS * 24 + 2))h]))" "$2")
        [ "$count" = none ] && count=0
        total=$((total + count))
    done
    echo "$total"
}

node_mode() {
    require_tools promtool victoria-metrics curl python3 cargo du ps
    require_collector
    local hours=$((DAYS * 24)) query_time samples dataset
    query_time=$((DATASET_START_S + hours * 3600 + 60))

    echo "== dataset: $HOSTS hosts x $DAYS days at 15 s, every scrape 1-5 ms off its slot"
    dataset=$(python3 "$ROOT/tests/bench/node_dataset.py" --hosts "$HOSTS" --hours "$hours" \
        --jitter-ms 1-5 "$WORK/data.om" "$WORK/data.prom")
    echo "   $dataset"
    samples=$(echo "$dataset" | awk '{print $(NF-1)}')

    echo "== Osprey (a): osprey-collector import"
    local a_dir="$WORK/osprey-a" started_at import_seconds
    started_at=$(date +%s.%N)
    if ! "$COLLECTOR" import --data-dir "$a_dir" "$WORK/data.om" >"$WORK/import.log" 2>&1; then
        echo "the import failed:" >&2
        tail -5 "$WORK/import.log" >&2
        exit 1
    fi
    tail -1 "$WORK/import.log" | sed 's/^/   /'
    import_seconds=$(awk -v s="$started_at" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    local a_import_bytes
    a_import_bytes=$(du_bytes "$a_dir")
    echo "   ${import_seconds} s; du -sb right after the import: $a_import_bytes bytes" \
        "($(per_sample "$a_import_bytes" "$samples") bytes/sample)"

    echo "== Osprey (a): the collector runs on the imported data for ${RUN_SECONDS} s"
    printf 'scrape_configs: []\n' >"$WORK/empty.yml"
    start_collector "$a_dir" "$WORK/empty.yml" "$WORK/collector-a.log"
    sleep "$RUN_SECONDS"
    local a_held a_bytes
    a_held=$(node_samples_held "$COLLECTOR_URL" "$query_time")
    echo "   the collector holds $a_held samples (count_over_time over /api/v1/query)"
    stop "$COLLECTOR_PID" osprey-collector "$WORK/collector-a.log"
    a_bytes=$(du_bytes "$a_dir")
    echo "   du -sb after the run: $a_bytes bytes"

    echo "== Osprey (b): appended scrape by scrape with background maintenance" \
        "(cargo bench --profile $CARGO_PROFILE --bench disk_footprint)"
    local b_dir="$WORK/osprey-b" b_out b_held b_bytes
    b_out=$(cd "$ROOT" && cargo bench -q --profile "$CARGO_PROFILE" -p osprey-collector \
        --bench disk_footprint -- "$WORK/data.prom" "$b_dir")
    echo "$b_out" | sed 's/^/   /'
    b_held=$(echo "$b_out" | sed -n 's/.*the store holds \([0-9]*\) samples.*/\1/p')
    b_bytes=$(du_bytes "$b_dir")

    echo "== VictoriaMetrics: /api/v1/import/prometheus, force_flush, force_merge"
    local vm_port vm_held vm_bytes
    vm_port=$(free_port)
    vm_start "$WORK/vm" "$vm_port" "$WORK/vm.log"
    started "$VM_PID"
    vm_load "$vm_port" "$WORK/data.prom" "$WORK/vm"
    vm_held=$(node_samples_held "http://127.0.0.1:$vm_port" "$query_time")
    vm_bytes=$(du_bytes "$WORK/vm")
    echo "   VictoriaMetrics holds $vm_held samples; du -sb once stable: $vm_bytes bytes"
    stop "$VM_PID" victoria-metrics "$WORK/vm.log"

    echo "== Prometheus: promtool tsdb create-blocks-from openmetrics"
    local prom_bytes
    promtool tsdb create-blocks-from openmetrics "$WORK/data.om" "$WORK/prometheus" >/dev/null
    prom_bytes=$(du_bytes "$WORK/prometheus")
    echo "   du -sb of the blocks: $prom_bytes bytes"

    local vm_bps prom_bps a_bps b_bps
    vm_bps=$(per_sample "$vm_bytes" "$samples")
    prom_bps=$(per_sample "$prom_bytes" "$samples")
    a_bps=$(per_sample "$a_bytes" "$samples")
    b_bps=$(per_sample "$b_bytes" "$samples")
    echo
    echo "== summary: bytes per sample, du -sb of the data directory; $dataset"
    echo "   samples held: Osprey (a) $a_held, Osprey (b) ${b_held:-unknown}, VictoriaMetrics $vm_held"
    printf '%-46s %8s %16s %11s %10s\n' path Osprey VictoriaMetrics Prometheus Osprey/VM
    printf '%-46s %8s %16s %11s %10s\n' "(a) import, then the collector ${RUN_SECONDS} s" \
        "$a_bps" "$vm_bps" "$prom_bps" "$(awk -v o="$a_bps" -v v="$vm_bps" 'BEGIN { printf "%.2f", o / v }')"
    printf '%-46s %8s %16s %11s %10s\n' "(b) appended live, background maintenance" \
        "$b_bps" "$vm_bps" "$prom_bps" "$(awk -v o="$b_bps" -v v="$vm_bps" 'BEGIN { printf "%.2f", o / v }')"
    echo "   target: Osprey/VM <= 1.25. Osprey right after the import: $(per_sample "$a_import_bytes" "$samples");" \
        "Prometheus is promtool's 2-hour blocks, VictoriaMetrics its whole -storageDataPath."
    for held in "$a_held" "$vm_held" "${b_held:-0}"; do
        [ "$held" = "$samples" ] || echo "   WARNING: a store holds $held samples, not $samples"
    done
}

# scrape_twice NAME PID URL: waits until every high-cardinality target has been scraped twice
# by the server NAME (process PID) at URL.
scrape_twice() {
    local name=$1 pid=$2 url=$3 scraped
    for _ in $(seq 600); do
        running "$pid" || { echo "$name (pid $pid) exited while scraping" >&2; exit 1; }
        scraped=$(query_number "$url" \
            "count(count_over_time(scrape_samples_scraped{job=\"hc\"}[1h]) >= 2)" "$(date +%s)" \
            2>/dev/null || echo none)
        [ "$scraped" = "$HC_TARGETS" ] && return 0
        sleep 1
    done
    echo "$name did not scrape every target twice within 10 minutes" >&2
    exit 1
}

high_cardinality_mode() {
    require_tools prometheus curl python3 du ps
    require_collector
    echo "== targets: $HC_TARGETS x $HC_SERIES series (tests/bench/high_cardinality.py)"
    python3 "$ROOT/tests/bench/high_cardinality.py" serve "$WORK/ports" "$HC_TARGETS" "$HC_SERIES" \
        >"$WORK/targets.log" 2>&1 &
    started $!
    for _ in $(seq 300); do [ -s "$WORK/ports" ] && break; sleep 0.1; done
    [ -s "$WORK/ports" ] || { echo "the targets did not start:" >&2; cat "$WORK/targets.log" >&2; exit 1; }
    {
        printf 'global:\n  scrape_interval: 30s\n  scrape_timeout: 25s\n'
        printf 'scrape_configs:\n  - job_name: hc\n    static_configs:\n      - targets:\n'
        while read -r port; do printf '          - "127.0.0.1:%s"\n' "$port"; done <"$WORK/ports"
    } >"$WORK/hc.yml"

    echo "== Osprey: scrape every target twice, then SIGTERM"
    start_collector "$WORK/osprey" "$WORK/hc.yml" "$WORK/collector.log"
    scrape_twice osprey-collector "$COLLECTOR_PID" "$COLLECTOR_URL"
    local o_series o_samples o_bytes
    o_series=$(metric_sum "$COLLECTOR_URL" osprey_tsdb_series_active)
    o_samples=$(metric_sum "$COLLECTOR_URL" osprey_tsdb_samples_appended_total)
    stop "$COLLECTOR_PID" osprey-collector "$WORK/collector.log"
    o_bytes=$(du_bytes "$WORK/osprey")
    echo "   $o_series series, $o_samples samples appended; du -sb: $o_bytes bytes"

    echo "== Prometheus: scrape every target twice, then SIGTERM"
    local prom_port prom_pid prom_url p_series p_samples p_bytes
    prom_port=$(free_port)
    prometheus --config.file="$WORK/hc.yml" --storage.tsdb.path="$WORK/prometheus" \
        --web.listen-address="127.0.0.1:$prom_port" >"$WORK/prometheus.log" 2>&1 &
    prom_pid=$!
    started "$prom_pid"
    prom_url="http://127.0.0.1:$prom_port"
    wait_for_url "$prom_url/-/ready" 120
    scrape_twice prometheus "$prom_pid" "$prom_url"
    p_series=$(metric_sum "$prom_url" prometheus_tsdb_head_series)
    p_samples=$(metric_sum "$prom_url" prometheus_tsdb_head_samples_appended_total)
    stop "$prom_pid" prometheus "$WORK/prometheus.log"
    p_bytes=$(du_bytes "$WORK/prometheus")
    echo "   $p_series series, $p_samples samples appended; du -sb: $p_bytes bytes"

    local series=$((HC_TARGETS * HC_SERIES)) import_file="$WORK/hc.om"
    echo "== Osprey: osprey-collector import of $series series x $HC_IMPORT_SAMPLES samples"
    python3 "$ROOT/tests/bench/high_cardinality.py" openmetrics "$import_file" "$HC_TARGETS" \
        "$HC_SERIES" "$HC_IMPORT_SAMPLES" | sed 's/^/   /'
    local started_at status=0 import_seconds import_bytes outcome
    started_at=$(date +%s.%N)
    "$COLLECTOR" import --data-dir "$WORK/import" "$import_file" >"$WORK/hc-import.log" 2>&1 ||
        status=$?
    import_seconds=$(awk -v s="$started_at" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    import_bytes=$(du_bytes "$WORK/import")
    if [ "$status" -eq 0 ]; then
        outcome="succeeded"
        sed 's/^/   /' "$WORK/hc-import.log"
    else
        outcome="FAILED (exit status $status)"
        echo "   the import FAILED (exit status $status):"
        tail -3 "$WORK/hc-import.log" | sed 's/^/   /'
    fi
    echo "   $import_seconds s; du -sb: $import_bytes bytes"

    echo
    echo "== summary: $HC_TARGETS targets x $HC_SERIES series scraped twice, du -sb after SIGTERM"
    printf '%-12s %10s %10s %18s\n' "" MB series "samples appended"
    printf '%-12s %10s %10s %18s\n' Osprey "$(mb "$o_bytes")" "$o_series" "$o_samples"
    printf '%-12s %10s %10s %18s\n' Prometheus "$(mb "$p_bytes")" "$p_series" "$p_samples"
    echo "   Osprey / Prometheus = $(awk -v o="$o_bytes" -v p="$p_bytes" 'BEGIN { printf "%.2f", o / p }')" \
        "(target <= 1.00)"
    echo "   import of $series series x $HC_IMPORT_SAMPLES samples: $outcome in $import_seconds s," \
        "du -sb $(mb "$import_bytes") MB"
}

case "$MODE" in
node) node_mode ;;
high-cardinality) high_cardinality_mode ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
