//! Notifications reach real receivers: an SMTP server (Debian's python3-aiosmtpd) and an HTTP
//! webhook receiver; receivers that are down get every notification once they are back, also
//! across a restart of the notifier, and never twice within a group interval.

mod support;

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
use osprey_collector::notify::{AttemptResult, Notifier, parse_alertmanager_config};
use osprey_collector::rules::{NotifierAlert, Notify, RuleDeps, RuleManager, parse_rule_file};
use osprey_collector::tsdb::MemoryStorage;
use serde_json::Value;
use support::{eventually, files_in, free_port, peer_present};

const PYTHON: &str = "/usr/bin/python3";

/// A webhook receiver: records bodies and Authorization headers, answers with `status`.
#[derive(Clone, Default)]
struct Hook {
    bodies: Arc<Mutex<Vec<Value>>>,
    authorizations: Arc<Mutex<Vec<String>>>,
    status: Arc<AtomicU16>,
}

impl Hook {
    fn count(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    fn body(&self, index: usize) -> Option<Value> {
        self.bodies.lock().unwrap().get(index).cloned()
    }
}

async fn record(State(hook): State<Hook>, headers: HeaderMap, body: String) -> StatusCode {
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
async fn serve_hook(hook: &Hook, port: u16) -> tokio::task::JoinHandle<()> {
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
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
    port: u16,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn smtp_server(dir: &Path, tls: Option<(&Path, &Path)>) -> SmtpServer {
    smtp_server_on(dir, free_port(), tls).await
}

async fn smtp_server_on(dir: &Path, port: u16, tls: Option<(&Path, &Path)>) -> SmtpServer {
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

fn smtp_available() -> bool {
    peer_present(PYTHON, &["-c", "import aiosmtpd"])
}

/// A private CA and a server certificate for localhost / 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
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

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn alert(instance: &str, ends_at: i64) -> NotifierAlert {
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

fn notifier(config: &str, db_path: &Path) -> Notifier {
    let notifications = parse_alertmanager_config(config).unwrap();
    let db = Arc::new(redb::Database::create(db_path).unwrap());
    Notifier::open(notifications, db, "http://collector:9718/").unwrap()
}

/// Reads the messages aiosmtpd stored (Maildir `new/`).
fn mails(server: &SmtpServer) -> Vec<String> {
    files_in(&server.maildir.join("new"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[tokio::test(flavor = "multi_thread")]
async fn firing_and_resolved_reach_smtp_and_webhook() {
    if !smtp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = smtp_server(dir.path(), None).await;
    let hook = Hook::default();
    let hook_port = free_port();
    let _server = serve_hook(&hook, hook_port).await;
    let config = format!(
        "route:\n  receiver: ops\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n- name: ops\n  email_configs:\n  - to: oncall@example.com\n    from: osprey@example.com\n    smarthost: 127.0.0.1:{}\n    require_tls: false\n    send_resolved: true\n  \
         webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n    http_config:\n      authorization:\n        credentials: t0ken\n",
        smtp.port
    );
    let notifier = notifier(&config, &dir.path().join("collector.redb"));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let tasks = notifier.spawn(shutdown);

    notifier.notify(vec![alert("host1:9100", now() + 240_000)]);
    let firing = eventually(Duration::from_secs(10), || hook.body(0))
        .await
        .expect("webhook received");
    assert_eq!(firing["version"], "4");
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["receiver"], "ops");
    assert_eq!(firing["groupKey"], "{}:{alertname=\"HighCpu\"}");
    assert_eq!(firing["truncatedAlerts"], 0);
    assert_eq!(
        firing["groupLabels"],
        serde_json::json!({"alertname": "HighCpu"})
    );
    assert_eq!(firing["commonLabels"]["instance"], "host1:9100");
    assert_eq!(
        firing["commonAnnotations"]["summary"],
        "CPU high on host1:9100"
    );
    assert_eq!(firing["externalURL"], "http://collector:9718");
    let first = &firing["alerts"][0];
    assert_eq!(first["status"], "firing");
    assert_eq!(first["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        first["generatorURL"],
        "http://collector:9718/graph?g0.expr=cpu+%3E+80&g0.tab=1"
    );
    // 16 hex digits; the algorithm itself is checked against prometheus/common in unit tests.
    assert_eq!(first["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(hook.authorizations.lock().unwrap()[0], "Bearer t0ken");

    let mail = eventually(Duration::from_secs(10), || mails(&smtp).into_iter().next())
        .await
        .expect("email received");
    assert_eq!(
        header(&mail, "Subject"),
        Some("[FIRING:1] HighCpu (host1:9100 node warning)")
    );
    assert_eq!(header(&mail, "To"), Some("oncall@example.com"));
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("text/html"), "{mail}");
    assert!(mail.contains("instance = host1:9100"), "{mail}");

    notifier.notify(vec![alert("host1:9100", now() - 1000)]);
    let resolved = eventually(Duration::from_secs(10), || hook.body(1))
        .await
        .expect("resolved webhook");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    let mail = eventually(Duration::from_secs(10), || mails(&smtp).get(1).cloned())
        .await
        .expect("resolved email");
    assert!(
        header(&mail, "Subject")
            .unwrap()
            .starts_with("[RESOLVED] HighCpu"),
        "{mail}"
    );
    assert_eq!(notifier.metrics.attempts("ops", AttemptResult::Success), 4);
    stop.send(true).unwrap();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn email_uses_starttls_with_a_private_ca() {
    if !smtp_available() || !peer_present("openssl", &["version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certificates(dir.path());
    let smtp = smtp_server(dir.path(), Some((&cert, &key))).await;
    let config = format!(
        "global:\n  smtp_smarthost: 127.0.0.1:{}\n  smtp_from: osprey@example.com\n\
         route:\n  receiver: ops\n  group_wait: 0s\n\
         receivers:\n- name: ops\n  email_configs:\n  - to: a@example.com, b@example.com\n    tls_config:\n      ca_file: {}\n      server_name: localhost\n",
        smtp.port,
        ca.display()
    );
    let notifier = notifier(&config, &dir.path().join("collector.redb"));
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    notifier.notify(vec![alert("host2:9100", now() + 240_000)]);
    let mail = eventually(Duration::from_secs(15), || mails(&smtp).into_iter().next())
        .await
        .expect("email over STARTTLS received");
    assert_eq!(header(&mail, "To"), Some("a@example.com, b@example.com"));
    assert!(
        header(&mail, "Subject").unwrap().starts_with("[FIRING:1] "),
        "{mail}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_down_gets_the_notification_after_a_restart_once() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("collector.redb");
    let hook_port = free_port();
    let config = format!(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n"
    );
    let firing = alert("host3:9100", now() + 600_000);
    {
        let notifier = notifier(&config, &db_path);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let tasks = notifier.spawn(shutdown);
        notifier.notify(vec![firing.clone()]);
        let retried = eventually(Duration::from_secs(10), || {
            (notifier.metrics.attempts("hook", AttemptResult::Retry) >= 2).then_some(())
        })
        .await;
        assert!(retried.is_some(), "connection failures are retried");
        // The group is flushed again every second; nothing new, so nothing more is queued.
        assert_eq!(notifier.metrics.queue_length(), 1);
        stop.send(true).unwrap();
        for task in tasks {
            task.await.unwrap();
        }
    }
    let hook = Hook::default();
    let _server = serve_hook(&hook, hook_port).await;
    let notifier = notifier(&config, &db_path);
    assert_eq!(
        notifier.metrics.queue_length(),
        1,
        "the queue survived the restart"
    );
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    // The rules hand the still-firing alert over again after the restart.
    notifier.notify(vec![firing]);
    let delivered = eventually(Duration::from_secs(10), || hook.body(0)).await;
    assert_eq!(
        delivered.expect("delivered after the restart")["status"],
        "firing"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(hook.count(), 1, "delivered exactly once");
    assert_eq!(notifier.metrics.queue_length(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_client_errors_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::default();
    hook.status.store(503, Ordering::SeqCst);
    let hook_port = free_port();
    let _server = serve_hook(&hook, hook_port).await;
    let config = format!(
        "route:\n  receiver: hook\n  group_by: [instance]\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n"
    );
    let notifier = notifier(&config, &dir.path().join("collector.redb"));
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    notifier.notify(vec![alert("a:9100", now() + 600_000)]);
    eventually(Duration::from_secs(5), || {
        (!hook.authorizations.lock().unwrap().is_empty()).then_some(())
    })
    .await
    .expect("first attempt");
    hook.status.store(200, Ordering::SeqCst);
    eventually(Duration::from_secs(10), || hook.body(0))
        .await
        .expect("delivered after a 503");
    assert!(notifier.metrics.attempts("hook", AttemptResult::Retry) >= 1);

    hook.status.store(400, Ordering::SeqCst);
    notifier.notify(vec![alert("b:9100", now() + 600_000)]);
    eventually(Duration::from_secs(5), || {
        (notifier.metrics.attempts("hook", AttemptResult::Failed) == 1).then_some(())
    })
    .await
    .expect("a 400 is given up at once");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        notifier.metrics.attempts("hook", AttemptResult::Failed),
        1,
        "no retry after 4xx"
    );
    assert_eq!(notifier.metrics.queue_length(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_evaluations_drive_firing_and_resolved_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::default();
    let hook_port = free_port();
    let _server = serve_hook(&hook, hook_port).await;
    let config = format!(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/\n"
    );
    let notifier = notifier(&config, &dir.path().join("collector.redb"));
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    let cpu: Arc<Mutex<Vec<(Labels, f64)>>> = Arc::default();
    let answer = cpu.clone();
    let rules = "groups:\n- name: host\n  rules:\n  - alert: HostHighCpuUsage\n    expr: cpu > 80\n    for: 2s\n    labels:\n      severity: warning\n    annotations:\n      summary: 'CPU {{ $value | printf \"%.1f\" }}% on {{ $labels.instance }}'\n";
    let deps = RuleDeps {
        query: Arc::new(move |_: &str, _: i64| Ok(answer.lock().unwrap().clone())),
        storage: Arc::new(MemoryStorage::new()),
        notify: Arc::new(notifier.clone()),
        state_store: None,
        external_labels: Default::default(),
        external_url: "http://collector:9718".to_owned(),
        resend_delay: Duration::from_secs(60),
    };
    let groups = parse_rule_file(Path::new("host.yml"), rules).unwrap();
    let manager = RuleManager::new(groups, Duration::from_secs(1), deps);
    let busy = (
        Labels::from_pairs([("__name__", "cpu"), ("instance", "web1:9100")]),
        97.25,
    );

    // A spike shorter than `for` never notifies.
    *cpu.lock().unwrap() = vec![busy.clone()];
    manager.evaluate_all(now());
    cpu.lock().unwrap().clear();
    manager.evaluate_all(now() + 1000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.count(), 0);

    *cpu.lock().unwrap() = vec![busy];
    let start = now();
    manager.evaluate_all(start);
    manager.evaluate_all(start + 2000);
    let firing = eventually(Duration::from_secs(10), || hook.body(0))
        .await
        .expect("firing webhook");
    assert_eq!(
        firing["alerts"][0]["labels"]["alertname"],
        "HostHighCpuUsage"
    );
    assert_eq!(
        firing["alerts"][0]["annotations"]["summary"],
        "CPU 97.2% on web1:9100"
    );
    cpu.lock().unwrap().clear();
    manager.evaluate_all(start + 3000);
    let resolved = eventually(Duration::from_secs(10), || hook.body(1))
        .await
        .expect("resolved webhook");
    assert_eq!(resolved["status"], "resolved");
    let history = notifier.history.list(&Default::default()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].resolved_by.as_deref(), Some("rule"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_server_down_gets_the_email_once_it_is_back() {
    if !smtp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "global:\n  smtp_smarthost: 127.0.0.1:{port}\n  smtp_from: osprey@example.com\n  smtp_require_tls: false\n\
         route:\n  receiver: mail\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n- name: mail\n  email_configs:\n  - to: oncall@example.com\n"
    );
    let notifier = notifier(&config, &dir.path().join("collector.redb"));
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    notifier.notify(vec![alert("host4:9100", now() + 600_000)]);
    let retried = eventually(Duration::from_secs(10), || {
        (notifier.metrics.attempts("mail", AttemptResult::Retry) >= 1).then_some(())
    })
    .await;
    assert!(retried.is_some(), "a refused SMTP connection is retried");
    let smtp = smtp_server_on(dir.path(), port, None).await;
    let mail = eventually(Duration::from_secs(15), || mails(&smtp).into_iter().next()).await;
    assert!(
        header(&mail.expect("email after the server came back"), "Subject")
            .unwrap()
            .starts_with("[FIRING:1]")
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(mails(&smtp).len(), 1, "sent once");
}
