//! The agent behind TLS and basic auth, scraped by the real Prometheus with its own TLS client.

use std::path::Path;

use osprey::agent::start_agent;
use osprey::peer_installed;
use osprey::peers::{PROMETHEUS, start_prometheus, wait_for_sample};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// Writes a CA and a server certificate for 127.0.0.1 signed by it; returns the CA's path.
fn write_certificates(dir: &Path) -> std::path::PathBuf {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    std::fs::write(dir.join("agent.crt"), server.pem()).unwrap();
    std::fs::write(dir.join("agent.key"), server_key.serialize_pem()).unwrap();
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    ca_path
}

#[test]
fn prometheus_scrapes_over_tls_with_basic_auth_or_a_token_and_a_wrong_password_is_refused() {
    if peer_installed(PROMETHEUS).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = write_certificates(dir.path());
    let hash = bcrypt::hash("right horse", 6).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: agent.crt\n  key_file: agent.key\n\
             basic_auth_users:\n  prometheus: {hash}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("token"), "t0ken-for-scrapers\n").unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "bearer_token_file = \"token\"\n").unwrap();
    let agent = start_agent(&[
        "--web.config.file",
        web.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);

    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {}\n\
             \x20   basic_auth:\n      username: prometheus\n      password: '{password}'\n\
             \x20   static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            ca.display(),
            agent.port
        )
    };
    let token_job = format!(
        "  - job_name: token\n    scheme: https\n    tls_config:\n      ca_file: {}\n\
         \x20   authorization:\n      credentials: t0ken-for-scrapers\n\
         \x20   static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        ca.display(),
        agent.port
    );
    let scrape_configs = job("right", "right horse") + &job("wrong", "wrong horse") + &token_job;
    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir(&prometheus_dir).unwrap();
    let prometheus = start_prometheus(&prometheus_dir, &scrape_configs);
    wait_for_sample(&prometheus, "up{job=\"right\"}", |v| v == 1.0);
    wait_for_sample(
        &prometheus,
        "node_memory_MemTotal_bytes{job=\"right\"}",
        |v| v > 0.0,
    );
    wait_for_sample(&prometheus, "up{job=\"wrong\"}", |v| v == 0.0);
    wait_for_sample(&prometheus, "up{job=\"token\"}", |v| v == 1.0);

    // Without credentials: 401 with a challenge; plain HTTP on the TLS port gets nothing.
    let certificate = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let client = reqwest::blocking::Client::builder()
        .tls_certs_only([certificate])
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/metrics", agent.port);
    let anonymous = client.get(&url).send().unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Basic");
    let authorized = client
        .get(&url)
        .basic_auth("prometheus", Some("right horse"))
        .send()
        .unwrap();
    assert_eq!(authorized.status(), 200);
    assert!(authorized.text().unwrap().contains("node_uname_info{"));
    assert!(reqwest::blocking::get(format!("http://127.0.0.1:{}/metrics", agent.port)).is_err());
}
