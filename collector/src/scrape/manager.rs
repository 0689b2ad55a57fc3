//! The set of running scrape loops: built from the configuration, kept in step with it on
//! reload and with file_sd files as they change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prometheus_client::registry::Registry;

use crate::config::{Config, RelabelAction, Scheme, ScrapeConfig, StaticConfig};
use crate::tsdb::Appendable;

use super::fetch::Auth;
use super::file_sd;
use super::ingest::{IngestRules, LabelLimits};
use super::metrics::ScrapeMetrics;
use super::relabel::Relabel;
use super::scrape_loop::{JobSettings, LoopHandle, StoreFailures, TargetStatus};
use super::target::{Target, targets_of};

/// Why a configuration could not be applied; the previous one keeps running.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A job's HTTP client could not be built (unreadable or invalid TLS files).
    #[error("job {job:?}: {error}")]
    Client {
        /// The job.
        job: String,
        /// What failed.
        error: ClientError,
    },
    /// A regex failed to compile (validation normally catches this first).
    #[error("job {job:?}: {error}")]
    Regex {
        /// The job.
        job: String,
        /// The compile error.
        error: regex::Error,
    },
}

/// Why a job's HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A TLS file could not be read.
    #[error("tls_config.{field} {}: {source}", path.display())]
    Read {
        /// The setting that names the file (`ca_file`, `cert_file`, `key_file`).
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The CA file holds no valid PEM certificate.
    #[error("tls_config.ca_file {}: {source}", path.display())]
    InvalidCa {
        /// The file.
        path: PathBuf,
        /// What the TLS library said.
        source: reqwest::Error,
    },
    /// The client certificate and key do not form an identity.
    #[error("tls_config client certificate: {0}")]
    InvalidIdentity(#[source] reqwest::Error),
    /// Only one of the certificate and the key is set.
    #[error("tls_config needs both cert_file and key_file")]
    HalfIdentity,
    /// The HTTP client itself could not be built (for https, most often: no system
    /// certificate roots).
    #[error(
        "{0} (an https job verifies targets with the system's certificate roots: install \
         ca-certificates, or give tls_config.ca_file)"
    )]
    Build(#[source] reqwest::Error),
}

/// A target and its health, for `/api/v1/targets`.
#[derive(Debug, Clone)]
pub struct TargetView {
    /// The target.
    pub target: Target,
    /// Its health.
    pub status: TargetStatus,
}

struct Job {
    key: String,
    config: ScrapeConfig,
    settings: Arc<JobSettings>,
    relabel: Vec<Relabel>,
    files: BTreeMap<PathBuf, (Option<SystemTime>, Vec<StaticConfig>)>,
    loops: BTreeMap<String, LoopHandle>,
}

#[derive(Default)]
struct State {
    config: Arc<Config>,
    base_dir: PathBuf,
    jobs: BTreeMap<String, Job>,
}

/// Owns every scrape loop.
pub struct ScrapeManager {
    storage: Arc<dyn Appendable>,
    state: tokio::sync::Mutex<State>,
    metrics: ScrapeMetrics,
    store_failures: StoreFailures,
}

impl ScrapeManager {
    /// A manager appending to `storage`, scraping nothing until [`ScrapeManager::apply`].
    pub fn new(storage: Arc<dyn Appendable>) -> Arc<Self> {
        Arc::new(ScrapeManager {
            storage,
            state: tokio::sync::Mutex::new(State::default()),
            metrics: ScrapeMetrics::default(),
            store_failures: StoreFailures::default(),
        })
    }

