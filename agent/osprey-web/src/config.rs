//! The web-config file node_exporter and Prometheus read with `--web.config.file`: TLS and
//! basic-auth users, in their YAML schema, so operators reuse the file they have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A web-config file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("cannot read web config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML is invalid or does not fit the schema; the error names line and column.
    #[error("invalid web config file {path}: {error}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's error (boxed: it is large). Not a `source`: the message already says
        /// it, once.
        error: Box<serde_saphyr::Error>,
    },
    /// A basic-auth user's hash is not a bcrypt hash.
    #[error(
        "invalid web config file {path}: basic_auth_users: the hash of user {user:?} is not bcrypt"
    )]
    NotBcrypt {
        /// The file.
        path: PathBuf,
        /// The user.
        user: String,
    },
    /// An admin user is not one of the basic-auth users.
    #[error("invalid web config file {path}: admin_users: {user:?} is not one of basic_auth_users")]
    UnknownAdmin {
        /// The file.
        path: PathBuf,
        /// The admin user.
        user: String,
    },
    /// A TLS certificate, key or CA file is missing or unusable.
    #[error("web config file {config}: {what} {path}: {message}")]
    TlsFile {
        /// The web config file.
        config: PathBuf,
        /// Which file: "TLS certificate file", "TLS key file" or "client CA file".
        what: &'static str,
        /// The file named in the config.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The TLS settings are inconsistent or ask for something Osprey does not do.
    #[error("web config file {config}: {message}")]
    Tls {
        /// The web config file.
        config: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The parsed file. Keys Osprey does not implement are rejected rather than ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// TLS; absent means plain HTTP.
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    /// User name to bcrypt hash; empty means no basic auth.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    /// Osprey's extension: the basic-auth users allowed to call state-changing routes (the
    /// collector's reload, deletion, silences, acknowledgements). Empty means every
    /// authenticated client may. The agent has no such routes.
    #[serde(default)]
    pub admin_users: Vec<String>,
}

/// `tls_server_config`, with file paths relative to the web config file's directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// PEM certificate chain, server certificate first.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// PEM CA certificates that client certificates must chain to.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// `NoClientCert` (default), `VerifyClientCertIfGiven` or `RequireAndVerifyClientCert`.
    #[serde(default)]
    pub client_auth_type: ClientAuthType,
    /// Lowest TLS version accepted: `TLS12` (default) or `TLS13`.
    #[serde(default)]
    pub min_version: Option<TlsVersion>,
}

/// Whether and how client certificates are checked (Go's `tls.ClientAuthType` names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ClientAuthType {
    /// No client certificate is asked for.
    #[default]
    NoClientCert,
    /// A client certificate is optional; when given it must chain to the client CA.
    VerifyClientCertIfGiven,
    /// A client certificate chaining to the client CA is required.
    RequireAndVerifyClientCert,
}

/// A TLS protocol version as written in web-config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2.
    TLS12,
    /// TLS 1.3.
    TLS13,
}

impl WebConfig {
    /// Reads a web-config file; relative TLS paths are resolved against its directory.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|error| WebConfigError::Invalid {
            path: path.to_owned(),
            error: Box::new(error),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Some(tls) = &mut config.tls_server_config {
            tls.cert_file = dir.join(&tls.cert_file);
            tls.key_file = dir.join(&tls.key_file);
            tls.client_ca_file = tls.client_ca_file.as_ref().map(|ca| dir.join(ca));
        }
        for (user, hash) in &config.basic_auth_users {
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(WebConfigError::NotBcrypt {
                    path: path.to_owned(),
                    user: user.clone(),
                });
            }
        }
        if let Some(user) = config
            .admin_users
            .iter()
            .find(|user| !config.basic_auth_users.contains_key(*user))
        {
            return Err(WebConfigError::UnknownAdmin {
                path: path.to_owned(),
                user: user.clone(),
            });
        }
        Ok(config)
    }

    /// Parses web-config YAML; the error names the line and column of the problem.
    pub fn parse(text: &str) -> Result<Self, serde_saphyr::Error> {
        if text.trim().is_empty() {
            return Ok(WebConfig::default());
        }
        serde_saphyr::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_exporter_example_parses() {
        let config = WebConfig::parse(
            "tls_server_config:\n  cert_file: node.crt\n  key_file: node.key\n\
             basic_auth_users:\n  alice: $2y$10$abcdefghijklmnopqrstuuNnJ5n4b9bE0cT5aM2WlQ8VJ3Y4r1Ty2\n",
        )
        .unwrap();
        let tls = config.tls_server_config.unwrap();
        assert_eq!(tls.cert_file, Path::new("node.crt"));
        assert_eq!(tls.client_auth_type, ClientAuthType::NoClientCert);
        assert!(config.basic_auth_users.contains_key("alice"));
    }

    #[test]
    fn unknown_key_names_the_key_and_line() {
        let err =
            WebConfig::parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  cert_fiel: c\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("cert_fiel"), "{err}");
        assert!(err.contains('4'), "{err}");
    }

    #[test]
    fn missing_key_file_is_named() {
        let err = WebConfig::parse("tls_server_config:\n  cert_file: a\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("key_file"), "{err}");
    }
}
