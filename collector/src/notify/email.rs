//! Sending an email with lettre: STARTTLS or implicit TLS (port 465), authentication, and a
//! multipart text + HTML message.

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{EmailTarget, SendError};

const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn tls_parameters(target: &EmailTarget) -> Result<TlsParameters, SendError> {
    let name = target
        .tls
        .server_name
        .clone()
        .unwrap_or_else(|| target.host.clone());
    let mut builder = TlsParameters::builder(name)
        .dangerous_accept_invalid_certs(target.tls.insecure_skip_verify);
    if let Some(ca_file) = &target.tls.ca_file {
        let pem = std::fs::read(ca_file)
            .map_err(|e| SendError::Retry(format!("cannot read ca_file {ca_file}: {e}")))?;
        let ca = Certificate::from_pem(&pem)
            .map_err(|e| SendError::Reject(format!("ca_file {ca_file}: {e}")))?;
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build_rustls()
        .map_err(|e| SendError::Reject(format!("TLS settings: {e}")))
}

/// Builds the message: From, To (comma-separated list), Subject, extra headers ignored except
/// Subject, and alternative text and HTML parts.
pub fn build_message(
    target: &EmailTarget,
    subject: &str,
    text: &str,
    html: &str,
) -> Result<Message, SendError> {
    let reject = |what: &str, e: &dyn std::fmt::Display| SendError::Reject(format!("{what}: {e}"));
    let from: Mailbox = target.from.parse().map_err(|e| reject("from", &e))?;
    let subject = target
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("subject"))
        .map_or(subject, |(_, v)| v.as_str());
    let mut builder = Message::builder().from(from).subject(subject);
    for to in target
        .to
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        builder = builder.to(to.parse().map_err(|e| reject("to", &e))?);
    }
    let body = MultiPart::alternative_plain_html(text.to_owned(), html.to_owned());
    builder.multipart(body).map_err(|e| reject("message", &e))
}

/// Sends one email; temporary SMTP failures and connection errors are worth a retry,
/// permanent (5xx) answers are not.
pub async fn send_email(
    target: &EmailTarget,
    subject: &str,
    text: &str,
    html: &str,
) -> Result<(), SendError> {
    let message = build_message(target, subject, text, html)?;
    let tls = if target.port == 465 {
        Tls::Wrapper(tls_parameters(target)?)
    } else if target.require_tls {
        Tls::Required(tls_parameters(target)?)
    } else {
        Tls::None
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.host.as_str())
        .port(target.port)
        .tls(tls)
        .hello_name(ClientId::Domain(target.hello.clone()))
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(username) = &target.username {
        let password = match (&target.password, &target.password_file) {
            (Some(p), _) => p.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|s| s.trim_end_matches('\n').to_owned())
                .map_err(|e| SendError::Retry(format!("cannot read {file}: {e}")))?,
            (None, None) => String::new(),
        };
        builder = builder.credentials(Credentials::new(username.clone(), password));
    }
    let transport = builder.build();
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(SendError::Reject(format!("SMTP {}: {e}", target.host))),
        Err(e) => Err(SendError::Retry(format!(
            "SMTP {}:{}: {e}",
            target.host, target.port
        ))),
    }
}