    /// Registers the scrape loops' metrics (scrapes, failures, samples, refusals, targets by
    /// health).
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry);
    }

    /// Switches to `config` (relative file_sd paths resolve against `base_dir`): loops of
    /// unchanged targets keep running, removed targets are stopped and their series marked
    /// stale. Nothing changes if the configuration cannot be applied.
    pub async fn apply(&self, config: Config, base_dir: &Path) -> Result<(), ApplyError> {
        let mut built = BTreeMap::new();
        let mut clients = Clients::new();
        for job in &config.scrape_configs {
            let name = job.job_name.value.clone();
            built.insert(name, build_job(&config, job, &mut clients)?);
        }
        let mut state = self.state.lock().await;
        let mut old = std::mem::take(&mut state.jobs);
        for (name, mut job) in built {
            if let Some(previous) = old.remove(&name) {
                if previous.key == job.key {
                    job.loops = previous.loops;
                    job.settings = previous.settings;
                } else {
                    stop_all(previous.loops).await;
                }
            }
            state.jobs.insert(name, job);
        }
        for (_, job) in old {
            stop_all(job.loops).await;
        }
        state.config = Arc::new(config);
        state.base_dir = base_dir.to_owned();
        let config = state.config.clone();
        let base_dir = state.base_dir.clone();
        for job in state.jobs.values_mut() {
            refresh_files(job, &base_dir, true);
            self.sync(&config, job).await;
        }
        Ok(())
    }

    /// Re-reads file_sd files that changed and updates those jobs' targets.
    pub async fn refresh_files(&self) {
        let mut state = self.state.lock().await;
        let config = state.config.clone();
        let base_dir = state.base_dir.clone();
        for job in state.jobs.values_mut() {
            if refresh_files(job, &base_dir, false) {
                self.sync(&config, job).await;
            }
        }
    }

    /// Watches file_sd files every `period` until the manager is dropped.
    pub fn spawn_file_watcher(self: &Arc<Self>, period: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                let Some(manager) = weak.upgrade() else { break };
                manager.refresh_files().await;
            }
        });
    }

    /// The configuration in force.
    pub async fn config(&self) -> Arc<Config> {
        self.state.lock().await.config.clone()
    }

    /// Every active target with its health, by job then URL.
    pub async fn targets(&self) -> Vec<TargetView> {
        let state = self.state.lock().await;
        state
            .jobs
            .values()
            .flat_map(|job| job.loops.values())
            .map(|handle| TargetView {
                target: handle.target.clone(),
                status: handle.status(),
            })
            .collect()
    }

    /// Stops every loop without marking series stale: the targets are still there, and after
    /// a restart their series (and the alerts on them) carry on.
    pub async fn shutdown(&self) {
        let mut state = self.state.lock().await;
        for (_, job) in std::mem::take(&mut state.jobs) {
            for (_, handle) in job.loops {
                handle.halt().await;
            }
        }
    }

    async fn sync(&self, config: &Config, job: &mut Job) {
        let mut groups = job.config.static_configs.clone();
        groups.extend(job.files.values().flat_map(|(_, g)| g.iter().cloned()));
        let wanted = targets_of(config, &job.config, &job.relabel, &groups);
        let wanted: BTreeMap<String, Target> =
            wanted.into_iter().map(|t| (target_key(&t), t)).collect();
        let gone: Vec<String> = job
            .loops
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(handle) = job.loops.remove(&key) {
                tracing::info!(target = %handle.target.url, job = %handle.target.job, "target removed");
                handle.stop().await;
            }
        }
        for (key, target) in wanted {
            if !job.loops.contains_key(&key) {
                tracing::info!(target = %target.url, job = %target.job, "target added");
                let handle = LoopHandle::spawn(
                    target,
                    job.settings.clone(),
                    self.storage.clone(),
                    self.metrics.clone(),
                    self.store_failures.clone(),
                );
                job.loops.insert(key, handle);
            }
        }
    }
}

fn target_key(target: &Target) -> String {
    format!("{} {}", target.url, target.labels)
}

async fn stop_all(loops: BTreeMap<String, LoopHandle>) {
    for (_, handle) in loops {
        handle.stop().await;
    }
}

/// Re-reads the job's file_sd files; with `force`, all of them. Returns whether anything
/// changed. A file that fails to parse keeps its previous targets, as in Prometheus.
fn refresh_files(job: &mut Job, base_dir: &Path, force: bool) -> bool {
    let mut current = BTreeMap::new();
    for sd in &job.config.file_sd_configs {
        for pattern in &sd.files {
            for path in file_sd::expand(pattern, base_dir) {
                current.insert(path, ());
            }
        }
    }
    let mut changed =
        job.files.len() != current.len() || job.files.keys().any(|k| !current.contains_key(k));
    job.files.retain(|path, _| current.contains_key(path));
    for path in current.into_keys() {
        let modified = file_sd::modified(&path);
        let known = job.files.get(&path).map(|(m, _)| *m);
        if !force && known == Some(modified) {
            continue;
        }
        match file_sd::read_groups(&path) {
            Ok(groups) => {
                changed = true;
                job.files.insert(path, (modified, groups));
            }
            Err(error) => {
                tracing::error!(%error, "cannot read file_sd file; keeping its previous targets");
                let previous = job.files.remove(&path).map(|(_, g)| g).unwrap_or_default();
                job.files.insert(path, (modified, previous));
            }
        }
    }
    changed
}

/// What [`ScrapeManager::apply`] would refuse in `config` (unreadable or invalid TLS files),
/// found by building every job without starting any.
pub fn check_jobs(config: &Config) -> Vec<ApplyError> {
    let mut clients = Clients::new();
    config
        .scrape_configs
        .iter()
        .filter_map(|job| build_job(config, job, &mut clients).err())
        .collect()
}

/// HTTP clients by the TLS settings they were built with: building one loads the system's
/// root certificates, which costs more than many scrapes, so jobs with the same settings (most
/// often none) share a client and its connection pool.
type Clients = BTreeMap<String, reqwest::Client>;

