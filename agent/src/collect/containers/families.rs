//! Writes the container families: cAdvisor's names and labels for the counters, `osprey_` names
//! for container state, restarts, health, Docker's availability and the image inventory.

use super::block_devices::BlockDevices;
use super::collector::{Measured, Tracked};
use super::inventory::{ContainerState, Health, Snapshot};
use super::netns::InterfaceCounters;
use super::writable_layer::LayerUsage;
use crate::expose::{Exposition, MetricType};

/// A family with one sample per running container.
struct Scalar {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    value: fn(&Measured) -> Option<f64>,
}

use MetricType::{Counter, Gauge};

#[rustfmt::skip]
const SCALARS: &[Scalar] = &[
    Scalar { name: "container_cpu_user_seconds_total", help: "Cumulative user cpu time consumed in seconds.", kind: Counter, value: |m| Some(m.cgroup.cpu_user_seconds) },
    Scalar { name: "container_cpu_system_seconds_total", help: "Cumulative system cpu time consumed in seconds.", kind: Counter, value: |m| Some(m.cgroup.cpu_system_seconds) },
    Scalar { name: "container_cpu_cfs_periods_total", help: "Number of elapsed enforcement period intervals.", kind: Counter, value: |m| throttling(m, m.cgroup.cfs_periods as f64) },
    Scalar { name: "container_cpu_cfs_throttled_periods_total", help: "Number of throttled period intervals.", kind: Counter, value: |m| throttling(m, m.cgroup.cfs_throttled_periods as f64) },
    Scalar { name: "container_cpu_cfs_throttled_seconds_total", help: "Total time duration the container has been throttled.", kind: Counter, value: |m| throttling(m, m.cgroup.cfs_throttled_seconds) },
    Scalar { name: "container_memory_max_usage_bytes", help: "Maximum memory usage recorded in bytes.", kind: Gauge, value: |m| m.cgroup.memory_max_usage_bytes.map(|bytes| bytes as f64) },
    Scalar { name: "container_memory_usage_bytes", help: "Current memory usage in bytes, including all memory regardless of when it was accessed.", kind: Gauge, value: |m| Some(m.cgroup.memory_usage_bytes as f64) },
    Scalar { name: "container_memory_working_set_bytes", help: "Current working set in bytes.", kind: Gauge, value: |m| Some(m.cgroup.memory_working_set_bytes as f64) },
    Scalar { name: "container_memory_rss", help: "Size of RSS in bytes.", kind: Gauge, value: |m| Some(m.cgroup.memory_rss_bytes as f64) },
    Scalar { name: "container_memory_cache", help: "Number of bytes of page cache memory.", kind: Gauge, value: |m| Some(m.cgroup.memory_cache_bytes as f64) },
    Scalar { name: "container_memory_mapped_file", help: "Size of memory mapped files in bytes.", kind: Gauge, value: |m| Some(m.cgroup.memory_mapped_file_bytes as f64) },
    Scalar { name: "container_memory_swap", help: "Container swap usage in bytes.", kind: Gauge, value: |m| Some(m.cgroup.memory_swap_bytes as f64) },
    Scalar { name: "container_memory_failcnt", help: "Number of memory usage hits limits.", kind: Gauge, value: |m| Some(m.cgroup.memory_failcnt as f64) },
    Scalar { name: "container_oom_events_total", help: "Count of out of memory events observed for the container.", kind: Counter, value: |m| Some(m.cgroup.oom_kills as f64) },
    Scalar { name: "container_pids", help: "Number of processes and threads in the container.", kind: Gauge, value: |m| Some(m.cgroup.pids as f64) },
    // cAdvisor writes 0 for "no limit" on cgroup v2; Osprey does so on both versions.
    Scalar { name: "container_spec_memory_limit_bytes", help: "Memory limit for the container, 0 when unlimited.", kind: Gauge, value: |m| Some(m.limits.memory_limit_bytes.unwrap_or(0) as f64) },
    Scalar { name: "container_spec_cpu_quota", help: "CPU quota of the container in microseconds per period (absent when unlimited).", kind: Gauge, value: |m| m.limits.cpu_quota_micros.map(|q| q as f64) },
    Scalar { name: "container_spec_cpu_period", help: "CPU period of the container in microseconds.", kind: Gauge, value: |m| (m.limits.cpu_period_micros > 0).then_some(m.limits.cpu_period_micros as f64) },
];

