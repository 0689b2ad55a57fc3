//! Bad configuration and flags give a clear message naming the problem and a non-zero exit.

use std::process::{Command, Output};

fn run_agent(args: &[&str]) -> (Output, String) {
    let output = Command::new(osprey::binary("osprey-agent"))
        .args(args)
        .output()
        .expect("run osprey-agent");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}

#[test]
fn unknown_config_key_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_adress = \"x\"\n").unwrap();
    for args in [
        vec!["--config", config.to_str().unwrap()],
        vec!["check-config", config.to_str().unwrap()],
    ] {
        let (output, stderr) = run_agent(&args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr.contains("listen_adress") && stderr.contains("line 2"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn bad_listen_address_is_named() {
    let (output, stderr) = run_agent(&["--listen", "localhost:99999"]);
    assert!(!output.status.success());
    assert!(
        stderr.contains("localhost:99999") && stderr.contains("--listen"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "listen = \"0.0.0.0\"\n").unwrap();
    let (output, stderr) = run_agent(&["--config", config.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        stderr.contains("listen") && stderr.contains("line 1"),
        "{stderr}"
    );
}

#[test]
fn address_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (output, stderr) = run_agent(&["--listen", &address]);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&address) && stderr.contains("in use"),
        "{stderr}"
    );
}

#[test]
fn missing_tls_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: agent.crt\n  key_file: agent.key\n",
    )
    .unwrap();
    let (output, stderr) = run_agent(&[
        "--listen",
        "127.0.0.1:0",
        "--web.config.file",
        web.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(stderr.contains("TLS certificate file"), "{stderr}");
    assert!(
        stderr.contains(&dir.path().join("agent.crt").display().to_string()),
        "{stderr}"
    );
}

#[test]
fn credentials_over_plain_http_on_a_public_address_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    let (output, stderr) = run_agent(&[
        "--listen",
        "0.0.0.0:0",
        "--web.config.file",
        web.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr.contains("plain HTTP") && stderr.contains("allow_insecure_credentials"),
        "{stderr}"
    );
}
