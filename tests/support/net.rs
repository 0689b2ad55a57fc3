//! Free ports and a tiny HTTP/1.0 client, enough to talk to the binaries under test.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A plain HTTP/1.0 request to `127.0.0.1:port`; the status code and body, or `None` when
/// nothing answers.
pub fn http(method: &str, port: u16, path: &str, body: &str) -> Option<(u16, String)> {
    request(
        method,
        port,
        path,
        ("application/json", body),
        Duration::from_secs(10),
    )
}

/// An HTTP/1.0 request with a body of the given content type, waiting up to `timeout` for the
/// whole answer; the status code and body, or `None` when nothing (complete) answers in time.
pub fn request(
    method: &str,
    port: u16,
    path: &str,
    (content_type, body): (&str, &str),
    timeout: Duration,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// `POST path` with `form` (name, value pairs) URL-encoded as the body, as Grafana sends long
/// queries; waits up to `timeout`.
pub fn post_form(
    port: u16,
    path: &str,
    form: &[(&str, &str)],
    timeout: Duration,
) -> Option<(u16, String)> {
    let body = serde_urlencoded::to_string(form).expect("encode the form");
    request(
        "POST",
        port,
        path,
        ("application/x-www-form-urlencoded", &body),
        timeout,
    )
}

/// `GET path`.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    http("GET", port, path, "")
}

/// `POST path` with `body`.
pub fn post(port: u16, path: &str, body: &str) -> Option<(u16, String)> {
    http("POST", port, path, body)
}

/// The `result` list of an instant query at the Prometheus HTTP API on `port` (Prometheus's or
/// the collector's), or `None` when it does not answer one.
pub fn instant_query(port: u16, query: &str) -> Option<Vec<serde_json::Value>> {
    let parameters = serde_urlencoded::to_string([("query", query)]).expect("encode the query");
    let (200, body) = get(port, &format!("/api/v1/query?{parameters}"))? else {
        return None;
    };
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json["data"]["result"].as_array().cloned()
}

/// The body of a successful `GET /metrics` on `port`, or a panic saying what came back.
pub fn metrics(port: u16) -> String {
    match get(port, "/metrics") {
        Some((200, body)) => body,
        other => panic!("GET /metrics on port {port}: {other:?}"),
    }
}

/// The value of the sample written exactly as `series` (name with its labels) in `exposition`.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}
