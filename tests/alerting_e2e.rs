//! Alerting end to end with real peers: a real agent reports a container that burns a CPU,
//! the collector's rule fires, the email reaches aiosmtpd over SMTP and the webhook carries
//! Alertmanager's payload field by field; removing the container resolves the alert. A
//! `for: 1m` rule never fires on the shorter spike. Then the faults: both receivers down for
//! two minutes and the collector restarted in between, and still every notification arrives
//! once, with the alert's start unchanged.

mod alerting;

use std::time::{Duration, Instant};

use alerting::*;
use osprey::smtp::{SmtpServer, mails};
use osprey::webhook::WebhookReceiver;
use serde_json::{Value, json};

/// How long the burner runs in the first test: well under the `for: 1m` of the sustained rule.
const SPIKE: Duration = Duration::from_secs(25);
/// How long the receivers are down in the faults test.
const OUTAGE: Duration = Duration::from_secs(120);

#[test]
fn a_cpu_burning_container_fires_mails_webhooks_and_resolves() {
    let Some(docker) = peers() else {
        return;
    };
    let stack = Stack::new("osprey-alert-burner");
    let _smtp = SmtpServer::start(stack.smtp_port, &stack.maildir());
    let hook = WebhookReceiver::start(stack.hook_port);
    let collector = stack.start_collector();
    let burner = stack.start_burner(docker);
    let spike_started = Instant::now();

    let firing = wait_for_state(&collector, BURN_RULE, "firing", Duration::from_secs(60));
    let pending = wait_for_state(
        &collector,
        SUSTAINED_RULE,
        "pending",
        Duration::from_secs(10),
    );
    let body = osprey::process::wait_for("the firing webhook", Duration::from_secs(30), || {
        hook.bodies().into_iter().next()
    });
    let fired_after = spike_started.elapsed();
    let labels = json!({"alertname": BURN_RULE, "name": stack.burner_name, "severity": "warning"});
    let expected_url = format!(
        "http://127.0.0.1:{}/graph?g0.expr=sum+by+%28name%29+%28rate%28container_cpu_usage_seconds_total%7Bname%3D%22{}%22%7D%5B10s%5D%29%29+%3E+0.01&g0.tab=1",
        stack.collector_port, stack.burner_name
    );
    let annotations = &firing["annotations"];
    assert_eq!(
        annotations["summary"],
        format!("Container {} burns a CPU", stack.burner_name)
    );
    assert_webhook(&body, "firing", &labels, annotations, &expected_url, &stack);
    let alert = &body["alerts"][0];
    assert_eq!(alert["startsAt"], firing["activeAt"]);
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");

    let mail = osprey::process::wait_for("the firing email", Duration::from_secs(30), || {
        mails(&stack.maildir()).into_iter().next()
    });
    let subject_labels = format!("({} warning)", stack.burner_name);
    assert_eq!(
        mail.subject,
        format!("[FIRING:1] {BURN_RULE} {subject_labels}")
    );
    assert_eq!(mail.to, "oncall@example.com");
    assert_eq!(mail.from, "osprey@example.com");
    for part in [&mail.text, &mail.html] {
        assert!(
            part.contains(&stack.burner_name),
            "labels in the body: {part}"
        );
        assert!(
            part.contains(annotations["summary"].as_str().unwrap()),
            "annotations in the body: {part}"
        );
        assert!(part.contains("CPU use "), "annotations in the body: {part}");
    }
    assert!(
        mail.html.contains("<html") || mail.html.contains("<table"),
        "{}",
        mail.html
    );

    std::thread::sleep(SPIKE.saturating_sub(spike_started.elapsed()));
    drop(burner);
    let spike = spike_started.elapsed();
    let resolved =
        osprey::process::wait_for("the resolved webhook", Duration::from_secs(60), || {
            hook.bodies().get(1).cloned()
        });
    let resolved_after = spike_started.elapsed() - spike;
    assert_webhook(
        &resolved,
        "resolved",
        &labels,
        annotations,
        &expected_url,
        &stack,
    );
    assert_eq!(resolved["alerts"][0]["startsAt"], alert["startsAt"]);
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let mail = osprey::process::wait_for("the resolved email", Duration::from_secs(30), || {
        mails(&stack.maildir()).get(1).cloned()
    });
    assert_eq!(
        mail.subject,
        format!("[RESOLVED] {BURN_RULE} {subject_labels}")
    );

    // The sustained rule saw the same spike, stayed pending and is gone without firing.
    assert_eq!(pending["labels"]["severity"], "critical");
    osprey::process::wait_until(
        "the sustained rule's pending alert to go",
        Duration::from_secs(30),
        || alert_of(&collector, SUSTAINED_RULE).is_none(),
    );
    let fired = collector
        .api("/api/v1/query?query=count_over_time(ALERTS%7Balertname%3D%22ContainerCpuSustained%22%2Calertstate%3D%22firing%22%7D%5B10m%5D)")
        .expect("query ALERTS");
    assert_eq!(fired["result"], json!([]), "{SUSTAINED_RULE} never fired");
    std::thread::sleep(GROUP_INTERVAL * 2);
    let bodies = hook.bodies();
    assert_eq!(
        bodies.len(),
        2,
        "firing and resolved, nothing else: {bodies:#?}"
    );
    assert!(about(&bodies, SUSTAINED_RULE).is_empty());
    let subjects: Vec<String> = mails(&stack.maildir())
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    println!(
        "burner started -> firing webhook {fired_after:?}; burner removed -> resolved webhook \
         {resolved_after:?}; spike {spike:?} did not fire the for: 1m rule"
    );
}