/// CFS throttling counters exist only for containers with a CPU quota (as in cAdvisor).
fn throttling(measured: &Measured, value: f64) -> Option<f64> {
    measured.limits.cpu_quota_micros.map(|_| value)
}

/// A family with one sample per interface of each running container.
struct Network {
    name: &'static str,
    help: &'static str,
    value: fn(&InterfaceCounters) -> u64,
}

#[rustfmt::skip]
const NETWORK: &[Network] = &[
    Network { name: "container_network_receive_bytes_total", help: "Cumulative count of bytes received.", value: |i| i.receive_bytes },
    Network { name: "container_network_receive_packets_total", help: "Cumulative count of packets received.", value: |i| i.receive_packets },
    Network { name: "container_network_receive_errors_total", help: "Cumulative count of errors encountered while receiving.", value: |i| i.receive_errors },
    Network { name: "container_network_receive_packets_dropped_total", help: "Cumulative count of packets dropped while receiving.", value: |i| i.receive_dropped },
    Network { name: "container_network_transmit_bytes_total", help: "Cumulative count of bytes transmitted.", value: |i| i.transmit_bytes },
    Network { name: "container_network_transmit_packets_total", help: "Cumulative count of packets transmitted.", value: |i| i.transmit_packets },
    Network { name: "container_network_transmit_errors_total", help: "Cumulative count of errors encountered while transmitting.", value: |i| i.transmit_errors },
    Network { name: "container_network_transmit_packets_dropped_total", help: "Cumulative count of packets dropped while transmitting.", value: |i| i.transmit_dropped },
];

/// A family with one sample per block device of each running container.
struct BlockIo {
    name: &'static str,
    help: &'static str,
    value: fn(&super::cgroup::DeviceIo) -> u64,
}

#[rustfmt::skip]
const BLOCK_IO: &[BlockIo] = &[
    BlockIo { name: "container_fs_reads_bytes_total", help: "Cumulative count of bytes read.", value: |d| d.read_bytes },
    BlockIo { name: "container_fs_writes_bytes_total", help: "Cumulative count of bytes written.", value: |d| d.write_bytes },
    BlockIo { name: "container_fs_reads_total", help: "Cumulative count of reads completed.", value: |d| d.reads },
    BlockIo { name: "container_fs_writes_total", help: "Cumulative count of writes completed.", value: |d| d.writes },
];

