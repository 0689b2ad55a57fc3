//! Who may talk to the agent and how: TLS and authentication from the web-config file and the
//! agent's own settings, checked once at startup.

mod auth;
mod config;
mod tls;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;

pub use auth::{Authenticator, Principal};
pub use config::{WebConfig, WebConfigError};
pub use tls::TlsListener;

use crate::config::AgentConfig;

/// Why the agent's security settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// The web-config file is unusable.
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// The bearer token file could not be read or is empty.
    #[error("bearer_token_file {path}: {message}")]
    BearerToken {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Credentials would travel in clear text over the network.
    #[error(
        "refusing to accept credentials over plain HTTP on {listen}: anyone on the network path \
         could read them. Add tls_server_config to the web config file, listen on a loopback \
         address, or {how_to_allow}"
    )]
    InsecureCredentials {
        /// The non-loopback listen address.
        listen: SocketAddr,
        /// How the server's operator can accept the risk anyway.
        how_to_allow: &'static str,
    },
}

/// The checked security settings: what the server wraps its routes and connections in.
#[derive(Debug, Default)]
pub struct Security {
    /// The TLS configuration, when TLS is on.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The authenticator, when any credential is configured.
    pub auth: Option<Arc<Authenticator>>,
    /// The users allowed to call state-changing routes; empty means every authenticated client.
    pub admin_users: BTreeSet<String>,
}

/// Where a server's security settings come from, for servers other than the agent.
#[derive(Debug, Clone, Copy)]
pub struct SecuritySources<'a> {
    /// The web-config file, if any.
    pub web_config_file: Option<&'a Path>,
    /// A file holding the bearer token, if any.
    pub bearer_token_file: Option<&'a Path>,
    /// Where the server listens.
    pub listen: SocketAddr,
    /// Whether credentials may travel over plain HTTP on a non-loopback address.
    pub allow_insecure_credentials: bool,
    /// Told to the operator when plain-HTTP credentials are refused.
    pub how_to_allow: &'static str,
}

impl Security {
    /// Loads the web-config and bearer token files named in `config` and checks them together.
    pub fn load(config: &AgentConfig) -> Result<Self, SecurityError> {
        Self::load_from(SecuritySources {
            web_config_file: config.web_config_file.as_deref(),
            bearer_token_file: config.bearer_token_file.as_deref(),
            listen: config.listen,
            allow_insecure_credentials: config.allow_insecure_credentials,
            how_to_allow: "set allow_insecure_credentials = true in the agent config",
        })
    }

    /// Loads the files named in `sources` and checks them together.
    pub fn load_from(sources: SecuritySources<'_>) -> Result<Self, SecurityError> {
        let (web, web_path) = match sources.web_config_file {
            Some(path) => (WebConfig::load(path)?, path.to_owned()),
            None => (WebConfig::default(), PathBuf::new()),
        };
        let bearer_token = match sources.bearer_token_file {
            Some(path) => Some(read_token(path)?),
            None => None,
        };
        let tls = match &web.tls_server_config {
            Some(tls) => Some(tls::server_config(&web_path, tls)?),
            None => None,
        };
        let has_credentials = !web.basic_auth_users.is_empty() || bearer_token.is_some();
        if has_credentials
            && tls.is_none()
            && !sources.listen.ip().is_loopback()
            && !sources.allow_insecure_credentials
        {
            return Err(SecurityError::InsecureCredentials {
                listen: sources.listen,
                how_to_allow: sources.how_to_allow,
            });
        }
        let admin_users = web.admin_users.into_iter().collect();
        let auth = has_credentials
            .then(|| Arc::new(Authenticator::new(web.basic_auth_users, bearer_token)));
        Ok(Security {
            tls,
            auth,
            admin_users,
        })
    }

    /// Puts every route behind authentication when credentials are configured.
    pub fn protect(&self, router: Router) -> Router {
        match &self.auth {
            Some(auth) => router.layer(axum::middleware::from_fn_with_state(
                Arc::clone(auth),
                auth::require_auth,
            )),
            None => router,
        }
    }
}

fn read_token(path: &Path) -> Result<String, SecurityError> {
    let error = |message: String| SecurityError::BearerToken {
        path: path.to_owned(),
        message,
    };
    let token = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(error("the file is empty".to_owned()));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_users(listen: &str, allow: bool) -> (tempfile::TempDir, AgentConfig) {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("web.yml");
        let hash = bcrypt::hash("pw", 4).unwrap();
        std::fs::write(&web, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
        let config = AgentConfig {
            listen: listen.parse().unwrap(),
            web_config_file: Some(web),
            allow_insecure_credentials: allow,
            ..AgentConfig::default()
        };
        (dir, config)
    }

    #[test]
    fn credentials_over_plain_http_on_the_network_are_refused() {
        let (_dir, config) = config_with_users("0.0.0.0:9717", false);
        let err = Security::load(&config).unwrap_err();
        assert!(
            matches!(err, SecurityError::InsecureCredentials { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("allow_insecure_credentials"));
    }

    #[test]
    fn loopback_or_explicit_permission_allows_plain_http() {
        let (_dir, config) = config_with_users("127.0.0.1:9717", false);
        assert!(Security::load(&config).unwrap().auth.is_some());
        let (_dir, config) = config_with_users("0.0.0.0:9717", true);
        assert!(Security::load(&config).unwrap().auth.is_some());
    }

    #[test]
    fn admin_users_must_be_basic_auth_users() {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("web.yml");
        let hash = bcrypt::hash("pw", 4).unwrap();
        let text = format!("basic_auth_users:\n  alice: {hash}\nadmin_users: [alice]\n");
        std::fs::write(&web, &text).unwrap();
        let config = AgentConfig {
            listen: "127.0.0.1:9717".parse().unwrap(),
            web_config_file: Some(web.clone()),
            ..AgentConfig::default()
        };
        let security = Security::load(&config).unwrap();
        assert!(security.admin_users.contains("alice"));
        std::fs::write(&web, text.replace("[alice]", "[bob]")).unwrap();
        let err = Security::load(&config).unwrap_err().to_string();
        assert!(
            err.contains("\"bob\" is not one of basic_auth_users"),
            "{err}"
        );
    }

    #[test]
    fn missing_certificate_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("web.yml");
        std::fs::write(
            &web,
            "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
        )
        .unwrap();
        let config = AgentConfig {
            web_config_file: Some(web),
            ..AgentConfig::default()
        };
        let err = Security::load(&config).unwrap_err().to_string();
        assert!(err.contains("TLS certificate file"), "{err}");
        assert!(err.contains("nope.crt"), "{err}");
    }
}
