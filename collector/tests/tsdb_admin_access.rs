//! The TSDB admin routes behind a web config naming admin users, on the built collector: a user
//! who is not an admin is refused every one of them, an admin is served.

use std::process::Command;

use osprey::net::free_port;
use osprey::process::Running;
use osprey_collector::tsdb::DB_FILE;
use reqwest::{Method, StatusCode};

const ROUTES: [&str; 3] = [
    "/api/v1/admin/tsdb/delete_series?match[]=up",
    "/api/v1/admin/tsdb/clean_tombstones",
    "/api/v1/admin/tsdb/snapshot",
];

#[tokio::test]
async fn only_admin_users_reach_the_tsdb_admin_routes() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("pw", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!("basic_auth_users:\n  alice: {hash}\n  bob: {hash}\nadmin_users: [alice]\n"),
    )
    .unwrap();
    let config = dir.path().join("osprey.yml");
    std::fs::write(&config, "global: {}\n").unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_osprey-collector"));
    command
        .arg(format!("--config={}", config.display()))
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--web.config.file={}", web.display()));
    let _collector = Running::spawn_listening("osprey-collector", command, port, None);
    let client = reqwest::Client::new();
    let call = |method: Method, route: &str, user: &str| {
        client
            .request(method, format!("http://127.0.0.1:{port}{route}"))
            .basic_auth(user, Some("pw"))
            .send()
    };

    for route in ROUTES {
        for method in [Method::POST, Method::PUT] {
            let answer = call(method.clone(), route, "bob").await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::FORBIDDEN,
                "bob: {method} {route}"
            );
        }
    }
    assert!(
        !data.join("snapshots").exists(),
        "a refused snapshot wrote something"
    );

    for method in [Method::POST, Method::PUT] {
        for route in &ROUTES[..2] {
            let answer = call(method.clone(), route, "alice").await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::NO_CONTENT,
                "alice: {method} {route}"
            );
        }
        let answer = call(method.clone(), ROUTES[2], "alice").await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "alice: {method} snapshot");
        let body: serde_json::Value = answer.json().await.unwrap();
        let name = body["data"]["name"].as_str().unwrap();
        assert!(
            data.join("snapshots").join(name).join(DB_FILE).is_file(),
            "snapshot {name} is not in the data directory"
        );
    }
}
