//! Running the collector: storage, the scrape manager, the HTTP server, reloads on SIGHUP and
//! `POST /-/reload`, and the in-process agent of the single-node default.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::alerting::{self, Alerting, AlertingError, AlertingSource, Reloaded};
use crate::api::lifecycle::{LifecycleState, ReloadError, ReloadStatus, Reloader};
use crate::api::protocol_errors::JsonErrorListener;
use crate::api::tsdb_admin::TsdbAdminState;
use crate::api::{ApiState, AppState, MetadataSource};
use crate::config::{Config, ConfigErrors, base_dir_of};
use crate::labels::Labels;
use crate::promql::Engine;
use crate::remote_write::Receiver;
use crate::scrape::{ApplyError, ScrapeManager};
use crate::tsdb::{Appendable, Querier, Storage, StorageError, StorageOptions};
use osprey_web::self_metrics::{register_build_info, register_process_metrics};
use osprey_web::{Security, TlsListener};
use prometheus_client::registry::Registry;

/// How often file_sd files are checked for changes.
const FILE_SD_POLL: Duration = Duration::from_secs(1);

/// What `osprey-collector` was asked to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The configuration file; none for the single-node default.
    pub config: Option<PathBuf>,
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// TLS and authentication from `--web.config.file`; the default is neither.
    pub security: Arc<Security>,
}

/// Why the collector could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is invalid.
    #[error("invalid configuration:\n{0}")]
    Config(#[from] ConfigErrors),
    /// The configuration could not be applied.
    #[error("cannot apply the configuration: {0}")]
    Apply(#[from] ApplyError),
    /// A socket could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Rules or notifications could not start.
    #[error(transparent)]
    Alerting(#[from] AlertingError),
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Storage(#[from] StorageError),
    /// The HTTP server failed.
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    /// The in-process agent (`local_agent: true`) could not start.
    #[error("cannot start the in-process agent: {0}")]
    LocalAgent(std::io::Error),
}

/// Runs until SIGTERM or Ctrl-C.
pub async fn run(options: RunOptions) -> Result<(), RunError> {
    let local_agent = Arc::new(LocalAgent::default());
    let (config, base_dir) = match &options.config {
        Some(path) => (Config::load(path)?, base_dir_of(path)),
        None => {
            tracing::info!(
                "no --config: monitoring this machine through an in-process agent as job node"
            );
            let own = SocketAddr::new(
                loopback_if_unspecified(options.listen.ip()),
                options.listen.port(),
            );
            (Config::single_node(&own.to_string()), PathBuf::from("."))
        }
    };
    let config = local_agent
        .add_job(config)
        .await
        .map_err(RunError::LocalAgent)?;
    let storage = Arc::new(open_storage(&options.data_dir, &config)?);
    let engine = Engine::new(
        storage.clone() as Arc<dyn Querier>,
        config.query.engine_config(),
    );
    let (stop_alerting, alerting_stopped) = tokio::sync::watch::channel(false);
    let source = AlertingSource {
        config: &config,
        base_dir: &base_dir,
        single_node: options.config.is_none(),
    };
    let external_url = format!("http://{}", external_host(options.listen));
    let alerting = alerting::start(
        source,
        &storage,
        engine.clone(),
        &external_url,
        alerting_stopped,
    )
    .await?;
    let external_labels = Labels::from_pairs(&config.global.external_labels);
    let manager = ScrapeManager::new(storage.clone() as Arc<dyn Appendable>);
    manager.apply(config, &base_dir).await?;
    manager.spawn_file_watcher(FILE_SD_POLL);
    let reload_status = Arc::new(ReloadStatus::default());
    reload_status.record(true);
    let reloader: Arc<dyn Reloader> = Arc::new(FileReloader {
        path: options.config.clone(),
        local_agent,
        manager: manager.clone(),
        alerting: alerting.clone(),
        status: reload_status.clone(),
    });
    tokio::spawn(reload_on_sighup(reloader.clone()));
    let ready = Arc::new(AtomicBool::new(true));
    let remote_write = Arc::new(Receiver::new(storage.clone() as Arc<dyn Appendable>));
    let mut registry = self_metrics(&manager, &reload_status, &storage, &alerting);
    remote_write.register_metrics(&mut registry);
    let lifecycle = LifecycleState {
        ready,
        storage: storage.clone() as Arc<dyn Appendable>,
        reloader,
        registry: Arc::new(registry),
    };
    let tsdb = TsdbAdminState {
        storage: storage.clone(),
        data_dir: options.data_dir.clone(),
    };
    let app = crate::api::app(AppState {
        query: ApiState {
            engine,
            metadata: storage as Arc<dyn MetadataSource>,
        },
        external_labels,
        remote_write,
        scrape: manager.clone(),
        lifecycle,
        rules: alerting.rules.clone(),
        notifier: alerting.notifier.clone(),
        tsdb,
        security: options.security.clone(),
    });
    let listener = bind(options.listen).await?;
    tracing::info!(address = %options.listen, tls = options.security.tls.is_some(),
        auth = options.security.auth.is_some(), version = env!("CARGO_PKG_VERSION"), "osprey-collector listening");
    match options.security.tls.clone() {
        Some(tls) => {
            let listener = TlsListener::new(listener, tls).map_err(RunError::Serve)?;
            axum::serve(JsonErrorListener(listener), app)
                .with_graceful_shutdown(shutdown_signal())
                .await
        }
        None => {
            axum::serve(JsonErrorListener(listener), app)
                .with_graceful_shutdown(shutdown_signal())
                .await
        }
    }
    .map_err(RunError::Serve)?;
    manager.shutdown().await;
    let _ = stop_alerting.send(true);
    tracing::info!("osprey-collector stopped");
    Ok(())
}

/// The collector's own metrics: one registry in which each stage registers its families.
fn self_metrics(
    manager: &ScrapeManager,
    reload_status: &ReloadStatus,
    storage: &Storage,
    alerting: &Alerting,
) -> Registry {
    let mut registry = Registry::default();
    register_build_info(
        &mut registry,
        "osprey_collector",
        "A metric with a constant '1' value labeled by the collector's version",
    );
    manager.register_metrics(&mut registry);
    reload_status.register(&mut registry);
    storage.register_metrics(&mut registry);
    alerting.rules.register_metrics(&mut registry);
    alerting.notifier.metrics.register(&mut registry);
    register_process_metrics(&mut registry);
    registry
}

/// Opens the store in `data_dir` with the configuration's retention and cache size; the store's
/// own defaults (15 days, no size limit, 4 MiB, 2% of the filesystem kept free) apply where the
/// configuration says nothing.
fn open_storage(data_dir: &Path, config: &Config) -> Result<Storage, RunError> {
    let mut options = StorageOptions::default();
    if let Some(time) = config.storage.retention_time {
        options.retention_time = Some(time.0);
    }
    if let Some(size) = config.storage.retention_size {
        options.retention_size = Some(size.0);
    }
    if let Some(size) = config.storage.cache_size {
        options.cache_bytes = usize::try_from(size.0).unwrap_or(usize::MAX);
    }
    if let Some(size) = config.storage.min_free_bytes {
        options.min_free_bytes = Some(size.0);
    }
    let storage = Storage::open(data_dir, options)?;
    tracing::info!(data_dir = %data_dir.display(), "storage open");
    Ok(storage)
}

/// The host part of links back to the collector in notifications: the listen address, with an
/// unspecified address replaced by this machine's name.
fn external_host(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        format!("{}:{}", host_name(), listen.port())
    } else {
        listen.to_string()
    }
}

/// This machine's name, as `uname -n` prints it.
fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The address to reach a server listening on `ip` from this machine.
fn loopback_if_unspecified(ip: std::net::IpAddr) -> std::net::IpAddr {
    if ip.is_unspecified() {
        Ipv4Addr::LOCALHOST.into()
    } else {
        ip
    }
}

async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, RunError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| RunError::Listen { address, source })
}