/// Writes every container family for this scrape.
pub(crate) fn write_families(
    out: &mut Exposition,
    snapshot: &Snapshot,
    rows: &[Tracked],
    devices: &mut BlockDevices,
    now: f64,
) {
    out.family(
        "osprey_docker_up",
        "Whether the agent is connected to the Docker Engine API (1) or not (0).",
        Gauge,
    )
    .sample(&[], if snapshot.docker_up { 1.0 } else { 0.0 });
    let running: Vec<(&Tracked, &Measured)> = rows
        .iter()
        .filter_map(|row| Some((row, row.measured.as_ref()?)))
        .collect();
    write_cpu_usage(out, &running);
    for scalar in SCALARS {
        write_scalar(
            out,
            &running,
            scalar.name,
            scalar.help,
            scalar.kind,
            &[],
            |_, m| (scalar.value)(m),
        );
    }
    for io in running.iter().flat_map(|(_, m)| &m.cgroup.devices) {
        devices.learn(io.major, io.minor);
    }
    for layer in running.iter().filter_map(|(_, m)| m.layer.as_ref()) {
        devices.learn(layer.device.0, layer.device.1);
    }
    let devices = &*devices;
    for block in BLOCK_IO {
        let mut family = out.family(block.name, block.help, Counter);
        for (_, measured) in &running {
            for io in &measured.cgroup.devices {
                let device = devices.name(io.major, io.minor);
                family.sample_after(
                    &measured.cadvisor_labels,
                    &[("device", device)],
                    (block.value)(io) as f64,
                );
            }
        }
    }
    for network in NETWORK {
        let mut family = out.family(network.name, network.help, Counter);
        for (_, measured) in &running {
            for interface in &measured.interfaces {
                family.sample_after(
                    &measured.cadvisor_labels,
                    &[("interface", &interface.name)],
                    (network.value)(interface) as f64,
                );
            }
        }
    }
    write_writable_layers(out, &running, devices);
    write_scalar(
        out,
        &running,
        "container_start_time_seconds",
        "Start time of the container since unix epoch in seconds.",
        Gauge,
        &[],
        |row, _| row.entry.info.started_at,
    );
    write_scalar(
        out,
        &running,
        "container_last_seen",
        "Last time a container was seen by the exporter.",
        Gauge,
        &[],
        |_, _| Some(now),
    );
    write_osprey_families(out, rows);
    write_images(out, snapshot);
}

/// `container_cpu_usage_seconds_total`: as cAdvisor, per CPU (`cpu00`, `cpu01`, ..., CPUs with
/// no usage left out) where the per-CPU figures were read, else `cpu="total"`.
fn write_cpu_usage(out: &mut Exposition, running: &[(&Tracked, &Measured)]) {
    let mut family = out.family(
        "container_cpu_usage_seconds_total",
        "Cumulative cpu time consumed in seconds.",
        Counter,
    );
    let mut label = String::with_capacity(8);
    for (_, measured) in running {
        let per_cpu = &measured.cgroup.cpu_usage_per_cpu_seconds;
        if per_cpu.is_empty() {
            let total = measured.cgroup.cpu_usage_seconds;
            family.sample_after(&measured.cadvisor_labels, &[("cpu", "total")], total);
            continue;
        }
        for (cpu, &seconds) in per_cpu.iter().enumerate() {
            if seconds > 0.0 {
                label.clear();
                label.push_str(if cpu < 10 { "cpu0" } else { "cpu" });
                label.push_str(itoa::Buffer::new().format(cpu));
                family.sample_after(&measured.cadvisor_labels, &[("cpu", &label)], seconds);
            }
        }
    }
}

/// `container_fs_usage_bytes` and `container_fs_limit_bytes` of the writable layers measured.
fn write_writable_layers(
    out: &mut Exposition,
    running: &[(&Tracked, &Measured)],
    devices: &BlockDevices,
) {
    for (name, help, value) in [
        (
            "container_fs_usage_bytes",
            "Number of bytes that are consumed by the container on this filesystem.",
            (|layer| layer.usage_bytes) as fn(&LayerUsage) -> u64,
        ),
        (
            "container_fs_limit_bytes",
            "Number of bytes that can be consumed by the container on this filesystem.",
            |layer| layer.limit_bytes,
        ),
    ] {
        let mut family = out.family(name, help, Gauge);
        for (_, measured) in running {
            if let Some(layer) = &measured.layer {
                let device = devices.name(layer.device.0, layer.device.1);
                let labels = [("device", device)];
                family.sample_after(&measured.cadvisor_labels, &labels, value(layer) as f64);
            }
        }
    }
}

