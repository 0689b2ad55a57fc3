//! Email and webhook destinations resolved from their configuration and the global defaults,
//! with Alertmanager's checks.

use super::config::{AlertmanagerConfig, ConfigError, EmailConfig, WebhookConfig};
use super::validate::err;
use super::{EmailTarget, WebhookTarget};
use crate::vocab::parse_duration;

pub(super) fn email_target(
    email: &EmailConfig,
    config: &AlertmanagerConfig,
    warnings: &mut Vec<String>,
) -> Result<EmailTarget, ConfigError> {
    let global = &config.global;
    if email.to.is_empty() {
        return Err(err("missing to address in email config"));
    }
    if email.auth_password.is_some() && email.auth_password_file.is_some() {
        return Err(err(
            "at most one of auth_password & auth_password_file must be configured",
        ));
    }
    let smarthost = match email.smarthost.clone().filter(|s| !s.is_empty()) {
        Some(host) => host,
        None => global
            .smtp_smarthost
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| err("no global SMTP smarthost set"))?,
    };
    let (host, port) = split_host_port(&smarthost)?;
    let from = match email.from.clone().filter(|s| !s.is_empty()) {
        Some(from) => from,
        None => global
            .smtp_from
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| err("no global SMTP from set"))?,
    };
    if email.html.is_some() || email.text.is_some() {
        warnings.push(
            "email html/text templates are ignored: Osprey uses its built-in texts".to_owned(),
        );
    }
    if email.auth_secret.is_some() || global.smtp_auth_secret.is_some() {
        warnings.push("CRAM-MD5 (auth_secret) is not supported: PLAIN or LOGIN is used".to_owned());
    }
    if email
        .headers
        .keys()
        .any(|k| !k.eq_ignore_ascii_case("subject"))
    {
        warnings.push("email headers other than Subject are ignored".to_owned());
    }
    let (password, password_file) =
        if email.auth_password.is_none() && email.auth_password_file.is_none() {
            (
                global.smtp_auth_password.clone(),
                global.smtp_auth_password_file.clone(),
            )
        } else {
            (
                email.auth_password.clone(),
                email.auth_password_file.clone(),
            )
        };
    Ok(EmailTarget {
        to: email.to.clone(),
        from,
        host,
        port,
        hello: email
            .hello
            .clone()
            .or_else(|| global.smtp_hello.clone())
            .unwrap_or_else(|| "localhost".to_owned()),
        username: email
            .auth_username
            .clone()
            .or_else(|| global.smtp_auth_username.clone()),
        password,
        password_file,
        require_tls: email
            .require_tls
            .or(global.smtp_require_tls)
            .unwrap_or(true),
        tls: email
            .tls_config
            .clone()
            .or_else(|| global.smtp_tls_config.clone())
            .unwrap_or_default(),
        send_resolved: email.send_resolved.unwrap_or(false),
        headers: email.headers.clone(),
    })
}

/// Go's `net.SplitHostPort` plus Alertmanager's non-empty port rule.
fn split_host_port(address: &str) -> Result<(String, u16), ConfigError> {
    let missing = || err(format!("address {address}: missing port in address"));
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or_else(missing)?;
        (host, port)
    } else {
        let (host, port) = address.rsplit_once(':').ok_or_else(missing)?;
        if host.contains(':') {
            return Err(err(format!(
                "address {address}: too many colons in address"
            )));
        }
        (host, port)
    };
    if port.is_empty() {
        return Err(err(format!("address {address:?}: port cannot be empty")));
    }
    let port = port
        .parse()
        .map_err(|_| err(format!("address {address}: invalid port")))?;
    Ok((host.to_owned(), port))
}

pub(super) fn webhook_target(
    webhook: &WebhookConfig,
    config: &AlertmanagerConfig,
) -> Result<WebhookTarget, ConfigError> {
    let url = match (&webhook.url, &webhook.url_file) {
        (Some(_), Some(_)) => return Err(err("at most one of url & url_file must be configured")),
        (None, None) => return Err(err("missing URL in webhook config")),
        (Some(url), None) => Some(check_url(url)?),
        (None, Some(_)) => None,
    };
    let timeout = match webhook.timeout.as_deref() {
        Some(text) => Some(parse_duration(text).map_err(err)?).filter(|d| !d.is_zero()),
        None => None,
    };
    Ok(WebhookTarget {
        url,
        url_file: webhook.url_file.clone(),
        send_resolved: webhook.send_resolved.unwrap_or(true),
        http: webhook
            .http_config
            .clone()
            .or_else(|| config.global.http_config.clone())
            .unwrap_or_default(),
        max_alerts: webhook.max_alerts as usize,
        timeout,
    })
}

fn check_url(text: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(text).map_err(|e| err(format!("parse {text:?}: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(err(format!(
            "unsupported scheme {:?} for URL",
            url.scheme()
        )));
    }
    if url.host_str().unwrap_or("").is_empty() {
        return Err(err("missing host for URL"));
    }
    Ok(text.to_owned())
}
