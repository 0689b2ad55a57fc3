//! The agent's numbers agree with what the kernel reports through other paths.

use osprey::agent::start_agent;
use osprey::host::mem_total_bytes;
use osprey::net::{metrics, sample};

#[test]
fn cpu_count_matches_the_online_processors() {
    let agent = start_agent(&[]);
    let metrics = metrics(agent.port);
    let cpus: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("node_cpu_seconds_total{") && l.contains("mode=\"idle\""))
        .filter_map(|l| l.split("cpu=\"").nth(1)?.split('"').next())
        .collect();
    // SAFETY: sysconf only reads a value from the C library.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    assert_eq!(cpus.len() as i64, online, "{cpus:?}");
}

#[test]
fn memtotal_matches_proc_meminfo() {
    let agent = start_agent(&[]);
    let metrics = metrics(agent.port);
    assert_eq!(
        sample(&metrics, "node_memory_MemTotal_bytes"),
        Some(mem_total_bytes())
    );
}

#[test]
fn root_filesystem_size_and_inodes_match_statvfs() {
    let agent = start_agent(&[]);
    let metrics = metrics(agent.port);
    let stat = rustix::fs::statvfs("/").unwrap();
    let root_series = |name: &str| {
        metrics.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix('{')?;
            let (labels, value) = rest.split_once("} ")?;
            labels
                .contains("mountpoint=\"/\"")
                .then(|| value.parse::<f64>().ok())?
        })
    };
    let size = root_series("node_filesystem_size_bytes").expect("a series for /");
    assert_eq!(size, stat.f_blocks as f64 * stat.f_bsize as f64);
    let files = root_series("node_filesystem_files").expect("a series for /");
    assert_eq!(files, stat.f_files as f64);
}

/// Received bytes of the loopback device in /proc/net/dev.
fn loopback_received_bytes() -> f64 {
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    dev.lines()
        .find_map(|l| l.trim_start().strip_prefix("lo:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|bytes| bytes.parse().ok())
        .expect("lo in /proc/net/dev")
}

#[test]
fn loopback_receive_counter_lies_between_two_kernel_readings() {
    let agent = start_agent(&[]);
    let before = loopback_received_bytes();
    let metrics = metrics(agent.port);
    let after = loopback_received_bytes();
    let ours = sample(&metrics, "node_network_receive_bytes_total{device=\"lo\"}").expect("lo");
    assert!(
        before <= ours && ours <= after,
        "{before} <= {ours} <= {after}"
    );
    // The scrape itself crossed the loopback device, so the counter moved: the test can fail.
    assert!(after > before);
}
