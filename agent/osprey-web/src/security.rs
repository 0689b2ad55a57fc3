//! Who may talk to a server and how: TLS and authentication from the web-config file and the
//! server's own settings, checked once at startup.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;

use crate::auth::{self, Authenticator};
use crate::config::{WebConfig, WebConfigError};
use crate::tls;

/// Why a server's security settings cannot be used.
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

/// Where a server's security settings come from: its flags or configuration file.
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

    /// A file holding `text` in a temporary directory.
    fn temp_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn sources<'a>(web_config_file: &'a Path, listen: &str, allow: bool) -> SecuritySources<'a> {
        SecuritySources {
            web_config_file: Some(web_config_file),
            bearer_token_file: None,
            listen: listen.parse().unwrap(),
            allow_insecure_credentials: allow,
            how_to_allow: "set allow_insecure_credentials",
        }
    }

    fn users() -> String {
        let hash = bcrypt::hash("pw", 4).unwrap();
        format!("basic_auth_users:\n  alice: {hash}\n")
    }

    #[test]
    fn credentials_over_plain_http_on_the_network_are_refused() {
        let (_dir, web) = temp_file(&users());
        let err = Security::load_from(sources(&web, "0.0.0.0:9717", false)).unwrap_err();
        assert!(
            matches!(err, SecurityError::InsecureCredentials { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("set allow_insecure_credentials"));
    }

    #[test]
    fn loopback_or_explicit_permission_allows_plain_http() {
        let (_dir, web) = temp_file(&users());
        let loopback = Security::load_from(sources(&web, "127.0.0.1:9717", false));
        assert!(loopback.unwrap().auth.is_some());
        let allowed = Security::load_from(sources(&web, "0.0.0.0:9717", true));
        assert!(allowed.unwrap().auth.is_some());
    }

    #[test]
    fn admin_users_must_be_basic_auth_users() {
        let text = format!("{}admin_users: [alice]\n", users());
        let (_dir, web) = temp_file(&text);
        let security = Security::load_from(sources(&web, "127.0.0.1:9717", false)).unwrap();
        assert!(security.admin_users.contains("alice"));
        std::fs::write(&web, text.replace("[alice]", "[bob]")).unwrap();
        let err = Security::load_from(sources(&web, "127.0.0.1:9717", false)).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"bob\" is not one of basic_auth_users"),
            "{err}"
        );
    }

    #[test]
    fn missing_certificate_file_is_named() {
        let (_dir, web) =
            temp_file("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n");
        let err = Security::load_from(sources(&web, "127.0.0.1:9717", false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("TLS certificate file"), "{err}");
        assert!(err.contains("nope.crt"), "{err}");
    }

    #[test]
    fn an_empty_bearer_token_file_is_refused() {
        let (_dir, token) = temp_file("\n");
        let sources = SecuritySources {
            web_config_file: None,
            bearer_token_file: Some(&token),
            listen: "127.0.0.1:9717".parse().unwrap(),
            allow_insecure_credentials: false,
            how_to_allow: "",
        };
        let err = Security::load_from(sources).unwrap_err();
        assert!(err.to_string().contains("the file is empty"), "{err}");
    }
}
