//! Notifications reach real receivers: an SMTP server (Debian's python3-aiosmtpd, plain and
//! STARTTLS) and an HTTP webhook receiver, driven by the notifier and by rule evaluations.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use osprey_collector::labels::Labels;
use osprey_collector::notify::AttemptResult;
use osprey_collector::rules::{Notify, RuleDeps, RuleManager, parse_rule_file};
use osprey_collector::tsdb::MemoryStorage;
use support::receivers::*;
use support::{eventually, free_port, peer_present};

#[tokio::test(flavor = "multi_thread")]
async fn firing_and_resolved_reach_smtp_and_webhook() {
    if !smtp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = smtp_server(dir.path(), None).await;
    let hook = Hook::default();
    let hook_port = free_port();
    let _server = serve_hook(&hook, hook_port).await;
    let config = format!(
        "route:\n  receiver: ops\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n- name: ops\n  email_configs:\n  - to: oncall@example.com\n    from: osprey@example.com\n    smarthost: 127.0.0.1:{}\n    require_tls: false\n    send_resolved: true\n  \
         webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n    http_config:\n      authorization:\n        credentials: t0ken\n",
        smtp.port
    );
    let notifier = notifier(&config, dir.path());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let tasks = notifier.spawn(shutdown);

    notifier.notify(vec![alert("host1:9100", now() + 240_000)]);
    let firing = eventually(Duration::from_secs(10), || hook.body(0))
        .await
        .expect("webhook received");
    assert_eq!(firing["version"], "4");
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["receiver"], "ops");
    assert_eq!(firing["groupKey"], "{}:{alertname=\"HighCpu\"}");
    assert_eq!(firing["truncatedAlerts"], 0);
    assert_eq!(
        firing["groupLabels"],
        serde_json::json!({"alertname": "HighCpu"})
    );
    assert_eq!(firing["commonLabels"]["instance"], "host1:9100");
    assert_eq!(
        firing["commonAnnotations"]["summary"],
        "CPU high on host1:9100"
    );
    assert_eq!(firing["externalURL"], "http://collector:9718");
    let first = &firing["alerts"][0];
    assert_eq!(first["status"], "firing");
    assert_eq!(first["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        first["generatorURL"],
        "http://collector:9718/graph?g0.expr=cpu+%3E+80&g0.tab=1"
    );
    // 16 hex digits; the algorithm itself is checked against prometheus/common in unit tests.
    assert_eq!(first["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(hook.authorizations.lock().unwrap()[0], "Bearer t0ken");

    let mail = eventually(Duration::from_secs(10), || mails(&smtp).into_iter().next())
        .await
        .expect("email received");
    assert_eq!(
        header(&mail, "Subject"),
        Some("[FIRING:1] HighCpu (host1:9100 node warning)")
    );
    assert_eq!(header(&mail, "To"), Some("oncall@example.com"));
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("text/html"), "{mail}");
    assert!(mail.contains("instance = host1:9100"), "{mail}");

    notifier.notify(vec![alert("host1:9100", now() - 1000)]);
    let resolved = eventually(Duration::from_secs(10), || hook.body(1))
        .await
        .expect("resolved webhook");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    let mail = eventually(Duration::from_secs(10), || mails(&smtp).get(1).cloned())
        .await
        .expect("resolved email");
    assert!(
        header(&mail, "Subject")
            .unwrap()
            .starts_with("[RESOLVED] HighCpu"),
        "{mail}"
    );
    assert_eq!(notifier.metrics.attempts("ops", AttemptResult::Success), 4);
    stop.send(true).unwrap();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn email_uses_starttls_with_a_private_ca() {
    if !smtp_available() || !peer_present("openssl", &["version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certificates(dir.path());
    let smtp = smtp_server(dir.path(), Some((&cert, &key))).await;
    let config = format!(
        "global:\n  smtp_smarthost: 127.0.0.1:{}\n  smtp_from: osprey@example.com\n\
         route:\n  receiver: ops\n  group_wait: 0s\n\
         receivers:\n- name: ops\n  email_configs:\n  - to: a@example.com, b@example.com\n    tls_config:\n      ca_file: {}\n      server_name: localhost\n",
        smtp.port,
        ca.display()
    );
    let notifier = notifier(&config, dir.path());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    notifier.notify(vec![alert("host2:9100", now() + 240_000)]);
    let mail = eventually(Duration::from_secs(15), || mails(&smtp).into_iter().next())
        .await
        .expect("email over STARTTLS received");
    assert_eq!(header(&mail, "To"), Some("a@example.com, b@example.com"));
    assert!(
        header(&mail, "Subject").unwrap().starts_with("[FIRING:1] "),
        "{mail}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_evaluations_drive_firing_and_resolved_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::default();
    let hook_port = free_port();
    let _server = serve_hook(&hook, hook_port).await;
    let config = format!(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n"
    );
    let notifier = notifier(&config, dir.path());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    let cpu: Arc<Mutex<Vec<(Labels, f64)>>> = Arc::default();
    let answer = cpu.clone();
    let rules = "groups:\n- name: host\n  rules:\n  - alert: HostHighCpuUsage\n    expr: cpu > 80\n    for: 2s\n    labels:\n      severity: warning\n    annotations:\n      summary: 'CPU {{ $value | printf \"%.1f\" }}% on {{ $labels.instance }}'\n";
    let deps = RuleDeps {
        query: Arc::new(move |_: &str, _: i64| Ok(answer.lock().unwrap().clone())),
        storage: Arc::new(MemoryStorage::new()),
        notify: Arc::new(notifier.clone()),
        state_store: None,
        external_labels: Default::default(),
        external_url: "http://collector:9718".to_owned(),
        resend_delay: Duration::from_secs(60),
        thresholds: Default::default(),
    };
    let groups = parse_rule_file(Path::new("host.yml"), rules).unwrap();
    let manager = RuleManager::new(groups, Duration::from_secs(1), deps);
    let busy = (
        Labels::from_pairs([("__name__", "cpu"), ("instance", "web1:9100")]),
        97.25,
    );

    // A spike shorter than `for` never notifies.
    *cpu.lock().unwrap() = vec![busy.clone()];
    manager.evaluate_all(now());
    cpu.lock().unwrap().clear();
    manager.evaluate_all(now() + 1000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.count(), 0);

    *cpu.lock().unwrap() = vec![busy];
    let start = now();
    manager.evaluate_all(start);
    manager.evaluate_all(start + 2000);
    let firing = eventually(Duration::from_secs(10), || hook.body(0))
        .await
        .expect("firing webhook");
    assert_eq!(
        firing["alerts"][0]["labels"]["alertname"],
        "HostHighCpuUsage"
    );
    assert_eq!(
        firing["alerts"][0]["annotations"]["summary"],
        "CPU 97.2% on web1:9100"
    );
    cpu.lock().unwrap().clear();
    manager.evaluate_all(start + 3000);
    let resolved = eventually(Duration::from_secs(10), || hook.body(1))
        .await
        .expect("resolved webhook");
    assert_eq!(resolved["status"], "resolved");
    let history = notifier.history.list(&Default::default()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].resolved_by.as_deref(), Some("rule"));
}