fn build_job(
    config: &Config,
    job: &ScrapeConfig,
    clients: &mut Clients,
) -> Result<Job, ApplyError> {
    let name = job.job_name.value.clone();
    let regex_error = |error| ApplyError::Regex {
        job: name.clone(),
        error,
    };
    let relabel = Relabel::compile_all(&job.relabel_configs).map_err(regex_error)?;
    let metric_relabel = Relabel::compile_all(&job.metric_relabel_configs).map_err(regex_error)?;
    let tls_key = client_key(job);
    let client = match clients.get(&tls_key) {
        Some(client) => client.clone(),
        None => {
            let client = build_client(job).map_err(|error| ApplyError::Client {
                job: name.clone(),
                error,
            })?;
            clients.insert(tls_key, client.clone());
            client
        }
    };
    let auth = match (&job.basic_auth, &job.bearer_token, &job.bearer_token_file) {
        (Some(basic), _, _) => Auth::Basic {
            username: basic.username.clone(),
            password: basic.password.clone(),
            password_file: basic.password_file.clone(),
        },
        (None, Some(token), _) => Auth::Bearer(token.clone()),
        (None, None, Some(path)) => Auth::BearerFile(path.clone()),
        (None, None, None) => Auth::None,
    };
    let settings = JobSettings {
        client,
        auth,
        body_size_limit: job.body_size_limit.map(|b| b.0),
        rules: IngestRules {
            target_labels: Default::default(),
            honor_labels: job.honor_labels,
            honor_timestamps: job.honor_timestamps,
            metric_relabel,
            sample_limit: job.sample_limit,
            label_limits: LabelLimits {
                count: job.label_limit,
                name_length: job.label_name_length_limit,
                value_length: job.label_value_length_limit,
            },
        },
    };
    Ok(Job {
        key: settings_key(config, job),
        config: job.clone(),
        settings: Arc::new(settings),
        relabel,
        files: BTreeMap::new(),
        loops: BTreeMap::new(),
    })
}

/// Everything about a job that, when changed, needs its loops restarted (targets themselves
/// are compared separately).
fn settings_key(config: &Config, job: &ScrapeConfig) -> String {
    let metric_relabel: Vec<_> = job
        .metric_relabel_configs
        .iter()
        .map(|r| {
            let regex = &r.regex.value;
            (
                &r.source_labels,
                &r.separator,
                &r.target_label,
                regex,
                r.modulus,
                &r.replacement,
                r.action,
            )
        })
        .collect();
    format!(
        "{:?}",
        (
            config.interval_of(job),
            config.timeout_of(job),
            &job.basic_auth,
            &job.bearer_token,
            &job.bearer_token_file,
            &job.tls_config,
            plain_http_only(job),
            metric_relabel,
            (
                job.sample_limit,
                job.label_limit,
                job.label_name_length_limit,
                job.label_value_length_limit,
                job.body_size_limit,
            ),
            job.honor_labels,
            job.honor_timestamps,
        )
    )
}

/// What decides a job's HTTP client: jobs with the same key share one.
fn client_key(job: &ScrapeConfig) -> String {
    format!("{:?}", (plain_http_only(job), &job.tls_config))
}

/// Whether every scrape of `job` is plain HTTP: its scheme is `http`, it has no TLS settings
/// and no relabelling can set `__scheme__` (to `https`) on a target. Only such a job's client
/// goes without certificate roots, and clients are shared and kept by this as well.
fn plain_http_only(job: &ScrapeConfig) -> bool {
    job.scheme == Scheme::Http
        && job.tls_config.is_none()
        && !job.relabel_configs.iter().any(|rule| {
            rule.action == RelabelAction::Labelmap
                || rule.target_label.as_deref() == Some("__scheme__")
        })
}

fn build_client(job: &ScrapeConfig) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("osprey-collector/", env!("CARGO_PKG_VERSION")))
        .no_proxy();
    if plain_http_only(job) {
        // A plain-HTTP job needs no certificate roots; not loading the system's lets the
        // collector start on a machine without any (no ca-certificates package).
        builder = builder.tls_certs_only([]);
    }
    if let Some(tls) = &job.tls_config {
        if let Some(ca) = &tls.ca_file {
            let pem = read_tls_file("ca_file", ca)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
                ClientError::InvalidCa {
                    path: ca.clone(),
                    source,
                }
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => {
                let mut pem = read_tls_file("cert_file", cert)?;
                pem.extend(read_tls_file("key_file", key)?);
                let identity =
                    reqwest::Identity::from_pem(&pem).map_err(ClientError::InvalidIdentity)?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => return Err(ClientError::HalfIdentity),
        }
        builder = builder.tls_danger_accept_invalid_certs(tls.insecure_skip_verify);
    }
    builder.build().map_err(ClientError::Build)
}

fn read_tls_file(field: &'static str, path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::Read {
        field,
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn jobs(scrape_configs: &str) -> Vec<ScrapeConfig> {
        let text = format!("scrape_configs:\n{scrape_configs}");
        Config::parse(&text, Path::new("test.yml"))
            .unwrap()
            .scrape_configs
    }

    #[test]
    fn only_jobs_that_cannot_reach_https_go_without_certificate_roots() {
        let jobs = jobs(
            "  - job_name: plain\n\
             \x20 - job_name: https\n    scheme: https\n\
             \x20 - job_name: relabelled\n    relabel_configs:\n\
             \x20     - {target_label: __scheme__, replacement: https}\n",
        );
        let plain: Vec<bool> = jobs.iter().map(plain_http_only).collect();
        assert_eq!(plain, [true, false, false]);
        // Clients are shared by this key, so the https job cannot get the plain one's.
        assert_ne!(client_key(&jobs[0]), client_key(&jobs[1]));
    }
}
