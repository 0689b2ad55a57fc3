//! The shipped host and collector rules, end to end: a real agent, a collector with the
//! shipped rule files (durations scaled, see `alert_rules`), aiosmtpd and a webhook receiver.
//!
//! Real conditions: the host's CPU, memory, load and disk I/O (under per-host thresholds low
//! enough for an idle machine), a loop-mounted filesystem filled up (space, inodes, full within
//! 24 h), a target nobody answers, a job whose sample_limit the target exceeds, a rule that
//! fails to evaluate, webhooks that are down or reject, the collector's own scrape time and
//! queue. Served in the exposition format (this machine has no swap, no failing NIC, a synced
//! clock): swap filling up, network errors, clock skew. Then a reload raises the thresholds and
//! drops the faults, the filesystem is emptied and the receivers answer, and every alert is seen
//! resolved. A second test checks that a per-host threshold fires for its host only; a third
//! blocks the collector's storage writes on a full filesystem.

mod alert_rules;

use std::path::Path;
use std::time::{Duration, SystemTime};

use alert_rules::*;
use osprey::agent::start_agent;
use osprey::collector::Collector;
use osprey::net::free_port;
use osprey::smtp::SmtpServer;
use osprey::webhook::WebhookReceiver;

/// The served host's exposition: swap 90% used, the clock 5 minutes ahead and a NIC losing 10%
/// of its packets when `failing`; all healthy otherwise (error counters frozen).
fn served_host(failing: bool, started: SystemTime, errors_until: f64) -> Exposition {
    Box::new(move || {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let elapsed = started.elapsed().unwrap().as_secs_f64();
        let (swap_free, skew, errors) = match failing {
            true => (1e8, 300.0, 10.0 * elapsed),
            false => (9e8, 0.0, errors_until),
        };
        format!(
            "node_memory_SwapTotal_bytes 1e9\nnode_memory_SwapFree_bytes {swap_free}\n\
             node_time_seconds {}\n\
             node_network_receive_packets_total{{device=\"eth9\"}} {}\n\
             node_network_transmit_packets_total{{device=\"eth9\"}} {}\n\
             node_network_receive_errs_total{{device=\"eth9\"}} {errors}\n\
             node_network_transmit_errs_total{{device=\"eth9\"}} 0\n",
            now + skew,
            100.0 * elapsed,
            100.0 * elapsed
        )
    })
}

/// The host-a thresholds: low enough to fire on an idle machine, or out of reach.
fn thresholds(firing: bool) -> String {
    let (host, collector) = match firing {
        true => (
            "{HostHighCpuUsage: 0, HostCriticalCpuUsage: 0, HostHighMemoryUsage: 1, \
             HostOutOfMemory: 1, HostHighLoad: 0, HostDiskIoSaturated: 0}",
            "{CollectorScrapesSlow: 0, CollectorNotificationQueueGrowing: 0}",
        ),
        false => (
            "{HostHighCpuUsage: 1000, HostCriticalCpuUsage: 1000, HostHighMemoryUsage: 1000, \
             HostOutOfMemory: 1000, HostHighLoad: 1000, HostDiskIoSaturated: 1000}",
            "{CollectorScrapesSlow: 1000, CollectorNotificationQueueGrowing: 1000}",
        ),
    };
    format!(
        "thresholds:\n  - matchers: ['instance=\"host-a\"']\n    alerts: {host}\n\
         \x20 - matchers: ['job=\"osprey\"']\n    alerts: {collector}\n"
    )
}

/// A rule group whose rule fails at every evaluation (many series on the `group_left` side).
const BROKEN_RULES: &str = "groups:\n  - name: broken\n    rules:\n      - record: broken:vector\n        expr: vector(1) * on () group_left () up\n";

/// Fills `dir` with empty files until no inode is left.
fn use_up_inodes(dir: &Path) {
    for i in 0.. {
        if std::fs::File::create(dir.join(format!("inode-{i}"))).is_err() {
            return;
        }
    }
}

