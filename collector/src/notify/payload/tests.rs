//! Fingerprints from prometheus/common's own tests; subject and payload shape from
//! Alertmanager's default template and webhook documentation.

use std::collections::BTreeMap;

use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn fingerprints_match_prometheus_common() {
    assert_eq!(fingerprint(&BTreeMap::new()), 14695981039346656037);
    let labels = map(&[("name", "garland, briggs"), ("fear", "love is not enough")]);
    assert_eq!(fingerprint(&labels), 5799056148416392346);
    let labels = map(&[
        ("first-label", "first-label-value"),
        ("second-label", "second-label-value"),
    ]);
    assert_eq!(fingerprint(&labels), 3195800080984914717);
}

fn alert(instance: &str, severity: &str, ends_at: i64) -> AmAlert {
    AmAlert {
        labels: map(&[
            ("alertname", "HighCpu"),
            ("instance", instance),
            ("job", "node"),
            ("severity", severity),
        ]),
        annotations: map(&[("summary", "CPU high")]),
        starts_at: 1_700_000_000_000,
        ends_at,
        generator_url: "http://collector:9718/graph?g0.expr=up&g0.tab=1".to_owned(),
    }
}

#[test]
fn webhook_message_follows_version_4() {
    let now = 1_700_000_100_000;
    let mut alerts = vec![
        alert("b", "warning", now - 1000),
        alert("a", "warning", now + 60_000),
    ];
    sort_alerts(&mut alerts);
    let group_labels = map(&[("alertname", "HighCpu")]);
    let notice = GroupNotice {
        receiver: "ops",
        group_key: "{}:{alertname=\"HighCpu\"}",
        group_labels: &group_labels,
        alerts: &alerts,
        external_url: "http://collector:9718",
        now,
    };
    let json = serde_json::to_value(notice.webhook(0)).unwrap();
    assert_eq!(json["version"], "4");
    assert_eq!(json["status"], "firing");
    assert_eq!(json["receiver"], "ops");
    assert_eq!(json["groupKey"], "{}:{alertname=\"HighCpu\"}");
    assert_eq!(json["truncatedAlerts"], 0);
    assert_eq!(json["externalURL"], "http://collector:9718");
    assert_eq!(
        json["groupLabels"],
        serde_json::json!({"alertname": "HighCpu"})
    );
    assert_eq!(
        json["commonLabels"],
        serde_json::json!({"alertname": "HighCpu", "job": "node", "severity": "warning"})
    );
    assert_eq!(
        json["commonAnnotations"],
        serde_json::json!({"summary": "CPU high"})
    );
    let first = &json["alerts"][0];
    assert_eq!(
        first["labels"]["instance"], "a",
        "sorted by job, then instance"
    );
    assert_eq!(first["status"], "firing");
    assert_eq!(
        first["endsAt"], "0001-01-01T00:00:00Z",
        "a firing alert's end is hidden"
    );
    assert_eq!(first["startsAt"], "2023-11-14T22:13:20Z");
    assert_eq!(
        first["generatorURL"],
        "http://collector:9718/graph?g0.expr=up&g0.tab=1"
    );
    assert_eq!(first["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(json["alerts"][1]["status"], "resolved");
    assert_eq!(json["alerts"][1]["endsAt"], "2023-11-14T22:14:59Z");
    let truncated = serde_json::to_value(notice.webhook(1)).unwrap();
    assert_eq!(truncated["truncatedAlerts"], 1);
    assert_eq!(truncated["alerts"].as_array().unwrap().len(), 1);
}

#[test]
fn subject_follows_alertmanagers_default_template() {
    let now = 1_700_000_100_000;
    let alerts = vec![
        alert("a", "warning", now + 60_000),
        alert("b", "warning", now + 60_000),
    ];
    let group_labels = map(&[("alertname", "HighCpu")]);
    let notice = GroupNotice {
        receiver: "ops",
        group_key: "k",
        group_labels: &group_labels,
        alerts: &alerts,
        external_url: "http://collector:9718",
        now,
    };
    assert_eq!(notice.subject(), "[FIRING:2] HighCpu (node warning)");
    let resolved = vec![alert("a", "warning", now - 1)];
    let notice = GroupNotice {
        alerts: &resolved,
        ..notice
    };
    assert_eq!(notice.subject(), "[RESOLVED] HighCpu (a node warning)");
    let body = notice.text_body();
    assert!(
        body.contains("instance = a") && body.contains("summary = CPU high"),
        "{body}"
    );
    assert!(body.contains("Started: 2023-11-14T22:13:20Z"), "{body}");
    assert!(
        notice
            .html_body()
            .contains("<a href=\"http://collector:9718/graph?g0.expr=up&amp;g0.tab=1\">")
    );
}