/// Writes one family with a sample per running container.
#[allow(clippy::too_many_arguments)]
fn write_scalar<'r>(
    out: &mut Exposition,
    running: &[(&'r Tracked, &'r Measured)],
    name: &str,
    help: &str,
    kind: MetricType,
    extra: &[(&'r str, &'r str)],
    value: impl Fn(&Tracked, &Measured) -> Option<f64>,
) {
    let mut family = out.family(name, help, kind);
    for (row, measured) in running {
        if let Some(value) = value(row, measured) {
            family.sample_after(&measured.cadvisor_labels, extra, value);
        }
    }
}

/// State, restarts and health of every included container, running or not.
fn write_osprey_families(out: &mut Exposition, rows: &[Tracked]) {
    let mut family = out.family(
        "osprey_container_state",
        "Container state as Docker reports it: 1 for the current state, 0 for the others.",
        Gauge,
    );
    for row in rows {
        for state in ContainerState::ALL {
            let value = if row.entry.info.state == state {
                1.0
            } else {
                0.0
            };
            family.sample_after(&row.osprey_labels, &[("state", state.as_str())], value);
        }
    }
    let mut family = out.family(
        "osprey_container_restarts_total",
        "Times Docker restarted the container under its restart policy.",
        Counter,
    );
    for row in rows {
        family.sample_after(&row.osprey_labels, &[], row.entry.info.restart_count as f64);
    }
    let mut family = out.family("osprey_container_health_status", "Health check status of containers that have one: 1 for the current status, 0 for the others.", Gauge);
    for row in rows {
        let Some(health) = row.entry.info.health else {
            continue;
        };
        for status in Health::ALL {
            let value = if health == status { 1.0 } else { 0.0 };
            family.sample_after(&row.osprey_labels, &[("status", status.as_str())], value);
        }
    }
}

