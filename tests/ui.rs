//! The built-in web UI rendered by a real browser: headless Chromium loads the collector's
//! pages, runs their script against the live API and the resulting DOM shows this machine.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use osprey::net::{free_port, get};
use osprey::process::{Running, wait_until};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The DOM after the page's script ran for up to ten seconds of virtual time.
fn rendered(url: &str, profile: &Path) -> String {
    let output = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_ui_shows_this_machine_with_live_data() {
    if osprey::peer_installed(CHROMIUM).is_none() {
        return;
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(osprey::binary("osprey-collector"));
    command
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--data-dir={}", data.path().display()));
    let _collector = Running::spawn("osprey-collector", command, None);
    wait_until("node_uname_info", Duration::from_secs(30), || {
        get(port, "/api/v1/query?query=node_uname_info")
            .is_some_and(|(_, body)| body.contains("nodename"))
    });
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let profile = tempfile::tempdir().unwrap();

    let overview = rendered(&format!("{base}/#/overview"), profile.path());
    assert!(overview.contains("<h2>Hosts</h2>"), "{overview}");
    assert!(
        overview.contains(&format!("<span>{}</span>", hostname.trim())),
        "the host card does not name {hostname}: {overview}"
    );
    assert!(overview.contains(r#"class="badge up""#), "{overview}");

    let targets = rendered(&format!("{base}/#/targets"), profile.path());
    assert!(targets.contains("/metrics</td>"), "{targets}");
    assert!(targets.contains(r#"job="node""#), "{targets}");

    let alerts = rendered(&format!("{base}/#/alerts"), profile.path());
    assert!(
        alerts.contains("Active alerts") || alerts.contains("Alerting is not available"),
        "{alerts}"
    );
}
