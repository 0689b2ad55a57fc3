#!/usr/bin/env python3
"""Writes a node_exporter-like dataset: ~150 series per host (CPU, memory, network, disk,
filesystem, load, vmstat, netstat ...) scraped every 15 s with a few ms of jitter, as
counters and gauges shaped like the real ones (centisecond CPU counters, kB-granular memory,
4 KiB-granular filesystem space, integer byte and packet counters).

Each scrape lands up to 3 ms early or late (on time for one in seven); `--jitter-ms LO-HI`
makes every scrape land LO to HI ms early or late instead, never on time, as a loaded
scraper's clock does.

Two files with identical samples: OpenMetrics (seconds timestamps, for
`promtool tsdb create-blocks-from openmetrics`) and Prometheus text with millisecond
timestamps (for VictoriaMetrics' /api/v1/import/prometheus and Osprey's loader).

usage: node_dataset.py [--hosts N] [--hours H] [--jitter-ms LO-HI] OPENMETRICS_OUT PROM_OUT
"""

import argparse
import random

START_MS = 1_700_000_000_000 // 15_000 * 15_000
STEP_MS = 15_000


class Walk:
    """A bounded random walk on a grid of `unit`."""

    def __init__(self, rng, lo, hi, step, unit=1):
        self.rng, self.lo, self.hi, self.step, self.unit = rng, lo, hi, step, unit
        self.value = rng.randint(lo // unit, hi // unit) * unit

    def next(self):
        delta = self.rng.randint(-self.step, self.step) * self.unit
        self.value = min(self.hi, max(self.lo, self.value + delta))
        return self.value


def host_series(rng, host, steps):
    """Yields (name, labels, values) for one host over `steps` scrapes."""
    inst = {"instance": f"host-{host}:9100", "job": "node"}
    out = []

    def add(name, labels, values):
        out.append((name, {**inst, **labels}, values))

    # CPU: per cpu a busy fraction; counters in centiseconds (USER_HZ) shown as seconds.
    modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
    for cpu in range(4):
        busy = Walk(rng, 2, 60, 3)
        totals = {m: rng.randint(10_000, 5_000_000) for m in modes}
        series = {m: [] for m in modes}
        for _ in range(steps):
            b = busy.next() / 100
            use = {
                "user": int(1500 * b * 0.7),
                "system": int(1500 * b * 0.25),
                "iowait": rng.randint(0, 3),
                "softirq": rng.randint(0, 2),
                "irq": 0,
                "nice": 0,
                "steal": 0,
            }
            use["idle"] = 1500 - sum(use.values()) + rng.randint(-2, 2)
            for m in modes:
                totals[m] += use[m]
                series[m].append(totals[m] / 100)
        for m in modes:
            add("node_cpu_seconds_total", {"cpu": str(cpu), "mode": m}, series[m])

    # Memory gauges in bytes, kB granular.
    total_kb = 16 * 1024 * 1024
    for field, lo, hi, step in [
        ("MemFree", 500_000, 4_000_000, 800), ("MemAvailable", 4_000_000, 9_000_000, 900),
        ("Buffers", 100_000, 300_000, 40), ("Cached", 3_000_000, 6_000_000, 500),
        ("Active", 3_000_000, 7_000_000, 600), ("Inactive", 2_000_000, 5_000_000, 400),
        ("Dirty", 0, 60_000, 300), ("Writeback", 0, 200, 5), ("Slab", 300_000, 500_000, 30),
        ("SReclaimable", 200_000, 350_000, 20), ("SUnreclaim", 100_000, 150_000, 10),
        ("PageTables", 20_000, 40_000, 8), ("Shmem", 50_000, 90_000, 6),
        ("Committed_AS", 6_000_000, 12_000_000, 2000), ("Mapped", 300_000, 600_000, 60),
        ("AnonPages", 2_000_000, 5_000_000, 700), ("KernelStack", 10_000, 20_000, 4),
        ("SwapFree", 1_900_000, 2_000_000, 1),
    ]:
        walk = Walk(rng, lo, hi, step)
        add(f"node_memory_{field}_bytes", {}, [walk.next() * 1024 for _ in range(steps)])
    add("node_memory_MemTotal_bytes", {}, [total_kb * 1024] * steps)
    add("node_memory_SwapTotal_bytes", {}, [2_000_000 * 1024] * steps)

    # Load averages, two decimals, smoothed like the kernel's.
    l1, l5, l15 = [], [], []
    load = Walk(rng, 0, 400, 20)
    a5 = a15 = load.value / 100
    for _ in range(steps):
        x = load.next() / 100
        a5 += (x - a5) * 0.05
        a15 += (x - a15) * 0.017
        l1.append(round(x, 2))
        l5.append(round(a5, 2))
        l15.append(round(a15, 2))
    add("node_load1", {}, l1)
    add("node_load5", {}, l5)
    add("node_load15", {}, l15)

    def counter(rate_lo, rate_hi, start=None):
        value = start if start is not None else rng.randint(0, 10**9)
        values = []
        for _ in range(steps):
            value += rng.randint(rate_lo, rate_hi)
            values.append(value)
        return values

    for dev, scale in [("eth0", 200_000), ("lo", 20_000), ("docker0", 50_000), ("veth1a2b", 30_000)]:
        for direction in ["receive", "transmit"]:
            octets = counter(scale // 4, scale * 3)
            add(f"node_network_{direction}_bytes_total", {"device": dev}, octets)
            add(f"node_network_{direction}_packets_total", {"device": dev},
                counter(scale // 3000, scale // 200))
            add(f"node_network_{direction}_errs_total", {"device": dev}, [0] * steps)
            add(f"node_network_{direction}_drop_total", {"device": dev}, counter(0, rng.choice([0, 1])))

    for dev in ["sda", "sdb"]:
        add("node_disk_reads_completed_total", {"device": dev}, counter(0, 40))
        add("node_disk_writes_completed_total", {"device": dev}, counter(10, 300))
        add("node_disk_read_bytes_total", {"device": dev}, [v * 4096 for v in counter(0, 200)])
        add("node_disk_written_bytes_total", {"device": dev}, [v * 4096 for v in counter(20, 3000)])
        for name in ["io_time", "read_time", "write_time"]:
            add(f"node_disk_{name}_seconds_total", {"device": dev},
                [v / 1000 for v in counter(0, 900)])
        add("node_disk_io_now", {"device": dev}, [rng.choice([0, 0, 0, 1, 2]) for _ in range(steps)])

    for mount, size_gb in [("/", 100), ("/boot", 1), ("/var/lib/docker", 500), ("/run", 2)]:
        labels = {"mountpoint": mount, "fstype": "ext4", "device": f"/dev/{mount.strip('/') or 'root'}"}
        size = size_gb * 1024**3
        avail = Walk(rng, size // 10, size // 2, 50, 4096)
        avail_values = [avail.next() for _ in range(steps)]
        add("node_filesystem_size_bytes", labels, [size] * steps)
        add("node_filesystem_avail_bytes", labels, avail_values)
        add("node_filesystem_free_bytes", labels, [v + size // 20 for v in avail_values])
        add("node_filesystem_files", labels, [size_gb * 65536] * steps)
        files_free = Walk(rng, size_gb * 30000, size_gb * 60000, 5)
        add("node_filesystem_files_free", labels, [files_free.next() for _ in range(steps)])

    add("node_context_switches_total", {}, counter(20_000, 90_000))
    add("node_intr_total", {}, counter(15_000, 60_000))
    add("node_forks_total", {}, counter(10, 400))
    add("node_procs_running", {}, [rng.randint(1, 6) for _ in range(steps)])
    add("node_procs_blocked", {}, [rng.choice([0, 0, 0, 1]) for _ in range(steps)])
    add("node_boot_time_seconds", {}, [1_699_000_000] * steps)
    add("node_entropy_available_bits", {}, [rng.randint(256, 4096) for _ in range(steps)])
    for field, lo, hi in [("pgfault", 5_000, 80_000), ("pgmajfault", 0, 20), ("pswpin", 0, 0),
                          ("pswpout", 0, 0), ("pgpgin", 0, 800), ("pgpgout", 50, 12_000)]:
        add(f"node_vmstat_{field}", {}, counter(lo, hi))
    for field, lo, hi in [("TCP_inuse", 20, 200), ("TCP_tw", 0, 300), ("sockets_used", 200, 900)]:
        walk = Walk(rng, lo, hi, 5)
        add(f"node_sockstat_{field}", {}, [walk.next() for _ in range(steps)])
    for field, lo, hi in [("Tcp_ActiveOpens", 0, 60), ("Tcp_PassiveOpens", 0, 40),
                          ("Tcp_RetransSegs", 0, 5), ("Tcp_InSegs", 500, 20_000), ("Tcp_OutSegs", 500, 20_000)]:
        add(f"node_netstat_{field}", {}, counter(lo, hi))
    conntrack = Walk(rng, 100, 3000, 30)
    add("node_nf_conntrack_entries", {}, [conntrack.next() for _ in range(steps)])
    add("node_uname_info", {"release": "6.1.0-13-amd64", "nodename": f"host-{host}"}, [1] * steps)
    add("node_textfile_scrape_error", {}, [0] * steps)
    add("up", {}, [1] * steps)
    add("scrape_samples_scraped", {}, [len(out) + 3] * steps)
    return out


def jitter_range(text):
    """Parses `LO-HI` (milliseconds, 0 <= LO <= HI)."""
    lo, sep, hi = text.partition("-")
    if not sep or not lo.isdigit() or not hi.isdigit() or int(lo) > int(hi):
        raise argparse.ArgumentTypeError(f"expected LO-HI in milliseconds, got {text!r}")
    return int(lo), int(hi)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--jitter-ms", type=jitter_range, metavar="LO-HI",
                        help="every scrape LO to HI ms early or late (default: -3 to +3 ms)")
    parser.add_argument("openmetrics_out")
    parser.add_argument("prom_out")
    args = parser.parse_args()
    rng = random.Random(42)
    steps = args.hours * 3600 * 1000 // STEP_MS
    if args.jitter_ms is None:
        def jitter():
            return rng.randint(-3, 3)
    else:
        lo, hi = args.jitter_ms

        def jitter():
            return rng.choice((-1, 1)) * rng.randint(lo, hi)
    families = {}
    times = {}
    for host in range(args.hosts):
        offset = rng.randint(0, 14_000)
        times[host] = [START_MS + offset + i * STEP_MS + jitter() for i in range(steps)]
        for name, labels, values in host_series(rng, host, steps):
            families.setdefault(name, []).append((host, labels, values))
    series = sum(len(v) for v in families.values())
    with open(args.openmetrics_out, "w") as om, open(args.prom_out, "w") as prom:
        for name, members in families.items():
            om.write(f"# TYPE {name} unknown\n")
            for host, labels, values in members:
                text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                for t, v in zip(times[host], values):
                    value = repr(v) if isinstance(v, float) else str(v)
                    om.write(f"{name}{{{text}}} {value} {t // 1000}.{t % 1000:03d}\n")
                    prom.write(f"{name}{{{text}}} {value} {t}\n")
        om.write("# EOF\n")
    print(f"{series} series x {steps} samples = {series * steps} samples")


if __name__ == "__main__":
    main()
