//! Receivers that are down or failing: every notification arrives once they are back, also
//! across a restart of the notifier, never twice within a group interval; 5xx is retried, 4xx
//! is not.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use osprey_collector::notify::AttemptResult;
use osprey_collector::rules::Notify;
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
