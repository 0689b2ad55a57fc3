//! The shipped rule files are valid for `osprey-collector check-config` and for promtool (with a
//! `thresholds` section beside them, and as the end-to-end tests scale them), and every alert
//! they hold has an end-to-end test that makes it fire and resolve.

mod alert_rules;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use alert_rules::*;

/// `check-config`'s verdict and output on a configuration naming `rule_file`.
fn check_config(dir: &Path, rule_file: &Path) -> (bool, String) {
    let config = format!(
        "rule_files: ['{}']\nthresholds:\n  - matchers: ['instance=~\"db.*\"', 'job=\"node\"']\n\
         \x20   alerts: {{HostHighCpuUsage: 95, HostLowDiskSpace: 80}}\n",
        rule_file.display()
    );
    osprey::collector::check_config(dir, &config)
}

#[test]
fn every_shipped_rule_file_passes_check_config_and_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = shipped_rule_files();
    assert_eq!(shipped.len(), 3, "{shipped:?}");
    let scaled = scaled_rule_files(&dir.path().join("scaled"));
    let promtool = osprey::peers_present(&["promtool"]);
    for file in shipped.iter().chain(&scaled) {
        let (ok, output) = check_config(dir.path(), file);
        assert!(ok, "{}: {output}", file.display());
        if promtool {
            let output = Command::new("promtool")
                .args(["check", "rules"])
                .arg(file)
                .output()
                .expect("run promtool");
            assert!(
                output.status.success(),
                "promtool on {}: {}",
                file.display(),
                String::from_utf8_lossy(&output.stdout)
            );
        }
    }
}

#[test]
fn every_shipped_alert_has_an_end_to_end_test() {
    let tested: BTreeSet<&str> = [
        CONTAINER_TEST_ALERTS,
        DOCKER_DOWN_TEST_ALERTS,
        HOST_TEST_ALERTS,
        STORAGE_TEST_ALERTS,
    ]
    .concat()
    .into_iter()
    .collect();
    let names = shipped_alert_names();
    let shipped: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(
        shipped.len(),
        names.len(),
        "alert names are unique: {names:?}"
    );
    assert_eq!(shipped, tested);
}
