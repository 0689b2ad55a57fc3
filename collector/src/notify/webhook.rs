//! Sending a webhook message with reqwest, with the target's HTTP client settings.

use super::{SendError, WebhookTarget};

/// Why a webhook target's HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookClientError {
    /// `proxy_url` is not a usable proxy.
    #[error("proxy_url: {0}")]
    Proxy(#[source] reqwest::Error),
    /// The CA file could not be read.
    #[error("ca_file {path}: {source}")]
    ReadCa {
        /// The file.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The CA file holds no valid PEM certificate.
    #[error("ca_file {path}: {source}")]
    InvalidCa {
        /// The file.
        path: String,
        /// What the TLS library said.
        source: reqwest::Error,
    },
    /// The HTTP client itself could not be built.
    #[error("{0}")]
    Build(#[source] reqwest::Error),
}

/// Builds the HTTP client for one webhook target (TLS, redirects, proxy, timeout).
pub fn webhook_client(target: &WebhookTarget) -> Result<reqwest::Client, WebhookClientError> {
    let mut builder =
        reqwest::Client::builder().user_agent(concat!("Osprey/", env!("CARGO_PKG_VERSION")));
    if let Some(timeout) = target.timeout {
        builder = builder.timeout(timeout);
    }
    if target.http.follow_redirects == Some(false) {
        builder = builder.redirect(reqwest::redirect::Policy::none());
    }
    if let Some(proxy) = &target.http.proxy_url {
        builder = builder.proxy(reqwest::Proxy::all(proxy).map_err(WebhookClientError::Proxy)?);
    }
    if let Some(tls) = &target.http.tls_config {
        if let Some(ca_file) = &tls.ca_file {
            let pem = std::fs::read(ca_file).map_err(|source| WebhookClientError::ReadCa {
                path: ca_file.clone(),
                source,
            })?;
            let ca = reqwest::Certificate::from_pem(&pem).map_err(|source| {
                WebhookClientError::InvalidCa {
                    path: ca_file.clone(),
                    source,
                }
            })?;
            builder = builder.add_root_certificate(ca);
        }
        builder = builder.danger_accept_invalid_certs(tls.insecure_skip_verify);
    }
    builder.build().map_err(WebhookClientError::Build)
}

fn read_secret(file: &str) -> Result<String, SendError> {
    std::fs::read_to_string(file)
        .map(|s| s.trim().to_owned())
        .map_err(|e| SendError::Retry(format!("cannot read {file}: {e}")))
}

/// Posts `body` to the target; 5xx and connection failures are worth a retry, other
/// non-2xx answers are not (as Alertmanager decides).
pub async fn send_webhook(
    client: &reqwest::Client,
    target: &WebhookTarget,
    body: &str,
) -> Result<(), SendError> {
    let url = match (&target.url, &target.url_file) {
        (Some(url), _) => url.clone(),
        (None, Some(file)) => read_secret(file)?,
        (None, None) => return Err(SendError::Reject("webhook without URL".to_owned())),
    };
    let mut request = client
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    let http = &target.http;
    if let Some(auth) = &http.authorization {
        let credentials = match (&auth.credentials, &auth.credentials_file) {
            (Some(c), _) => c.clone(),
            (None, Some(file)) => read_secret(file)?,
            (None, None) => String::new(),
        };
        let scheme = auth.scheme.as_deref().unwrap_or("Bearer");
        request = request.header(
            reqwest::header::AUTHORIZATION,
            format!("{scheme} {credentials}"),
        );
    } else if let Some(token) = &http.bearer_token {
        request = request.bearer_auth(token);
    } else if let Some(file) = &http.bearer_token_file {
        request = request.bearer_auth(read_secret(file)?);
    }
    if let Some(basic) = &http.basic_auth {
        let password = match (&basic.password, &basic.password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(file)) => Some(read_secret(file)?),
            (None, None) => None,
        };
        request = request.basic_auth(&basic.username, password);
    }
    let response = request
        .send()
        .await
        .map_err(|e| SendError::Retry(format!("POST {url}: {e}")))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let detail = format!("POST {url}: unexpected status code {}", status.as_u16());
    if status.is_server_error() {
        Err(SendError::Retry(detail))
    } else {
        Err(SendError::Reject(detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{HttpConfig, TlsConfig};

    fn target(url: &str, http: HttpConfig) -> WebhookTarget {
        WebhookTarget {
            url: Some(url.to_owned()),
            url_file: None,
            send_resolved: true,
            http,
            max_alerts: 0,
            timeout: Some(std::time::Duration::from_secs(2)),
        }
    }

    #[tokio::test]
    async fn an_unreachable_https_receiver_is_retried_not_a_crash() {
        let http = HttpConfig {
            tls_config: Some(TlsConfig {
                insecure_skip_verify: true,
                ..TlsConfig::default()
            }),
            ..HttpConfig::default()
        };
        let target = target("https://127.0.0.1:1/", http);
        let client = webhook_client(&target).unwrap();
        let outcome = send_webhook(&client, &target, "{}").await;
        assert!(matches!(outcome, Err(SendError::Retry(_))), "{outcome:?}");
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let http = HttpConfig {
            tls_config: Some(TlsConfig {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..TlsConfig::default()
            }),
            ..HttpConfig::default()
        };
        let error = webhook_client(&target("https://example.com/", http))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("ca_file /nonexistent/ca.pem:"), "{error}");
    }
}