/// The agent inside the collector (`local_agent: true`), started the first time a
/// configuration asks for it and kept for the life of the process, so a reload keeps its
/// address.
///
/// This is the collector's only use of the osprey-agent crate (web security and logging come
/// from osprey-web). Running the agent's own collectors and router in-process keeps the
/// one-command default a single binary that reports exactly what a separate agent would; a
/// child `osprey-agent` process or a cargo feature would add a second thing to install or
/// build for no smaller default binary, since the default calls every collector.
#[derive(Default)]
struct LocalAgent {
    address: tokio::sync::OnceCell<SocketAddr>,
}

impl LocalAgent {
    /// `config` with the job scraping the in-process agent when it sets `local_agent`,
    /// starting the agent if it is not running yet.
    async fn add_job(&self, config: Config) -> Result<Config, std::io::Error> {
        if !config.local_agent {
            return Ok(config);
        }
        let address = self.address.get_or_try_init(serve_agent).await?;
        Ok(config.with_local_agent_job(&address.to_string(), &host_name()))
    }
}

/// Serves the agent's router on a loopback port, so the collector scrapes it the way it
/// scrapes any other agent.
async fn serve_agent() -> Result<SocketAddr, std::io::Error> {
    use osprey_agent::collect::Collectors;
    use osprey_agent::config::AgentConfig;
    use osprey_agent::http::{AppState, app};
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let address = listener.local_addr()?;
    let collectors = Arc::new(Collectors::from_config(&AgentConfig::default()));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app(AppState { collectors })).await {
            tracing::error!(%error, "in-process agent stopped");
        }
    });
    tracing::info!(%address, "in-process agent listening");
    Ok(address)
}

/// Reloads from the configuration file the collector started with: the scrape configuration,
/// the rule files and the Alertmanager configuration, all checked before any is applied.
struct FileReloader {
    path: Option<PathBuf>,
    local_agent: Arc<LocalAgent>,
    manager: Arc<ScrapeManager>,
    alerting: Alerting,
    status: Arc<ReloadStatus>,
}

impl FileReloader {
    async fn reload_now(&self) -> Result<(), ReloadError> {
        let Some(path) = &self.path else {
            return Err(ReloadError::NoConfigFile);
        };
        let config = Config::load(path)?;
        let config = self
            .local_agent
            .add_job(config)
            .await
            .map_err(ReloadError::LocalAgent)?;
        let base_dir = base_dir_of(path);
        let reloaded = Reloaded::read(AlertingSource {
            config: &config,
            base_dir: &base_dir,
            single_node: false,
        })?;
        self.manager.apply(config, &base_dir).await?;
        self.alerting.apply(reloaded).await;
        Ok(())
    }
}

impl Reloader for FileReloader {
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), ReloadError>> + Send + '_>> {
        Box::pin(async move {
            let result = self.reload_now().await;
            self.status.record(result.is_ok());
            match &result {
                Ok(()) => tracing::info!("configuration reloaded"),
                Err(error) => {
                    tracing::error!(%error, "reload refused; the previous configuration keeps running")
                }
            }
            result
        })
    }
}

async fn reload_on_sighup(reloader: Arc<dyn Reloader>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGHUP; reload with POST /-/reload");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        let _ = reloader.reload().await;
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGTERM; stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}
