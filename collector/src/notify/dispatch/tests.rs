//! Routing, grouping, timing, dedup, inhibition and silences, as Alertmanager behaves.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::Dispatcher;
use crate::notify::{
    AlertHistory, AmAlert, Content, Delivery, DeliveryQueue, Integration, NotificationLog,
    NotifyMetrics, Silence, SilenceMatcher, Silences, WebhookMessage, parse_alertmanager_config,
};
use crate::tsdb::{Storage, StorageOptions};

const SECOND: i64 = 1000;

struct Setup {
    dispatcher: Dispatcher,
    queue: Arc<DeliveryQueue>,
    silences: Arc<Silences>,
    _dir: tempfile::TempDir,
}

fn setup(config: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Storage::open(dir.path(), StorageOptions::default())
        .unwrap()
        .key_value();
    let queue =
        Arc::new(DeliveryQueue::open(store.clone(), Arc::new(NotifyMetrics::default())).unwrap());
    let silences = Arc::new(Silences::open(store.clone()).unwrap());
    let config = Arc::new(RwLock::new(Arc::new(
        parse_alertmanager_config(config).unwrap(),
    )));
    let log = NotificationLog::new(store.clone());
    let history = Arc::new(AlertHistory::open(store).unwrap());
    let dispatcher = Dispatcher::new(
        config,
        "http://c:9718".into(),
        log,
        queue.clone(),
        silences.clone(),
        history,
    );
    Setup {
        dispatcher,
        queue,
        silences,
        _dir: dir,
    }
}

impl Setup {
    /// Deliveries queued since the last call.
    fn take(&self) -> Vec<Delivery> {
        let all = self.queue.list().unwrap();
        for (id, _) in &all {
            self.queue.record(*id, None).unwrap();
        }
        all.into_iter().map(|(_, d)| d).collect()
    }
}

fn alert(pairs: &[(&str, &str)], ends_at: i64) -> AmAlert {
    AmAlert {
        labels: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        annotations: BTreeMap::new(),
        starts_at: 0,
        ends_at,
        generator_url: String::new(),
    }
}

fn webhook(delivery: &Delivery) -> WebhookMessage {
    match &delivery.content {
        Content::Webhook(body) => serde_json::from_str(body).unwrap(),
        Content::Email { .. } => panic!("not a webhook"),
    }
}

const HOUR: i64 = 3600 * SECOND;

const BOTH: &str = "global:\n  smtp_smarthost: localhost:25\n  smtp_from: a@b.c\nroute:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 4h\nreceivers:\n- name: team\n  email_configs:\n  - to: ops@example.com\n  webhook_configs:\n  - url: http://127.0.0.1:1/\n";

#[test]
fn group_wait_then_one_notification_per_group_and_destination() {
    let mut s = setup(BOTH);
    s.dispatcher.receive(
        vec![alert(&[("alertname", "Cpu"), ("instance", "a")], 10 * HOUR)],
        1000,
    );
    s.dispatcher.receive(
        vec![alert(&[("alertname", "Cpu"), ("instance", "b")], 10 * HOUR)],
        2000,
    );
    assert_eq!(s.dispatcher.flush_due(20 * SECOND), Some(31 * SECOND));
    assert!(s.take().is_empty(), "nothing before group_wait");
    s.dispatcher.flush_due(31 * SECOND);
    let sent = s.take();
    assert_eq!(sent.len(), 2, "one email, one webhook");
    assert_eq!(sent[0].integration, Integration::Email(0));
    let message = webhook(&sent[1]);
    assert_eq!(message.alerts.len(), 2, "grouped by alertname");
    assert_eq!(message.group_key, "{}:{alertname=\"Cpu\"}");
    s.dispatcher.flush_due(31 * SECOND + 5 * 60 * SECOND);
    assert!(s.take().is_empty(), "nothing new within repeat_interval");
    s.dispatcher
        .flush_due(31 * SECOND + 4 * HOUR + 5 * 60 * SECOND);
    assert_eq!(s.take().len(), 2, "repeated after repeat_interval");
}

