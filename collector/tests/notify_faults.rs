//! Receivers that are down or failing: every notification arrives once they are back, also
//! across a restart of the notifier and on a full disk, never twice within a group interval;
//! 5xx is retried, 4xx is not.

mod support;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use osprey_collector::notify::{
    AttemptResult, Notifier, Silence, SilenceMatcher, parse_alertmanager_config,
};
use osprey_collector::rules::Notify;
use osprey_collector::tsdb::{Storage, StorageOptions};
use support::receivers::*;
use support::{eventually, free_port};

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_down_gets_the_notification_after_a_restart_once() {
    let dir = tempfile::tempdir().unwrap();
    let hook_port = free_port();
    let config = format!(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n"
    );
    let firing = alert("host3:9100", now() + 600_000);
    {
        let notifier = notifier(&config, dir.path());
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let tasks = notifier.spawn(shutdown);
        notifier.notify(vec![firing.clone()]);
        let retried = eventually(Duration::from_secs(10), || {
            (notifier.metrics.attempts("hook", AttemptResult::Retry) >= 2).then_some(())
        })
        .await;
        assert!(retried.is_some(), "connection failures are retried");
        // The group is flushed again every second; nothing new, so nothing more is queued.
        assert_eq!(notifier.metrics.queue_length(), 1);
        stop.send(true).unwrap();
        for task in tasks {
            task.await.unwrap();
        }
    }
    let hook = Hook::default();
    let _server = serve_hook(&hook, hook_port).await;
    let notifier = notifier(&config, dir.path());
    assert_eq!(
        notifier.metrics.queue_length(),
        1,
        "the queue survived the restart"
    );
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    // The rules hand the still-firing alert over again after the restart.
    notifier.notify(vec![firing]);
    let delivered = eventually(Duration::from_secs(10), || hook.body(0)).await;
    assert_eq!(
        delivered.expect("delivered after the restart")["status"],
        "firing"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(hook.count(), 1, "delivered exactly once");
    assert_eq!(notifier.metrics.queue_length(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_client_errors_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::default();
    hook.status.store(503, Ordering::SeqCst);
    let hook_port = free_port();
    let _server = serve_hook(&hook, hook_port).await;
    let config = format!(
        "route:\n  receiver: hook\n  group_by: [instance]\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n"
    );
    let notifier = notifier(&config, dir.path());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    notifier.notify(vec![alert("a:9100", now() + 600_000)]);
    eventually(Duration::from_secs(5), || {
        (!hook.authorizations.lock().unwrap().is_empty()).then_some(())
    })
    .await
    .expect("first attempt");
    hook.status.store(200, Ordering::SeqCst);
    eventually(Duration::from_secs(10), || hook.body(0))
        .await
        .expect("delivered after a 503");
    assert!(notifier.metrics.attempts("hook", AttemptResult::Retry) >= 1);

    hook.status.store(400, Ordering::SeqCst);
    notifier.notify(vec![alert("b:9100", now() + 600_000)]);
    eventually(Duration::from_secs(5), || {
        (notifier.metrics.attempts("hook", AttemptResult::Failed) == 1).then_some(())
    })
    .await
    .expect("a 400 is given up at once");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        notifier.metrics.attempts("hook", AttemptResult::Failed),
        1,
        "no retry after 4xx"
    );
    assert_eq!(notifier.metrics.queue_length(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_server_down_gets_the_email_once_it_is_back() {
    if !smtp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "global:\n  smtp_smarthost: 127.0.0.1:{port}\n  smtp_from: osprey@example.com\n  smtp_require_tls: false\n\
         route:\n  receiver: mail\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: mail\n  email_configs:\n  - to: oncall@example.com\n"
    );
    let notifier = notifier(&config, dir.path());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    notifier.notify(vec![alert("host4:9100", now() + 600_000)]);
    let retried = eventually(Duration::from_secs(10), || {
        (notifier.metrics.attempts("mail", AttemptResult::Retry) >= 1).then_some(())
    })
    .await;
    assert!(retried.is_some(), "a refused SMTP connection is retried");
    let smtp = smtp_server_on(dir.path(), port, None).await;
    let mail = eventually(Duration::from_secs(15), || mails(&smtp).into_iter().next()).await;
    assert!(
        header(&mail.expect("email after the server came back"), "Subject")
            .unwrap()
            .starts_with("[FIRING:1]")
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(mails(&smtp).len(), 1, "sent once");
}

/// A notifier on a store in `dir` that refuses writes unless `min_free_bytes` are free.
fn notifier_keeping_free(config: &str, dir: &Path, min_free_bytes: u64) -> Notifier {
    let options = StorageOptions {
        min_free_bytes: Some(min_free_bytes),
        ..StorageOptions::default()
    };
    let storage = Storage::open(dir, options).unwrap();
    let notifications = parse_alertmanager_config(config).unwrap();
    Notifier::open(notifications, storage.key_value(), "http://collector:9718/").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_keeps_the_queued_notification_and_sends_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let hook_port = free_port();
    let config = format!(
        "route:\n  receiver: hook\n  group_by: [instance]\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n"
    );
    {
        let notifier = notifier_keeping_free(&config, dir.path(), 0);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let tasks = notifier.spawn(shutdown);
        notifier.notify(vec![alert("queued:9100", now() + 600_000)]);
        eventually(Duration::from_secs(10), || {
            (notifier.metrics.attempts("hook", AttemptResult::Retry) >= 1).then_some(())
        })
        .await
        .expect("the receiver is down");
        stop.send(true).unwrap();
        for task in tasks {
            task.await.unwrap();
        }
    }

    // The disk is full from here on: every write is refused.
    let notifier = notifier_keeping_free(&config, dir.path(), u64::MAX);
    assert_eq!(
        notifier.metrics.queue_length(),
        1,
        "the queue opens as it was"
    );
    let silence = Silence {
        id: String::new(),
        matchers: vec![SilenceMatcher {
            name: "instance".to_owned(),
            value: "queued:9100".to_owned(),
            is_regex: false,
            is_equal: true,
        }],
        starts_at: 0,
        ends_at: i64::MAX / 2,
        created_by: "ana".to_owned(),
        comment: String::new(),
    };
    let refused = notifier.silences.create(silence).unwrap_err().to_string();
    assert!(
        refused.contains("disk full") && refused.contains("storage.min_free_bytes"),
        "a clear error: {refused}"
    );
    assert!(notifier.silences.list().is_empty());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    // Cannot be queued: it stays in its group, tried again at each flush.
    notifier.notify(vec![alert("new:9100", now() + 600_000)]);
    let hook = Hook::default();
    let _server = serve_hook(&hook, hook_port).await;
    let delivered = eventually(Duration::from_secs(15), || hook.body(0))
        .await
        .expect("the queued notification is delivered on a full disk");
    assert_eq!(delivered["commonLabels"]["instance"], "queued:9100");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        hook.count(),
        1,
        "sent once, although the disk refused to remove it from the queue"
    );
}
