//! Alertmanager configuration validation agrees with Debian's `amtool check-config` on valid
//! and broken configurations, message for message where the message is Alertmanager's own.

use std::path::Path;
use std::process::Command;

use osprey_collector::notify::load_alertmanager_file;

mod support;

use support::peer_present;

fn amtool_present() -> bool {
    peer_present("amtool", &["--version"])
}

/// amtool's verdict and, on failure, its message (after `FAILED: `).
fn amtool_verdict(path: &Path) -> (bool, String) {
    let output = Command::new("amtool")
        .arg("check-config")
        .arg(path)
        .output()
        .expect("run amtool");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let message = stdout
        .split_once("FAILED: ")
        .map(|(_, m)| m.lines().next().unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    (output.status.success(), message)
}

const BASE_RECEIVERS: &str = "receivers:\n- name: team\n  email_configs:\n  - to: ops@example.com\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:5001/\n";
const GLOBAL: &str =
    "global:\n  smtp_smarthost: 'localhost:25'\n  smtp_from: 'osprey@example.com'\n";

/// (name, configuration, whether the message must match amtool's word for word).
fn cases() -> Vec<(&'static str, String, bool)> {
    let ok_route = "route:\n  receiver: team\n";
    vec![
        ("valid_full", format!("{GLOBAL}route:\n  receiver: team\n  group_by: ['alertname', 'instance']\n  group_wait: 10s\n  group_interval: 1m\n  repeat_interval: 3h\n  routes:\n  - matchers: ['severity=\"critical\"', 'job=~\"node.*\"']\n    receiver: hook\n    continue: true\n  - match:\n      team: db\n    match_re:\n      service: '^(mysql|pg)$'\n    receiver: team\n    group_by: ['...']\ninhibit_rules:\n- source_matchers: [severity=\"critical\"]\n  target_matchers: [severity=\"warning\"]\n  equal: [instance]\ntemplates: ['/etc/alertmanager/*.tmpl']\n{BASE_RECEIVERS}"), true),
        ("valid_webhook_auth", "route:\n  receiver: hook\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: https://hooks.example.com/x\n    send_resolved: false\n    max_alerts: 10\n    http_config:\n      authorization:\n        credentials: s3cret\n- name: basic\n  webhook_configs:\n  - url: http://127.0.0.1:9/\n    http_config:\n      basic_auth:\n        username: u\n        password: p\n".to_owned(), true),
        ("valid_email_own_settings", "route:\n  receiver: mail\nreceivers:\n- name: mail\n  email_configs:\n  - to: a@example.com\n    from: b@example.com\n    smarthost: smtp.example.com:465\n    auth_username: u\n    auth_password_file: /etc/pw\n    require_tls: false\n    tls_config:\n      insecure_skip_verify: true\n".to_owned(), true),
        ("valid_other_integration", "route:\n  receiver: chat\nreceivers:\n- name: chat\n  slack_configs:\n  - api_url: https://hooks.slack.com/services/x\n    channel: '#ops'\n".to_owned(), true),
        ("undefined_receiver", format!("{GLOBAL}route:\n  receiver: nope\n{BASE_RECEIVERS}"), true),
        ("undefined_child_receiver", format!("{GLOBAL}route:\n  receiver: team\n  routes:\n  - receiver: ghost\n{BASE_RECEIVERS}"), true),
        ("no_smarthost", "route:\n  receiver: team\nreceivers:\n- name: team\n  email_configs:\n  - to: x@example.com\n".to_owned(), true),
        ("no_from", "global:\n  smtp_smarthost: 'localhost:25'\nroute:\n  receiver: team\nreceivers:\n- name: team\n  email_configs:\n  - to: x@example.com\n".to_owned(), true),
        ("missing_to", format!("{GLOBAL}{ok_route}receivers:\n- name: team\n  email_configs:\n  - from: x@example.com\n"), true),
        ("unknown_field", format!("{GLOBAL}route:\n  receiver: team\n  bogus: 1\n{BASE_RECEIVERS}"), false),
        ("no_route", BASE_RECEIVERS.to_owned(), true),
        ("root_without_receiver", format!("{GLOBAL}route:\n  group_by: [a]\n{BASE_RECEIVERS}"), true),
        ("root_with_matchers", format!("{GLOBAL}route:\n  receiver: team\n  matchers: ['a=\"b\"']\n{BASE_RECEIVERS}"), true),
        ("duplicate_receiver", format!("{GLOBAL}{ok_route}receivers:\n- name: team\n- name: team\n"), true),
        ("receiver_without_name", format!("{GLOBAL}{ok_route}receivers:\n- name: team\n- email_configs: []\n"), true),
        ("webhook_without_url", format!("{ok_route}receivers:\n- name: team\n  webhook_configs:\n  - send_resolved: true\n"), true),
        ("webhook_bad_scheme", format!("{ok_route}receivers:\n- name: team\n  webhook_configs:\n  - url: ftp://example.com/\n"), true),
        ("group_by_wildcard_and_label", format!("{GLOBAL}route:\n  receiver: team\n  group_by: ['...', 'job']\n{BASE_RECEIVERS}"), true),
        ("group_by_duplicate", format!("{GLOBAL}route:\n  receiver: team\n  group_by: [job, job]\n{BASE_RECEIVERS}"), true),
        ("group_by_bad_label", format!("{GLOBAL}route:\n  receiver: team\n  group_by: ['bad-label']\n{BASE_RECEIVERS}"), true),
        ("zero_group_interval", format!("{GLOBAL}route:\n  receiver: team\n  group_interval: 0s\n{BASE_RECEIVERS}"), true),
        ("bad_duration", format!("{GLOBAL}route:\n  receiver: team\n  group_wait: 10x\n{BASE_RECEIVERS}"), false),
        ("bad_matcher", format!("{GLOBAL}route:\n  receiver: team\n  routes:\n  - matchers: ['severity']\n    receiver: hook\n{BASE_RECEIVERS}"), false),
        ("bad_inhibit_equal", format!("{GLOBAL}{ok_route}inhibit_rules:\n- equal: ['bad-label']\n{BASE_RECEIVERS}"), true),
        ("smarthost_without_port", format!("global:\n  smtp_smarthost: 'localhost'\n  smtp_from: a@b.c\n{ok_route}{BASE_RECEIVERS}"), false),
        ("continue_in_root", format!("{GLOBAL}route:\n  receiver: team\n  continue: true\n{BASE_RECEIVERS}"), false),
        ("yaml_syntax", "route: [\n".to_owned(), false),
    ]
}

#[test]
fn validation_agrees_with_amtool() {
    if !amtool_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut disagreements = Vec::new();
    for (name, text, compare_message) in cases() {
        let path = dir.path().join(format!("{name}.yml"));
        std::fs::write(&path, &text).unwrap();
        let (their_ok, their_message) = amtool_verdict(&path);
        let ours = load_alertmanager_file(&path);
        let our_message = ours
            .as_ref()
            .err()
            .map(|e| {
                e.0.trim_start_matches(&format!("{}: ", path.display()))
                    .to_owned()
            })
            .unwrap_or_default();
        if their_ok != ours.is_ok() {
            disagreements.push(format!(
                "{name}: amtool ok={their_ok} {their_message:?}, ours ok={} {our_message:?}",
                ours.is_ok()
            ));
        } else if compare_message && their_message != our_message {
            disagreements.push(format!(
                "{name}: amtool says {their_message:?}, we say {our_message:?}"
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