/// Appends 2 MiB to `file` (in `dir`) every 300 ms until `dir` is 97% full: a steady fall of
/// free space.
fn fill_steadily(dir: &Path, mut file: std::fs::File) {
    use std::io::Write as _;
    let chunk = vec![0x5a_u8; 2 << 20];
    loop {
        let stat = rustix::fs::statvfs(dir).unwrap();
        let used = 1.0 - stat.f_bavail as f64 / stat.f_blocks as f64;
        if used > 0.97
            || file
                .write_all(&chunk)
                .and_then(|()| file.sync_data())
                .is_err()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn host_and_collector_failures_fire_and_resolve() {
    if !osprey::smtp::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = LoopFilesystem::mount(dir.path(), 64, 64) else {
        return;
    };
    let agent = start_agent(&[]);
    let rules = scaled_rule_files(&dir.path().join("rules"));
    let broken = dir.path().join("broken.yml");
    std::fs::write(&broken, BROKEN_RULES).unwrap();
    let [
        collector_port,
        smtp_port,
        hook_port,
        dead_port,
        served_port,
        late_port,
    ] = std::array::from_fn(|_| free_port());
    let extra_webhooks = [
        format!("http://127.0.0.1:{dead_port}/"),
        format!("http://127.0.0.1:{served_port}/"),
    ];
    let config = |firing: bool| {
        let mut rule_files = rules.clone();
        let mut jobs = format!(
            "  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n\
             \x20       labels: {{instance: host-a}}\n\
             \x20 - job_name: osprey\n    static_configs:\n      - targets: ['127.0.0.1:{collector_port}']\n\
             \x20 - job_name: served\n    static_configs:\n      - targets: ['127.0.0.1:{served_port}']\n\
             \x20       labels: {{instance: served-host}}\n\
             \x20 - job_name: late\n    static_configs:\n      - targets: ['127.0.0.1:{late_port}']\n",
            agent.port
        );
        if firing {
            rule_files.push(broken.clone());
            jobs.push_str(&format!(
                "  - job_name: limited\n    sample_limit: 3\n    static_configs:\n\
                 \x20     - targets: ['127.0.0.1:{served_port}']\n"
            ));
        }
        format!(
            "{}scrape_configs:\n{jobs}{}{}",
            config_head(&rule_files),
            thresholds(firing),
            alertmanager_section(smtp_port, hook_port, &extra_webhooks)
        )
    };
    std::fs::write(dir.path().join("osprey.yml"), config(true)).unwrap();
    let started = SystemTime::now();
    let served = Served::start(served_port, served_host(true, started, 0.0));
    served.set_status(400);
    let _smtp = SmtpServer::start(smtp_port, &dir.path().join("maildir"));
    let hook = WebhookReceiver::start(hook_port);
    let collector = Collector::start(dir.path(), collector_port);
    wait_targets_up(&collector, 3);
    let fill = std::fs::File::create(disk.mountpoint.join("fill")).unwrap();
    use_up_inodes(&disk.mountpoint);
    let filling = std::thread::spawn({
        let mountpoint = disk.mountpoint.clone();
        move || fill_steadily(&mountpoint, fill)
    });

    let mountpoint = disk.mountpoint.display().to_string();
    let on_disk: &[(&str, &str)] = &[("instance", "host-a"), ("mountpoint", &mountpoint)];
    let host_a: &[(&str, &str)] = &[("instance", "host-a")];
    let served_host_labels: &[(&str, &str)] = &[("instance", "served-host")];
    let own: &[(&str, &str)] = &[("job", "osprey")];
    let ops: &[(&str, &str)] = &[("receiver", "ops")];
    let expect = |alert, labels| Expected { alert, labels };
    let expected = [
        expect("TargetDown", &[("job", "late")][..]),
        expect("HostHighCpuUsage", host_a),
        expect("HostCriticalCpuUsage", host_a),
        expect("HostHighMemoryUsage", host_a),
        expect("HostOutOfMemory", host_a),
        expect("HostHighLoad", host_a),
        expect("HostDiskIoSaturated", host_a),
        expect("HostLowDiskSpace", on_disk),
        expect("HostOutOfDiskSpace", on_disk),
        expect("HostDiskWillFillIn24Hours", on_disk),
        expect("HostLowInodes", on_disk),
        expect("HostOutOfInodes", on_disk),
        expect("HostSwapFillingUp", served_host_labels),
        expect(
            "HostNetworkErrors",
            &[("instance", "served-host"), ("device", "eth9")],
        ),
        expect("HostClockSkew", served_host_labels),
        expect("CollectorScrapeLimitHit", own),
        expect(
            "CollectorRuleEvaluationFailures",
            &[("rule_group", "broken")],
        ),
        expect("CollectorNotificationsFailing", ops),
        expect("CollectorNotificationsDropped", ops),
        expect("CollectorNotificationQueueGrowing", own),
        expect("CollectorScrapesSlow", own),
    ];
    let covered: std::collections::BTreeSet<&str> = expected.iter().map(|e| e.alert).collect();
    let listed = HOST_TEST_ALERTS.iter().copied().collect();
    assert_eq!(covered, listed, "the table and HOST_TEST_ALERTS agree");
    wait_for_all(
        &hook,
        &collector,
        &expected,
        "firing",
        Duration::from_secs(150),
    );
    filling.join().unwrap();

    // Undo every fault.
    let errors_until = 10.0 * started.elapsed().unwrap().as_secs_f64();
    served.set_exposition(served_host(false, started, errors_until));
    served.set_status(200);
    let _dead_no_more = WebhookReceiver::start(dead_port);
    let _late = Served::start(late_port, Box::new(|| "late_up 1\n".to_owned()));
    for entry in std::fs::read_dir(&disk.mountpoint).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::remove_file(path).unwrap();
        }
    }
    std::fs::write(dir.path().join("osprey.yml"), config(false)).unwrap();
    let (status, body) = collector.reload();
    assert_eq!(status, 200, "{body}");
    wait_for_all(
        &hook,
        &collector,
        &expected,
        "resolved",
        Duration::from_secs(150),
    );
}

