//! A deterministic node-exporter-like dataset, written as OpenMetrics text.

use std::fmt::Write;

/// First sample time, seconds (a multiple of 60).
pub const START_S: i64 = 1_700_000_040;
/// Seconds between samples.
pub const INTERVAL_S: i64 = 15;
/// Samples sit 7 s after each interval boundary, so that query times on 5 s multiples never
/// coincide with a window edge (where Prometheus 2 and 3 differ).
pub const PHASE_S: i64 = 7;
/// Samples per series.
pub const SAMPLES: i64 = 720;

/// A small pseudo-random generator, so the data is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One series: labels as written and a value per sample index (`None` for a gap).
struct SeriesData {
    name: String,
    labels: Vec<(String, String)>,
    values: Vec<Option<f64>>,
}

/// The dataset for `hosts` hosts as an OpenMetrics document.
pub fn openmetrics(hosts: usize) -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut series = Vec::new();
    for h in 0..hosts {
        let instance = format!("host-{h}:9100");
        let base = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
            let mut l = vec![
                ("instance".to_owned(), instance.clone()),
                ("job".to_owned(), "node".to_owned()),
            ];
            l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            l
        };
        // Host 1 stops reporting after two thirds of the time; host 2 restarts (counter reset).
        let alive = |i: i64| h != 1 || i < SAMPLES * 2 / 3;
        for cpu in ["0", "1"] {
            for (mode, share) in [
                ("idle", 0.7),
                ("user", 0.2),
                ("system", 0.07),
                ("iowait", 0.03),
            ] {
                let mut total = 1000.0 * rng.next();
                let values = (0..SAMPLES)
                    .map(|i| {
                        if h == 2 && i == SAMPLES / 2 {
                            total = 0.0;
                        }
                        total += INTERVAL_S as f64 * share * (0.5 + rng.next());
                        alive(i).then_some(total)
                    })
                    .collect();
                series.push(SeriesData {
                    name: "node_cpu_seconds_total".into(),
                    labels: base(&[("cpu", cpu), ("mode", mode)]),
                    values,
                });
            }
        }
        let gauge = |rng: &mut Rng, scale: f64, offset: f64| -> Vec<Option<f64>> {
            (0..SAMPLES)
                .map(|i| alive(i).then(|| offset + scale * ((i as f64 / 40.0).sin() + rng.next())))
                .collect()
        };
        let mem_total = 8e9 * (1 + h % 2) as f64;
        series.push(SeriesData {
            name: "node_load1".into(),
            labels: base(&[]),
            values: gauge(&mut rng, 1.5, h as f64 * 0.1 + 1.0),
        });
        series.push(SeriesData {
            name: "node_memory_MemTotal_bytes".into(),
            labels: base(&[]),
            values: (0..SAMPLES)
                .map(|i| alive(i).then_some(mem_total))
                .collect(),
        });
        series.push(SeriesData {
            name: "node_memory_MemAvailable_bytes".into(),
            labels: base(&[]),
            values: gauge(&mut rng, mem_total * 0.1, mem_total * 0.5),
        });
        for device in ["eth0", "lo"] {
            let mut total = 0.0;
            let values = (0..SAMPLES)
                .map(|i| {
                    total += 1e5 * rng.next();
                    alive(i).then_some(total.round())
                })
                .collect();
            series.push(SeriesData {
                name: "node_network_receive_bytes_total".into(),
                labels: base(&[("device", device)]),
                values,
            });
        }
        series.push(SeriesData {
            name: "node_filesystem_avail_bytes".into(),
            labels: base(&[
                ("mountpoint", "/"),
                ("fstype", "ext4"),
                ("device", "/dev/sda1"),
            ]),
            values: gauge(&mut rng, 1e9, 5e10),
        });
        series.push(SeriesData {
            name: "node_filesystem_size_bytes".into(),
            labels: base(&[
                ("mountpoint", "/"),
                ("fstype", "ext4"),
                ("device", "/dev/sda1"),
            ]),
            values: (0..SAMPLES).map(|i| alive(i).then_some(1e11)).collect(),
        });
        series.push(SeriesData {
            name: "up".into(),
            labels: base(&[]),
            values: (0..SAMPLES)
                .map(|i| {
                    alive(i).then_some(if h == 3 && (200..260).contains(&i) {
                        0.0
                    } else {
                        1.0
                    })
                })
                .collect(),
        });
        series.push(SeriesData {
            name: "node_uname_info".into(),
            labels: base(&[("nodename", &format!("host-{h}")), ("release", "6.1.0")]),
            values: (0..SAMPLES).map(|i| alive(i).then_some(1.0)).collect(),
        });
        let mut counts = [0.0; 4];
        let mut sum = 0.0;
        let mut bucket_values: Vec<Vec<Option<f64>>> = vec![Vec::new(); 4];
        let mut sums = Vec::new();
        for i in 0..SAMPLES {
            for _ in 0..5 {
                let latency = rng.next() * rng.next() * 2.0;
                sum += latency;
                for (b, le) in [0.1, 0.5, 1.0, f64::INFINITY].iter().enumerate() {
                    if latency <= *le {
                        counts[b] += 1.0;
                    }
                }
            }
            for b in 0..4 {
                bucket_values[b].push(alive(i).then_some(counts[b]));
            }
            sums.push(alive(i).then_some(sum));
        }
        for (b, le) in ["0.1", "0.5", "1.0", "+Inf"].iter().enumerate() {
            series.push(SeriesData {
                name: "http_request_duration_seconds_bucket".into(),
                labels: base(&[("le", le)]),
                values: bucket_values[b].clone(),
            });
        }
        series.push(SeriesData {
            name: "http_request_duration_seconds_sum".into(),
            labels: base(&[]),
            values: sums,
        });
    }
    render(&series)
}

fn render(series: &[SeriesData]) -> String {
    let mut out = String::new();
    let mut family = "";
    let mut names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    names.dedup();
    for name in names {
        for s in series.iter().filter(|s| s.name == name) {
            if family != name {
                writeln!(out, "# TYPE {name} unknown").ok();
                family = name;
            }
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            for (i, v) in s.values.iter().enumerate() {
                if let Some(v) = v {
                    let t = START_S + i as i64 * INTERVAL_S + PHASE_S;
                    writeln!(out, "{name}{{{}}} {v} {t}", labels.join(",")).ok();
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}