/// The image inventory: how many images, and each one's size per `repository:tag`.
fn write_images(out: &mut Exposition, snapshot: &Snapshot) {
    if !snapshot.docker_up {
        return;
    }
    out.family(
        "osprey_images",
        "Number of images in Docker's local store.",
        Gauge,
    )
    .sample(&[], snapshot.images.len() as f64);
    let mut family = out.family(
        "osprey_image_size_bytes",
        "Size of an image on disk, per repository and tag (<none> for an untagged image).",
        Gauge,
    );
    for image in snapshot.images.iter() {
        let size = image.size_bytes as f64;
        if image.repo_tags.is_empty() {
            family.sample(
                &[
                    ("image_id", &image.id),
                    ("image", "<none>"),
                    ("tag", "<none>"),
                ],
                size,
            );
        }
        for reference in &image.repo_tags {
            // The tag follows the last colon unless that colon belongs to a registry's port.
            let (repository, tag) = match reference.rsplit_once(':') {
                Some((repository, tag)) if !tag.contains('/') => (repository, tag),
                _ => (reference.as_str(), ""),
            };
            family.sample(
                &[("image_id", &image.id), ("image", repository), ("tag", tag)],
                size,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::cgroup::Hierarchy;
    use super::super::collector::{ContainerCollector, Settings};
    use super::super::inventory::Inventory;
    use super::super::inventory::tests::container;
    use super::super::{LabelAllowList, NamePatterns};
    use crate::collect::Collector as _;
    use crate::expose::{Exposition, Format};

    /// Scrapes one container whose init process is the fixture tree's pid.
    fn scrape_fixture(tree: &str, pid: u32) -> String {
        scrape_fixture_with(tree, pid, false)
    }

    /// Like [`scrape_fixture`], with CPU usage per CPU when `per_cpu_usage`.
    fn scrape_fixture_with(tree: &str, pid: u32, per_cpu_usage: bool) -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(tree);
        let inventory = Inventory::new();
        let mut web = container("3f4e", "web");
        web.pid = Some(pid);
        web.labels.insert("team".to_owned(), "blue".to_owned());
        inventory.replace_containers(vec![web, container("9a9a", "stopped-job")]);
        let mut stopped = container("9a9a", "stopped-job");
        stopped.pid = None;
        stopped.state = super::ContainerState::Exited;
        inventory.upsert_container(stopped);
        inventory.set_docker_up(true);
        let settings = Settings {
            hierarchy: Hierarchy::detect(&root.join("sys")),
            proc_root: root.join("proc"),
            include: NamePatterns::default(),
            exclude: NamePatterns::default(),
            labels: LabelAllowList::from(vec!["team".to_owned()]),
            per_cpu_usage,
            layers: Default::default(),
        };
        let collector = ContainerCollector::new(inventory, settings, root.join("sys"));
        let mut out = Exposition::new(Format::Text004);
        collector.collect(&mut out).unwrap();
        out.finish()
    }

    #[test]
    fn v2_fixture_scrape_has_cadvisor_names_and_labels() {
        let text = scrape_fixture("cgroup-v2", 4242);
        let id = "/system.slice/docker-3f4e1b2c9d8a7f6e5d4c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a1908aa11.scope";
        let labels =
            format!("id=\"{id}\",container_label_team=\"blue\",image=\"busybox\",name=\"web\"");
        for line in [
            format!("container_cpu_usage_seconds_total{{{labels},cpu=\"total\"}} 1813.529462"),
            format!("container_memory_working_set_bytes{{{labels}}} 63889408"),
            format!("container_memory_max_usage_bytes{{{labels}}} 83886080"),
            format!("container_spec_memory_limit_bytes{{{labels}}} 134217728"),
            format!("container_spec_cpu_quota{{{labels}}} 150000"),
            format!("container_fs_writes_bytes_total{{{labels},device=\"/dev/sdb\"}} 314773504"),
            format!(
                "container_network_receive_bytes_total{{{labels},interface=\"eth0\"}} 48213597"
            ),
            format!("container_oom_events_total{{{labels}}} 1"),
            "osprey_docker_up 1".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert!(!text.contains("interface=\"lo\""));
    }

    #[test]
    fn per_cpu_usage_replaces_the_total_on_v1_when_asked_for() {
        let labels = "id=\"/docker/e2726244f643fcd628082a5aa247420d05f75d594127d16cd05bb5e77097bece\",container_label_team=\"blue\",image=\"busybox\",name=\"web\"";
        let usage = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with("container_cpu_usage_seconds_total{"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            usage(&scrape_fixture("cgroup-v1", 19838)),
            [format!(
                "container_cpu_usage_seconds_total{{{labels},cpu=\"total\"}} 0.339095722"
            )]
        );
        assert_eq!(
            usage(&scrape_fixture_with("cgroup-v1", 19838, true)),
            [
                format!("container_cpu_usage_seconds_total{{{labels},cpu=\"cpu00\"}} 0.2"),
                format!("container_cpu_usage_seconds_total{{{labels},cpu=\"cpu01\"}} 0.139095722"),
            ]
        );
        // cgroup v2 has no per-CPU figures: the total stays.
        let v2 = usage(&scrape_fixture_with("cgroup-v2", 4242, true));
        assert!(v2.len() == 1 && v2[0].contains("cpu=\"total\""), "{v2:?}");
    }

    #[test]
    fn stopped_containers_have_state_but_no_counters() {
        let text = scrape_fixture("cgroup-v1", 19838);
        let stopped: Vec<_> = text
            .lines()
            .filter(|l| l.contains("name=\"stopped-job\""))
            .collect();
        assert!(
            stopped.iter().all(|l| l.starts_with("osprey_container_")),
            "{stopped:?}"
        );
        assert!(stopped.contains(&"osprey_container_state{container_id=\"9a9a\",image=\"busybox\",name=\"stopped-job\",state=\"exited\"} 1"));
        assert!(text.contains("container_fs_writes_bytes_total{id=\"/docker/e2726244f643fcd628082a5aa247420d05f75d594127d16cd05bb5e77097bece\",container_label_team=\"blue\",image=\"busybox\",name=\"web\",device=\"/dev/vda\"} 8404992"), "{text}");
    }
}