#[test]
fn a_per_host_threshold_fires_for_its_host_only() {
    if !osprey::smtp::available() {
        return;
    }
    let (a, b) = (start_agent(&[]), start_agent(&[]));
    let dir = tempfile::tempdir().unwrap();
    let rules = scaled_rule_files(&dir.path().join("rules"));
    let (smtp_port, hook_port) = (free_port(), free_port());
    let config = |threshold: u32| {
        format!(
            "{}scrape_configs:\n  - job_name: node\n    static_configs:\n\
             \x20     - targets: ['127.0.0.1:{}']\n        labels: {{instance: host-a}}\n\
             \x20     - targets: ['127.0.0.1:{}']\n        labels: {{instance: host-b}}\n\
             thresholds:\n  - matchers: ['instance=\"host-a\"']\n    alerts: {{HostHighMemoryUsage: {threshold}}}\n{}",
            config_head(&rules),
            a.port,
            b.port,
            alertmanager_section(smtp_port, hook_port, &[])
        )
    };
    std::fs::write(dir.path().join("osprey.yml"), config(1)).unwrap();
    let _smtp = SmtpServer::start(smtp_port, &dir.path().join("maildir"));
    let hook = WebhookReceiver::start(hook_port);
    let collector = Collector::start(dir.path(), free_port());
    wait_targets_up(&collector, 2);
    let memory = osprey::net::instant_query(collector.port, "instance:node_memory_usage:percent")
        .unwrap_or_default();
    let on_a = [Expected {
        alert: "HostHighMemoryUsage",
        labels: &[("instance", "host-a")],
    }];
    wait_for_all(&hook, &collector, &on_a, "firing", Duration::from_secs(60));
    let memory_high_on = |instance: &str| {
        events(&hook).iter().any(|e| {
            e.labels["alertname"] == "HostHighMemoryUsage" && e.labels["instance"] == instance
        })
    };
    assert!(
        !memory_high_on("host-b"),
        "host-b, at the default of 85%, does not fire (memory: {memory:?})"
    );
    std::fs::write(dir.path().join("osprey.yml"), config(100)).unwrap();
    let (status, body) = collector.reload();
    assert_eq!(status, 200, "{body}");
    wait_for_all(
        &hook,
        &collector,
        &on_a,
        "resolved",
        Duration::from_secs(60),
    );
    assert!(!memory_high_on("host-b"));
}

#[test]
fn storage_writes_blocked_by_a_full_filesystem_fire_once_writes_resume() {
    if !osprey::smtp::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = LoopFilesystem::mount(dir.path(), 96, 1024) else {
        return;
    };
    let data = disk.mountpoint.join("collector");
    std::fs::create_dir_all(&data).unwrap();
    let rules = scaled_rule_files(&data.join("rules"));
    let (collector_port, smtp_port, hook_port) = (free_port(), free_port(), free_port());
    let config = format!(
        "{}storage:\n  min_free_bytes: 32MiB\nscrape_configs:\n  - job_name: osprey\n\
         \x20   static_configs:\n      - targets: ['127.0.0.1:{collector_port}']\n{}",
        config_head(&rules),
        alertmanager_section(smtp_port, hook_port, &[])
    );
    std::fs::write(data.join("osprey.yml"), config).unwrap();
    let _smtp = SmtpServer::start(smtp_port, &dir.path().join("maildir"));
    let hook = WebhookReceiver::start(hook_port);
    let collector = Collector::start(&data, collector_port);
    wait_targets_up(&collector, 1);

    let stat = rustix::fs::statvfs(&disk.mountpoint).unwrap();
    let free = stat.f_bavail * stat.f_frsize;
    let ballast = disk.mountpoint.join("ballast");
    std::fs::write(&ballast, vec![0_u8; (free - (16 << 20)) as usize]).unwrap();
    osprey::process::wait_until("writes blocked", Duration::from_secs(30), || {
        osprey::net::get(collector_port, "/metrics")
            .is_some_and(|(_, text)| text.contains("\nosprey_tsdb_writes_blocked 1\n"))
    });
    std::fs::remove_file(&ballast).unwrap();
    let expected = [Expected {
        alert: "CollectorStorageWritesBlocked",
        labels: &[("job", "osprey")],
    }];
    wait_for_all(
        &hook,
        &collector,
        &expected,
        "firing",
        Duration::from_secs(60),
    );
    wait_for_all(
        &hook,
        &collector,
        &expected,
        "resolved",
        Duration::from_secs(90),
    );
}