#[test]
fn resolved_defaults_email_silent_webhook_told() {
    let mut s = setup(BOTH);
    s.dispatcher
        .receive(vec![alert(&[("alertname", "Cpu")], HOUR)], 0);
    s.dispatcher.flush_due(30 * SECOND);
    assert_eq!(s.take().len(), 2);
    s.dispatcher.receive(
        vec![alert(&[("alertname", "Cpu")], 60 * SECOND)],
        60 * SECOND,
    );
    s.dispatcher.flush_due(330 * SECOND);
    let sent = s.take();
    assert_eq!(sent.len(), 1, "email_configs default send_resolved: false");
    assert_eq!(sent[0].integration, Integration::Webhook(0));
    assert_eq!(webhook(&sent[0]).status, "resolved");
    assert_eq!(
        s.dispatcher.flush_due(HOUR),
        None,
        "a resolved group is removed"
    );
}

#[test]
fn routes_with_continue_and_group_by_all() {
    let config = "route:\n  receiver: team\n  group_wait: 0s\n  routes:\n  - matchers: ['severity=\"critical\"']\n    receiver: pager\n    group_by: ['...']\n    continue: true\n  - matchers: ['severity=~\"critical|warning\"']\n    receiver: team\nreceivers:\n- name: team\n  webhook_configs:\n  - url: http://127.0.0.1:1/\n- name: pager\n  webhook_configs:\n  - url: http://127.0.0.1:2/\n";
    let mut s = setup(config);
    s.dispatcher.receive(
        vec![
            alert(
                &[
                    ("alertname", "Down"),
                    ("instance", "a"),
                    ("severity", "critical"),
                ],
                HOUR,
            ),
            alert(
                &[
                    ("alertname", "Down"),
                    ("instance", "b"),
                    ("severity", "critical"),
                ],
                HOUR,
            ),
        ],
        0,
    );
    s.dispatcher.flush_due(0);
    let sent = s.take();
    let receivers: Vec<&str> = sent.iter().map(|d| d.receiver.as_str()).collect();
    assert_eq!(
        receivers.iter().filter(|r| **r == "pager").count(),
        2,
        "`...` groups each label set"
    );
    assert_eq!(
        receivers.iter().filter(|r| **r == "team").count(),
        1,
        "continue reached team, one group"
    );
}

#[test]
fn inhibition_mutes_targets_sharing_equal_labels() {
    let config = "route:\n  receiver: team\n  group_by: ['...']\n  group_wait: 0s\ninhibit_rules:\n- source_matchers: [severity=\"critical\"]\n  target_matchers: [severity=\"warning\"]\n  equal: [instance]\nreceivers:\n- name: team\n  webhook_configs:\n  - url: http://127.0.0.1:1/\n";
    let mut s = setup(config);
    s.dispatcher.receive(
        vec![
            alert(
                &[
                    ("alertname", "Down"),
                    ("instance", "a"),
                    ("severity", "critical"),
                ],
                HOUR,
            ),
            alert(
                &[
                    ("alertname", "Slow"),
                    ("instance", "a"),
                    ("severity", "warning"),
                ],
                HOUR,
            ),
            alert(
                &[
                    ("alertname", "Slow"),
                    ("instance", "b"),
                    ("severity", "warning"),
                ],
                HOUR,
            ),
        ],
        0,
    );
    s.dispatcher.flush_due(0);
    let mut instances: Vec<(String, String)> = s
        .take()
        .iter()
        .map(|d| {
            let labels = &webhook(d).alerts[0].labels;
            (labels["alertname"].clone(), labels["instance"].clone())
        })
        .collect();
    instances.sort();
    assert_eq!(
        instances,
        [("Down".into(), "a".into()), ("Slow".into(), "b".into())]
    );
}

#[test]
fn silences_mute_until_expired() {
    let config = "route:\n  receiver: team\n  group_wait: 0s\n  group_interval: 1m\nreceivers:\n- name: team\n  webhook_configs:\n  - url: http://127.0.0.1:1/\n";
    let mut s = setup(config);
    let id = s
        .silences
        .create(Silence {
            id: String::new(),
            matchers: vec![SilenceMatcher {
                name: "instance".into(),
                value: "a".into(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: 0,
            ends_at: HOUR,
            created_by: "ops".into(),
            comment: "maintenance".into(),
        })
        .unwrap();
    s.dispatcher.receive(
        vec![alert(&[("alertname", "Down"), ("instance", "a")], 2 * HOUR)],
        0,
    );
    s.dispatcher.flush_due(0);
    assert!(s.take().is_empty(), "silenced");
    assert_eq!(s.silences.list()[0].state(1000), "active");
    s.silences.expire(&id, 2000).unwrap();
    assert_eq!(s.silences.list()[0].state(2000), "expired");
    s.dispatcher.flush_due(61 * SECOND);
    assert_eq!(s.take().len(), 1, "sent once the silence expired");
}
