#!/usr/bin/env python3
"""High-cardinality series shaped like a busy HTTP service's (a few metric names, one series
per path and status code, bucket, method or shard), either served by local scrape targets or
written as an OpenMetrics file with timestamps for `osprey-collector import`.

usage: high_cardinality.py serve PORTS_FILE TARGETS SERIES
       high_cardinality.py openmetrics FILE TARGETS SERIES SAMPLES

`serve` listens on TARGETS ephemeral ports of 127.0.0.1 in one process, each exposing SERIES
series whose counters grow with time, and writes the ports to PORTS_FILE once all listen.
`openmetrics` writes the series of TARGETS such targets (with the `instance` and `job` labels a
scrape adds) with SAMPLES samples each, 15 s apart.
"""

import sys
import time

import scrape_targets

FAMILIES = [
    ("hc_http_requests_total", "code",
     ["200", "201", "204", "301", "304", "400", "401", "403", "404", "500"]),
    ("hc_http_request_duration_seconds_bucket", "le",
     ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]),
    ("hc_http_response_bytes_total", "method", ["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ("hc_cache_requests_total", "result", ["hit", "miss", "stale", "expired"]),
]
START_S = 1_700_000_000
STEP_S = 15


def series(count, extra=""):
    """`count` series texts (`name{labels}`), spread evenly over the families."""
    out = []
    for k in range(count):
        name, label, values = FAMILIES[k % len(FAMILIES)]
        i = k // len(FAMILIES)
        path, value = i // len(values), values[i % len(values)]
        out.append(f'{name}{{{extra}path="/api/v1/items/{path}",{label}="{value}"}}')
    return out


def value(k, t):
    """Series k at time t: a counter that grows by 1 to 13 a second from a start of its own."""
    return (k * 7919) % 100_000 + int(t - START_S) * (k % 13 + 1)


def serve(ports_file, targets, count):
    texts = series(count)

    def page():
        now = time.time()
        return "".join(f"{text} {value(k, now)}\n" for k, text in enumerate(texts)).encode()

    scrape_targets.serve(ports_file, targets, lambda _index: page())


def openmetrics(path, targets, count, samples):
    texts = [series(count, f'instance="target-{target}:80",job="hc",') for target in range(targets)]
    with open(path, "w") as out:
        # Families must not interleave: each one's series of every target, then the next family.
        for family, (name, _, _) in enumerate(FAMILIES):
            out.write(f"# TYPE {name} unknown\n")
            for target_texts in texts:
                for k in range(family, count, len(FAMILIES)):
                    for s in range(samples):
                        t = START_S + s * STEP_S
                        out.write(f"{target_texts[k]} {value(k, t)} {t}\n")
        out.write("# EOF\n")
    print(f"{targets * count} series x {samples} samples = {targets * count * samples} samples")


if __name__ == "__main__":
    command, args = sys.argv[1] if len(sys.argv) > 1 else "", sys.argv[2:]
    if command == "serve" and len(args) == 3:
        serve(args[0], int(args[1]), int(args[2]))
    elif command == "openmetrics" and len(args) == 4:
        openmetrics(args[0], int(args[1]), int(args[2]), int(args[3]))
    else:
        sys.exit(__doc__)
