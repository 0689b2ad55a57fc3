//! Relative file names in an Alertmanager configuration (passwords, tokens, certificates, webhook
//! URLs kept in files) resolve against the configuration file's directory, as Alertmanager
//! resolves them, not against the collector's working directory.

use std::path::Path;

use super::Notifications;
use super::config::{HttpConfig, TlsConfig};

impl Notifications {
    /// These notifications with every file they name made relative to `dir`.
    pub fn with_files_relative_to(mut self, dir: &Path) -> Notifications {
        for receiver in &mut self.receivers {
            for email in &mut receiver.email {
                resolve(dir, &mut email.password_file);
                resolve_tls(dir, &mut email.tls);
            }
            for webhook in &mut receiver.webhook {
                resolve(dir, &mut webhook.url_file);
                resolve_http(dir, &mut webhook.http);
            }
        }
        self
    }
}

fn resolve_http(dir: &Path, http: &mut HttpConfig) {
    resolve(dir, &mut http.bearer_token_file);
    if let Some(authorization) = &mut http.authorization {
        resolve(dir, &mut authorization.credentials_file);
    }
    if let Some(basic) = &mut http.basic_auth {
        resolve(dir, &mut basic.password_file);
    }
    if let Some(tls) = &mut http.tls_config {
        resolve_tls(dir, tls);
    }
}

fn resolve_tls(dir: &Path, tls: &mut TlsConfig) {
    resolve(dir, &mut tls.ca_file);
    resolve(dir, &mut tls.cert_file);
    resolve(dir, &mut tls.key_file);
}

fn resolve(dir: &Path, file: &mut Option<String>) {
    if let Some(name) = file {
        *name = dir.join(&*name).to_string_lossy().into_owned();
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_alertmanager_config;
    use std::path::Path;

    #[test]
    fn files_named_in_receivers_resolve_against_the_configuration_directory() {
        let text = "route: {receiver: r}\nreceivers:\n- name: r\n  email_configs:\n  - to: a@b.c\n    from: o@b.c\n    smarthost: m:25\n    auth_username: u\n    auth_password_file: pw\n    tls_config: {ca_file: /abs/ca.pem}\n  webhook_configs:\n  - url_file: hook-url\n    http_config:\n      basic_auth: {username: u, password_file: secrets/p}\n";
        let notifications = parse_alertmanager_config(text)
            .unwrap()
            .with_files_relative_to(Path::new("/etc/osprey"));
        let receiver = &notifications.receivers[0];
        assert_eq!(
            receiver.email[0].password_file.as_deref(),
            Some("/etc/osprey/pw")
        );
        assert_eq!(
            receiver.email[0].tls.ca_file.as_deref(),
            Some("/abs/ca.pem")
        );
        let webhook = &receiver.webhook[0];
        assert_eq!(webhook.url_file.as_deref(), Some("/etc/osprey/hook-url"));
        let basic = webhook.http.basic_auth.as_ref().unwrap();
        assert_eq!(
            basic.password_file.as_deref(),
            Some("/etc/osprey/secrets/p")
        );
    }
}
