//! The packaged systemd units pass `systemd-analyze verify` and keep a low exposure score:
//! at most 2.0 for the agent, 2.5 for the collector (scale 0 to 10, lower is safer).

use std::path::{Path, PathBuf};
use std::process::Command;

use osprey::peer_installed;

/// The unit `packaging/systemd/<name>.service` in a temporary directory, with ExecStart
/// pointing at the freshly built binary (verify checks that it exists).
fn unit_in_temp_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let packaged = osprey::workspace_root().join(format!("packaging/systemd/{name}.service"));
    let unit = std::fs::read_to_string(packaged).unwrap();
    let installed = format!("/usr/bin/{name}");
    assert!(
        unit.contains(&format!("ExecStart={installed} ")),
        "ExecStart moved"
    );
    let binary = osprey::binary(name);
    let unit = unit.replace(&installed, binary.to_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.service"));
    std::fs::write(&path, unit).unwrap();
    (dir, path)
}

/// `systemd-analyze verify` of the unit succeeds without a word.
fn assert_verifies(systemd_analyze: &Path, unit: &Path) {
    let verify = Command::new(systemd_analyze)
        .arg("verify")
        .arg(unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && stderr.trim().is_empty(),
        "verify {}: {stderr}",
        unit.display()
    );
}

/// The overall exposure level `systemd-analyze security` gives the unit.
fn exposure(systemd_analyze: &Path, unit: &Path) -> f64 {
    let security = Command::new(systemd_analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let name = unit.file_name().unwrap().to_string_lossy();
    report
        .lines()
        .find_map(|l| l.split(&format!("{name}: ")).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|score| score.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"))
}

/// Verifies the unit of `name` and checks its exposure is at most `max_exposure`.
fn check_unit(name: &str, max_exposure: f64) {
    let Some(systemd_analyze) = peer_installed("/usr/bin/systemd-analyze") else {
        return;
    };
    let (_dir, unit) = unit_in_temp_dir(name);
    assert_verifies(&systemd_analyze, &unit);
    let score = exposure(&systemd_analyze, &unit);
    println!("systemd-analyze security exposure level of {name}.service: {score}");
    assert!(
        score <= max_exposure,
        "{name}.service: exposure {score} above {max_exposure}"
    );
}

#[test]
fn agent_unit_verifies_and_exposure_is_at_most_two() {
    check_unit("osprey-agent", 2.0);
}

#[test]
fn collector_unit_verifies_and_exposure_is_at_most_two_and_a_half() {
    check_unit("osprey-collector", 2.5);
}
