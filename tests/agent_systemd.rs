//! The packaged systemd unit passes `systemd-analyze verify` and keeps a low exposure score.

use std::process::Command;

use osprey::peer_installed;

/// The unit with ExecStart pointing at the freshly built binary (verify checks that it exists),
/// with the Docker drop-in beside it when `with_docker` (systemd-analyze reads drop-ins from the
/// unit's directory).
fn unit_in_temp_dir(with_docker: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let packaged = osprey::workspace_root().join("packaging/systemd");
    let unit = std::fs::read_to_string(packaged.join("osprey-agent.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/osprey-agent "),
        "ExecStart moved"
    );
    let binary = osprey::binary("osprey-agent");
    let unit = unit.replace("/usr/bin/osprey-agent", binary.to_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osprey-agent.service");
    std::fs::write(&path, unit).unwrap();
    if with_docker {
        let drop_ins = dir.path().join("osprey-agent.service.d");
        std::fs::create_dir(&drop_ins).unwrap();
        let docker = packaged.join("osprey-agent.service.d/docker.conf");
        let text = std::fs::read_to_string(docker).unwrap();
        assert!(text.contains("SupplementaryGroups=docker"), "{text}");
        std::fs::write(drop_ins.join("docker.conf"), text).unwrap();
    }
    (dir, path)
}

#[test]
fn unit_verifies_and_exposure_is_at_most_two() {
    let Some(systemd_analyze) = peer_installed("/usr/bin/systemd-analyze") else {
        return;
    };
    for with_docker in [false, true] {
        let (_dir, unit) = unit_in_temp_dir(with_docker);
        let verify = Command::new(&systemd_analyze)
            .arg("verify")
            .arg(&unit)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&verify.stderr);
        assert!(
            verify.status.success() && stderr.trim().is_empty(),
            "verify (docker drop-in: {with_docker}): {stderr}"
        );
    }

    let (_dir, unit) = unit_in_temp_dir(true);
    let security = Command::new(&systemd_analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| l.split("osprey-agent.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|score| score.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    println!("systemd-analyze security exposure level: {score}");
    assert!(score <= 2.0, "exposure {score} above 2.0:\n{report}");
}