#[test]
fn receivers_down_for_two_minutes_and_a_restart_lose_and_repeat_nothing() {
    let Some(docker) = peers() else {
        return;
    };
    let stack = Stack::new("osprey-alert-outage");
    let outage_started = Instant::now();
    let collector = stack.start_collector();
    let burner = stack.start_burner(docker);
    let before = wait_for_state(&collector, BURN_RULE, "firing", Duration::from_secs(60));
    // Delivery is being tried and failing while the receivers are down.
    osprey::process::wait_until("failed deliveries", Duration::from_secs(30), || {
        osprey::net::get(collector.port, "/metrics").is_some_and(|(_, body)| {
            body.lines().any(|l| {
                l.starts_with("osprey_notifications_total{receiver=\"ops\",result=\"retry\"}")
            })
        })
    });

    collector.stop();
    let collector = stack.start_collector();
    std::thread::sleep(Duration::from_secs(5));
    let after = wait_for_state(&collector, BURN_RULE, "firing", Duration::from_secs(30));
    assert_eq!(
        after["activeAt"], before["activeAt"],
        "firing state survived the restart"
    );

    drop(burner);
    osprey::process::wait_until("the alert to resolve", Duration::from_secs(60), || {
        alert_of(&collector, BURN_RULE).is_none()
    });
    std::thread::sleep(OUTAGE.saturating_sub(outage_started.elapsed()));
    let outage = outage_started.elapsed();
    let back = Instant::now();
    let _smtp = SmtpServer::start(stack.smtp_port, &stack.maildir());
    let hook = WebhookReceiver::start(stack.hook_port);

    let bodies = osprey::process::wait_for("both webhooks", Duration::from_secs(60), || {
        let bodies = hook.bodies();
        (bodies.len() >= 2).then_some(bodies)
    });
    let webhook_delay = back.elapsed();
    let mail_subjects = osprey::process::wait_for("both emails", Duration::from_secs(60), || {
        let subjects: Vec<String> = mails(&stack.maildir())
            .into_iter()
            .map(|m| m.subject)
            .collect();
        (subjects.len() >= 2).then_some(subjects)
    });
    let mail_delay = back.elapsed();
    // Nothing more comes in the next group intervals: no duplicate, no second first notification.
    std::thread::sleep(GROUP_INTERVAL * 3);
    let bodies_after = hook.bodies();
    assert_eq!(bodies_after, bodies, "no webhook twice");
    let statuses: Vec<&Value> = bodies.iter().map(|b| &b["status"]).collect();
    assert_eq!(statuses, ["firing", "resolved"], "{bodies:#?}");
    for body in &bodies {
        assert_eq!(
            body["alerts"][0]["startsAt"], before["activeAt"],
            "one alert, one start"
        );
    }
    let labels = format!("({} warning)", stack.burner_name);
    assert_eq!(
        mails(&stack.maildir())
            .into_iter()
            .map(|m| m.subject)
            .collect::<Vec<_>>(),
        [
            format!("[FIRING:1] {BURN_RULE} {labels}"),
            format!("[RESOLVED] {BURN_RULE} {labels}")
        ],
        "each email once: {mail_subjects:?}"
    );
    println!(
        "receivers down {outage:?} with a collector restart; after they came back: \
         webhooks in {webhook_delay:?}, emails in {mail_delay:?}"
    );
}

fn alert_annotations(body: &Value) -> Value {
    body["alerts"][0]["annotations"].clone()
}

/// Checks a webhook body against Alertmanager's version-4 schema, field by field, for one
/// alert with `labels` and `annotations`.
fn assert_webhook(
    body: &Value,
    status: &str,
    labels: &Value,
    annotations: &Value,
    generator_url: &str,
    stack: &Stack,
) {
    let fields: Vec<&String> = body.as_object().expect("a JSON object").keys().collect();
    let mut expected_fields = [
        "alerts",
        "commonAnnotations",
        "commonLabels",
        "externalURL",
        "groupKey",
        "groupLabels",
        "receiver",
        "status",
        "truncatedAlerts",
        "version",
    ];
    expected_fields.sort();
    assert_eq!(fields, expected_fields, "{body:#}");
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], status);
    assert_eq!(body["receiver"], "ops");
    assert_eq!(
        body["groupKey"],
        format!("{{}}:{{alertname=\"{BURN_RULE}\"}}")
    );
    assert_eq!(body["truncatedAlerts"], 0);
    assert_eq!(body["groupLabels"], json!({"alertname": BURN_RULE}));
    assert_eq!(&body["commonLabels"], labels);
    // One alert: its annotations are the common ones. The description holds the value, which
    // changes between evaluations.
    assert_eq!(body["commonAnnotations"], alert_annotations(body));
    assert_eq!(body["commonAnnotations"]["summary"], annotations["summary"]);
    let description = body["commonAnnotations"]["description"].as_str().unwrap();
    assert!(description.starts_with("CPU use "), "{description}");
    assert_eq!(
        body["externalURL"],
        format!("http://127.0.0.1:{}", stack.collector_port)
    );
    let alerts = body["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "{body:#}");
    let alert = &alerts[0];
    let alert_fields: Vec<&String> = alert.as_object().unwrap().keys().collect();
    assert_eq!(
        alert_fields,
        [
            "annotations",
            "endsAt",
            "fingerprint",
            "generatorURL",
            "labels",
            "startsAt",
            "status"
        ],
        "{alert:#}"
    );
    assert_eq!(alert["status"], status);
    assert_eq!(&alert["labels"], labels);
    assert_eq!(alert["generatorURL"], generator_url);
    assert_eq!(alert["fingerprint"], fingerprint(labels));
}
