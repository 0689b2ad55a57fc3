//! Real receivers for notification tests: an HTTP webhook receiver and Debian's aiosmtpd, plus
//! the notifier and alerts they are fed from.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use osprey_collector::labels::Labels;
use osprey_collector::notify::{Notifier, parse_alertmanager_config};
use osprey_collector::rules::NotifierAlert;
use osprey_collector::tsdb::{Storage, StorageOptions};
use serde_json::Value;

use super::{eventually, files_in, free_port, peer_present};

pub const PYTHON: &str = "/usr/bin/python3";

/// A webhook receiver: records bodies and Authorization headers, answers with `status`.
#[derive(Clone, Default)]
pub struct Hook {
    pub bodies: Arc<Mutex<Vec<Value>>>,
    pub authorizations: Arc<Mutex<Vec<String>>>,
    pub status: Arc<AtomicU16>,
}

impl Hook {
    pub fn count(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    pub fn body(&self, index: usize) -> Option<Value> {
        self.bodies.lock().unwrap().get(index).cloned()
    }
}

pub async fn record(State(hook): State<Hook>, headers: HeaderMap, body: String) -> StatusCode {
    let status = StatusCode::from_u16(hook.status.load(Ordering::SeqCst)).unwrap();
    if status.is_success() {
        hook.bodies
            .lock()
            .unwrap()
            .push(serde_json::from_str(&body).unwrap());
    }
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    hook.authorizations
        .lock()
        .unwrap()
        .push(auth.unwrap_or_default());
    status
}

/// Serves `hook` on `port` until the returned task is aborted.
pub async fn serve_hook(hook: &Hook, port: u16) -> tokio::task::JoinHandle<()> {
    if hook.status.load(Ordering::SeqCst) == 0 {
        hook.status.store(200, Ordering::SeqCst);
    }
    let app = axum::Router::new()
        .route("/", axum::routing::post(record))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() })
}

/// aiosmtpd writing every message into a Maildir; killed on drop.
pub struct SmtpServer {
    child: Child,
    maildir: PathBuf,
    /// The port it listens on.
    pub port: u16,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn smtp_server(dir: &Path, tls: Option<(&Path, &Path)>) -> SmtpServer {
    smtp_server_on(dir, free_port(), tls).await
}

pub async fn smtp_server_on(dir: &Path, port: u16, tls: Option<(&Path, &Path)>) -> SmtpServer {
    let maildir = dir.join("maildir");
    let mut command = Command::new(PYTHON);
    command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
    if let Some((cert, key)) = tls {
        command.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
    }
    command
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir);
    let child = command.spawn().expect("start aiosmtpd");
    let server = SmtpServer {
        child,
        maildir,
        port,
    };
    let up = eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .await;
    assert!(up.is_some(), "aiosmtpd did not start on port {port}");
    server
}

pub fn smtp_available() -> bool {
    peer_present(PYTHON, &["-c", "import aiosmtpd"])
}

/// A private CA and a server certificate for localhost / 127.0.0.1 signed by it.
pub fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let path = |name: &str| dir.join(name);
    std::fs::write(
        path("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Osprey test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (path("ca.pem"), path("cert.pem"), path("key.pem"))
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn alert(instance: &str, ends_at: i64) -> NotifierAlert {
    NotifierAlert {
        labels: Labels::from_pairs([
            ("alertname", "HighCpu"),
            ("instance", instance),
            ("job", "node"),
            ("severity", "warning"),
        ]),
        annotations: BTreeMap::from([("summary".to_owned(), format!("CPU high on {instance}"))]),
        starts_at: now() - 60_000,
        ends_at,
        generator_url: "http://collector:9718/graph?g0.expr=cpu+%3E+80&g0.tab=1".to_owned(),
        value: 93.5,
        resolved: ends_at <= now(),
    }
}

pub fn notifier(config: &str, data_dir: &Path) -> Notifier {
    let notifications = parse_alertmanager_config(config).unwrap();
    let storage = Storage::open(data_dir, StorageOptions::default()).unwrap();
    Notifier::open(notifications, storage.key_value(), "http://collector:9718/").unwrap()
}

/// Reads the messages aiosmtpd stored (Maildir `new/`).
pub fn mails(server: &SmtpServer) -> Vec<String> {
    files_in(&server.maildir.join("new"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

pub fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}
