//! A backup is the whole collector: restored into an empty data directory, with the same
//! configuration in another directory (as on a new machine), the built binary comes back with
//! the firing alert (same start), the silence, the alert history and the notification that was
//! still waiting for its receiver, which then gets it exactly once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ::osprey::net::{free_port, get, http, metrics, sample};
use ::osprey::process::{Running, wait_for, wait_until};
use ::osprey::webhook::WebhookReceiver;
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_osprey-collector");

const RULES: &str = "groups:\n- name: restore\n  rules:\n  - alert: AlwaysOn\n    expr: vector(1)\n    labels:\n      severity: page\n    annotations:\n      summary: always on\n";

/// The collector's configuration: one rule evaluated every second, notifications to a webhook
/// on `hook_port`, retried without waiting long.
fn config(hook_port: u16) -> String {
    format!(
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
         alertmanager:\n  route:\n    receiver: hook\n    group_wait: 0s\n    group_interval: 1s\n\
         \x20 receivers:\n  - name: hook\n    webhook_configs:\n    - url: http://127.0.0.1:{hook_port}/\n"
    )
}

/// Writes the configuration and its rule file into `dir`.
fn write_config(dir: &Path, hook_port: u16) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("osprey.yml"), config(hook_port)).unwrap();
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
}

/// The built collector on `data_dir` with the configuration in `config_dir`.
struct Collector {
    process: Running,
    port: u16,
}

impl Collector {
    fn start(config_dir: &Path, data_dir: &Path) -> Collector {
        let port = free_port();
        let mut command = Command::new(BINARY);
        command
            .arg("--config")
            .arg(config_dir.join("osprey.yml"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg(format!("--listen=127.0.0.1:{port}"));
        let log = config_dir.join("collector.log");
        let mut process = Running::spawn("osprey-collector", command, Some(&log));
        wait_until("the collector to be ready", Duration::from_secs(30), || {
            process.assert_alive();
            get(port, "/-/ready").is_some_and(|(status, _)| status == 200)
        });
        Collector { process, port }
    }

    /// The JSON answer at `path`, if it is a 200.
    fn json(&self, path: &str) -> Option<Value> {
        let (200, body) = get(self.port, path)? else {
            return None;
        };
        serde_json::from_str(&body).ok()
    }

    /// The firing `AlwaysOn` alert of `/api/v1/alerts`, once there is one.
    fn firing_alert(&self) -> Value {
        wait_for("AlwaysOn to fire", Duration::from_secs(30), || {
            let data = self.json("/api/v1/alerts")?;
            (data["data"]["alerts"].as_array()?.iter())
                .find(|a| a["labels"]["alertname"] == "AlwaysOn" && a["state"] == "firing")
                .cloned()
        })
    }

    fn silences(&self) -> Vec<Value> {
        self.json("/api/v2/silences")
            .and_then(|s| s.as_array().cloned())
            .unwrap_or_default()
    }

    fn history(&self) -> Vec<Value> {
        self.json("/api/v1/alerts/history")
            .and_then(|h| h["data"].as_array().cloned())
            .unwrap_or_default()
    }

    fn queue_length(&self) -> Option<f64> {
        sample(&metrics(self.port), "osprey_notification_queue_length")
    }

    fn retries(&self) -> f64 {
        let series = "osprey_notifications_total{receiver=\"hook\",result=\"retry\"}";
        sample(&metrics(self.port), series).unwrap_or(0.0)
    }

    /// Stops it with SIGTERM, as `backup` requires.
    fn stop(self) {
        self.process.terminate(Duration::from_secs(30));
    }
}

/// Puts the backup directory `backup` in place as the data directory `data_dir` (new).
fn restore(backup: &Path, data_dir: &Path) {
    std::fs::rename(backup, data_dir).unwrap();
}

fn backup(data_dir: &Path, dest: &Path) {
    let output = Command::new(BINARY)
        .arg("backup")
        .arg(dest)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_restored_backup_keeps_alerts_silences_history_and_queued_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let hook_port = free_port();
    let data: PathBuf = dir.path().join("data");

    let first_host = dir.path().join("first");
    write_config(&first_host, hook_port);
    let collector = Collector::start(&first_host, &data);
    let alert = collector.firing_alert();
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Maintenance", "isRegex": false}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "ana",
        "comment": "planned work",
    });
    let (status, body) = http(
        "POST",
        collector.port,
        "/api/v2/silences",
        &silence.to_string(),
    )
    .expect("the collector answers");
    assert_eq!(status, 200, "{body}");
    let silence_id = serde_json::from_str::<Value>(&body).unwrap()["silenceID"].clone();
    // The webhook is down: the notification waits in the queue and is retried.
    wait_until("a failed delivery", Duration::from_secs(30), || {
        collector.retries() >= 1.0
    });
    assert_eq!(collector.queue_length(), Some(1.0));
    let history = collector.history();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["labels"]["alertname"], "AlwaysOn");
    collector.stop();

    let copy = dir.path().join("osprey-backup");
    backup(&data, &copy);
    let restored = dir.path().join("restored");
    restore(&copy, &restored);
    std::fs::remove_dir_all(&data).unwrap();

    let second_host = dir.path().join("second");
    write_config(&second_host, hook_port);
    let hook = WebhookReceiver::start(hook_port);
    let collector = Collector::start(&second_host, &restored);
    let again = collector.firing_alert();
    assert_eq!(
        again["activeAt"], alert["activeAt"],
        "the alert kept its start"
    );
    let silences = collector.silences();
    assert_eq!(silences.len(), 1, "{silences:?}");
    assert_eq!(silences[0]["id"], silence_id);
    assert_eq!(silences[0]["comment"], "planned work");
    assert_eq!(silences[0]["status"]["state"], "active");
    let restored_history = collector.history();
    assert_eq!(restored_history.len(), 1, "{restored_history:?}");
    assert_eq!(restored_history[0]["id"], history[0]["id"]);
    assert_eq!(restored_history[0]["started_at"], history[0]["started_at"]);
    let delivered = wait_for("the queued notification", Duration::from_secs(60), || {
        hook.bodies().into_iter().next()
    });
    assert_eq!(delivered["status"], "firing");
    assert_eq!(delivered["alerts"][0]["labels"]["alertname"], "AlwaysOn");
    assert_eq!(delivered["alerts"][0]["startsAt"], alert["activeAt"]);
    // Group flushes every second: the restored notification log knows this was sent.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(hook.bodies().len(), 1, "delivered once");
    assert_eq!(collector.queue_length(), Some(0.0));
    collector.stop();
}
