#!/usr/bin/env bash
# Bytes per sample on disk for the same node_exporter-like dataset (tests/bench/node_dataset.py)
# in Osprey's store, in Prometheus (blocks written by promtool) and in VictoriaMetrics (data
# directory after a forced flush and merge), printed side by side, plus the store's other
# benchmarks (ingest, selection, reopen) and the codec rates.
#
# usage: tests/bench/tsdb-vs-peers.sh [--size-only]     (HOSTS=3 HOURS=24 by default;
#        CARGO_PROFILE=ci builds the benchmarks without link-time optimisation)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HOSTS=${HOSTS:-3}
HOURS=${HOURS:-24}
BENCH=(cargo bench -q --profile "${CARGO_PROFILE:-bench}" -p osprey-collector)
PORT=${VM_PORT:-18428}
WORK=$(mktemp -d)
VM_PID=
cleanup() {
    [ -n "$VM_PID" ] && kill "$VM_PID" 2>/dev/null && wait "$VM_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

. "$ROOT/tests/bench/storage_peers.sh"
require_tools promtool victoria-metrics curl python3

echo "== dataset: $HOSTS hosts x ${HOURS}h at 15 s"
DATASET=$(python3 "$ROOT/tests/bench/node_dataset.py" --hosts "$HOSTS" --hours "$HOURS" \
    "$WORK/data.om" "$WORK/data.prom")
echo "$DATASET"
SAMPLES=$(echo "$DATASET" | awk '{print $(NF-1)}')

echo "== Prometheus: promtool tsdb create-blocks-from openmetrics"
promtool tsdb create-blocks-from openmetrics "$WORK/data.om" "$WORK/prometheus" >/dev/null
PROM_BYTES=$(du -sb "$WORK/prometheus" | cut -f1)

echo "== VictoriaMetrics: /api/v1/import/prometheus, force_flush, force_merge"
vm_start "$WORK/vm" "$PORT" "$WORK/vm.log"
vm_load "$PORT" "$WORK/data.prom" "$WORK/vm"
VM_COUNT=$(query_number "http://127.0.0.1:$PORT" "sum(count_over_time({job=\"node\"}[$((HOURS + 2))h]))" \
    "$((1700000000 + HOURS * 3600 + 60))")
VM_BYTES=$(du -sb "$WORK/vm" | cut -f1)
VM_DATA_BYTES=$(du -sb "$WORK/vm/data" | cut -f1)

echo "== Osprey: load through the store's appender, flush, compact"
OSPREY_OUT=$(cd "$ROOT" && "${BENCH[@]}" --bench tsdb_store -- size "$WORK/data.prom")
echo "$OSPREY_OUT"
OSPREY_BPS=$(echo "$OSPREY_OUT" | grep 'backup as written' |
    sed -E 's/.*; ([0-9.]+) bytes\/sample \(backup as written.*/\1/')

python3 - "$SAMPLES" "$PROM_BYTES" "$VM_BYTES" "$VM_DATA_BYTES" "$VM_COUNT" "$OSPREY_BPS" <<'EOF'
import sys
samples, prom, vm, vm_data, vm_count, osprey = sys.argv[1:]
samples = int(samples)
prom_bps, vm_bps, vm_data_bps = int(prom) / samples, int(vm) / samples, int(vm_data) / samples
osprey = float(osprey)
print()
print(f"bytes/sample, {samples} samples (VictoriaMetrics holds {vm_count}):")
print(f"  Prometheus (promtool blocks)            {prom_bps:6.3f}")
print(f"  VictoriaMetrics (whole storageDataPath) {vm_bps:6.3f}   (data/ only: {vm_data_bps:.3f})")
print(f"  Osprey (whole redb file)                {osprey:6.3f}")
print(f"  Osprey / VictoriaMetrics = {osprey / vm_bps:.2f}x, Osprey / Prometheus = {osprey / prom_bps:.2f}x")
EOF

if [ "${1:-}" != "--size-only" ]; then
    echo "== Osprey store: ingest, selection, reopen"
    (cd "$ROOT" && taskset -c 0 "${BENCH[@]}" --bench tsdb_store -- ingest)
    (cd "$ROOT" && "${BENCH[@]}" --bench tsdb_store -- select)
    echo "== Osprey codecs"
    (cd "$ROOT" && "${BENCH[@]}" --bench tsdb_codec)
fi
