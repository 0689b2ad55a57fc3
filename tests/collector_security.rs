//! The collector behind a web config over real sockets: HTTPS with a certificate made here,
//! basic auth with bcrypt hashes, and the admin-only reload.

use std::process::Command;
use std::time::{Duration, Instant};

use osprey::net::free_port;
use osprey::process::Running;
use reqwest::StatusCode;
use reqwest::blocking::Client;

#[test]
fn https_basic_auth_and_admin_only_reload() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("c.crt"), certified.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("c.key"),
        certified.signing_key.serialize_pem(),
    )
    .unwrap();
    let hash = bcrypt::hash("pw", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: c.crt\n  key_file: c.key\n\
             basic_auth_users:\n  alice: {hash}\n  bob: {hash}\nadmin_users: [alice]\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let mut command = Command::new(osprey::binary("osprey-collector"));
    command
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--data-dir={}", dir.path().join("data").display()))
        .arg(format!("--web.config.file={}", web.display()));
    let _collector = Running::spawn("osprey-collector", command, None);
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let client = Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let anonymous = loop {
        match client.get(format!("{base}/-/healthy")).send() {
            Ok(response) => break response.status(),
            Err(error) => {
                assert!(Instant::now() < deadline, "no HTTPS answer: {error}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);

    let page = client
        .get(format!("{base}/"))
        .basic_auth("bob", Some("pw"))
        .send()
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().unwrap().starts_with("<!doctype html>"));
    let wrong = client
        .get(format!("{base}/"))
        .basic_auth("bob", Some("nope"))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let reload = |user: &str| {
        let response = client
            .post(format!("{base}/-/reload"))
            .basic_auth(user, Some("pw"))
            .send()
            .unwrap();
        (response.status(), response.text().unwrap())
    };
    assert_eq!(reload("bob").0, StatusCode::FORBIDDEN);
    let (status, body) = reload("alice");
    assert!(
        body.contains("no file to reload"),
        "alice reached the reload handler: {status} {body}"
    );

    let plain = reqwest::blocking::get(format!("http://127.0.0.1:{port}/-/healthy"));
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}
