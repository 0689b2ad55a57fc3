//! Alert records through the real notification pipeline and a real webhook receiver: an
//! acknowledgement stops the repeats and lets the resolved notification through; a hand resolve
//! notifies the alert resolved and holds it while its rule still reports it firing, until the
//! condition clears; the history's retention prunes resolved records when the notifier starts.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use osprey_collector::notify::{Acknowledgement, HistoryQuery, Notifier};
use osprey_collector::rules::{NotifierAlert, Notify};
use serde_json::Value;
use support::free_port;
use support::receivers::{Hook, alert, notifier, now, serve_hook};

/// How often a group may repeat a notification in these tests.
const REPEAT: Duration = Duration::from_secs(2);

fn config(port: u16) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname, instance]\n  group_wait: 0s\n  \
         group_interval: 1s\n  repeat_interval: {}s\nreceivers:\n- name: hook\n  webhook_configs:\n  \
         - url: http://127.0.0.1:{port}/\n    send_resolved: true\n",
        REPEAT.as_secs()
    )
}

/// A notifier delivering to a fresh webhook receiver, with its tasks running.
struct Pipeline {
    notifier: Notifier,
    hook: Hook,
    _server: tokio::task::JoinHandle<()>,
    _shutdown: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn pipeline() -> Pipeline {
    let port = free_port();
    let hook = Hook::default();
    let server = serve_hook(&hook, port).await;
    let dir = tempfile::tempdir().unwrap();
    let notifier = notifier(&config(port), dir.path());
    let (shutdown, watch) = tokio::sync::watch::channel(false);
    notifier.spawn(watch);
    Pipeline {
        notifier,
        hook,
        _server: server,
        _shutdown: shutdown,
        _dir: dir,
    }
}

/// Reports `alert` to the notifier every 300 ms, as a rule resends a firing alert, until the
/// returned flag is set.
fn keep_reporting(notifier: &Notifier, alert: NotifierAlert) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let (notifier, flag) = (notifier.clone(), Arc::clone(&stop));
    tokio::spawn(async move {
        while !flag.load(Ordering::SeqCst) {
            let mut report = alert.clone();
            report.ends_at = now() + 10_000;
            let notifier = notifier.clone();
            notifier.off_async(move |n| n.notify(vec![report])).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    stop
}

/// The condition cleared: the rule reports the alert resolved.
async fn report_resolved(notifier: &Notifier, alert: &NotifierAlert) {
    let mut report = alert.clone();
    report.ends_at = now();
    report.resolved = true;
    notifier.off_async(move |n| n.notify(vec![report])).await;
}

fn statuses(hook: &Hook) -> Vec<String> {
    let bodies: Vec<Value> = hook.bodies.lock().unwrap().clone();
    (bodies.iter())
        .map(|b| b["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn wait_for_count(hook: &Hook, count: usize, timeout: Duration) -> Vec<String> {
    let found = support::eventually(timeout, || (hook.count() >= count).then_some(())).await;
    assert!(
        found.is_some(),
        "{count} notifications expected, got {:?}",
        statuses(hook)
    );
    statuses(hook)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_stops_repeats_and_the_resolved_notification_still_arrives() {
    let p = pipeline().await;
    let firing = alert("web1:9100", now() + 10_000);
    let stop = keep_reporting(&p.notifier, firing.clone());
    let seen = wait_for_count(&p.hook, 2, REPEAT * 4).await;
    assert_eq!(
        seen,
        ["firing", "firing"],
        "a repeat before the acknowledgement"
    );

    let id = p.notifier.history.list(&HistoryQuery::default()).unwrap()[0].id;
    let acknowledgement = Acknowledgement {
        by: "ana".into(),
        comment: "replacing the fan".into(),
        at: now(),
        until: None,
    };
    let acknowledge = move |n: &Notifier| n.history.acknowledge(id, acknowledgement);
    p.notifier.off_async(acknowledge).await.unwrap();
    // A repeat already queued when the acknowledgement came may still arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = p.hook.count();
    tokio::time::sleep(REPEAT * 3 + Duration::from_millis(500)).await;
    assert_eq!(
        statuses(&p.hook).len(),
        before,
        "no notification for three repeat intervals while acknowledged: {:?}",
        statuses(&p.hook)
    );

    stop.store(true, Ordering::SeqCst);
    report_resolved(&p.notifier, &firing).await;
    let seen = wait_for_count(&p.hook, before + 1, Duration::from_secs(5)).await;
    assert_eq!(
        seen.last().map(String::as_str),
        Some("resolved"),
        "{seen:?}"
    );
    let record = &p.notifier.history.list(&HistoryQuery::default()).unwrap()[0];
    assert_eq!(record.resolved_by.as_deref(), Some("rule"));
    assert_eq!(record.acknowledged.as_ref().unwrap().by, "ana");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_until_a_time_lets_repeats_resume_after_it() {
    let p = pipeline().await;
    let firing = alert("web2:9100", now() + 10_000);
    let stop = keep_reporting(&p.notifier, firing.clone());
    wait_for_count(&p.hook, 1, Duration::from_secs(5)).await;
    let id = p.notifier.history.list(&HistoryQuery::default()).unwrap()[0].id;
    let until = now() + 3 * REPEAT.as_millis() as i64;
    let acknowledgement = Acknowledgement {
        by: "ana".into(),
        comment: String::new(),
        at: now(),
        until: Some(until),
    };
    let acknowledge = move |n: &Notifier| n.history.acknowledge(id, acknowledgement);
    p.notifier.off_async(acknowledge).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = p.hook.count();
    tokio::time::sleep(Duration::from_millis((until - now() - 200).max(0) as u64)).await;
    assert_eq!(p.hook.count(), before, "muted until {until}");
    let seen = wait_for_count(&p.hook, before + 1, REPEAT * 3).await;
    assert_eq!(
        seen.last().map(String::as_str),
        Some("firing"),
        "repeats resume"
    );
    stop.store(true, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolving_by_hand_holds_while_firing_and_ends_when_the_condition_clears() {
    let p = pipeline().await;
    let firing = alert("db1:9100", now() + 10_000);
    let stop = keep_reporting(&p.notifier, firing.clone());
    wait_for_count(&p.hook, 1, Duration::from_secs(5)).await;

    let resolve = |n: &Notifier| n.resolve_by_hand(&[], "ana", now());
    let resolved = p.notifier.off_async(resolve).await.unwrap();
    assert_eq!(resolved.len(), 1);
    let seen = wait_for_count(&p.hook, 2, Duration::from_secs(5)).await;
    assert_eq!(seen, ["firing", "resolved"], "told resolved at once");

    // The rule still reports it firing: held, not reopened, not notified.
    tokio::time::sleep(REPEAT * 2).await;
    assert_eq!(statuses(&p.hook), ["firing", "resolved"]);
    let records = p.notifier.history.list(&HistoryQuery::default()).unwrap();
    assert_eq!(records.len(), 1, "not reopened: {records:?}");
    assert_eq!(records[0].resolved_by.as_deref(), Some("ana"));
    assert_eq!(records[0].condition_cleared_at, None, "still held");

    stop.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    report_resolved(&p.notifier, &firing).await;
    let record = &p.notifier.history.list(&HistoryQuery::default()).unwrap()[0];
    assert!(record.condition_cleared_at.is_some(), "{record:?}");
    assert_eq!(
        record.resolved_by.as_deref(),
        Some("ana"),
        "who resolved it stays"
    );

    let again = NotifierAlert {
        starts_at: now(),
        ..firing
    };
    let stop = keep_reporting(&p.notifier, again);
    let seen = wait_for_count(&p.hook, 3, Duration::from_secs(5)).await;
    assert_eq!(
        seen[2], "firing",
        "after the condition cleared, a new firing is notified"
    );
    assert_eq!(
        p.notifier
            .history
            .list(&HistoryQuery::default())
            .unwrap()
            .len(),
        2,
        "and recorded anew"
    );
    stop.store(true, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_retention_prunes_resolved_records_when_the_notifier_starts() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(free_port());
    {
        let notifier = notifier(&config, dir.path());
        let old = alert("old:9100", now() + 10_000);
        notifier.notify(vec![old.clone(), alert("open:9100", now() + 10_000)]);
        notifier.notify(vec![NotifierAlert {
            ends_at: now(),
            resolved: true,
            ..old
        }]);
        assert_eq!(
            notifier
                .history
                .list(&HistoryQuery::default())
                .unwrap()
                .len(),
            2
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let notifier = notifier(&config, dir.path());
    notifier.history.set_retention(Duration::from_millis(10));
    let (_shutdown, watch) = tokio::sync::watch::channel(false);
    notifier.spawn(watch);
    let pruned = support::eventually(Duration::from_secs(5), || {
        let records = notifier.history.list(&HistoryQuery::default()).unwrap();
        (records.len() == 1).then_some(records)
    })
    .await
    .expect("the resolved record pruned");
    assert_eq!(
        pruned[0].labels["instance"], "open:9100",
        "open records stay"
    );
}
