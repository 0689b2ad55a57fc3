//! The `osprey-agent` binary: reads flags and config, builds the collectors, serves `/metrics`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use osprey_agent::collect::Collectors;
use osprey_agent::config::AgentConfig;
use osprey_agent::http::{AppState, app};
use osprey_web::{Security, TlsListener};

/// Osprey's node agent: host and Docker container metrics on /metrics, in the Prometheus format.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Address to listen on [default: 0.0.0.0:9717, or `listen` from the config file].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// TOML configuration file (see packaging/agent.toml for every key).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Web config file (TLS, basic auth) in node_exporter's and Prometheus's format.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// The Docker Engine API socket [default: /var/run/docker.sock, or `containers.docker_socket`
    /// from the config file].
    #[arg(long, value_name = "PATH")]
    docker_socket: Option<PathBuf>,
    /// Do not collect Docker container metrics.
    #[arg(long)]
    no_containers: bool,
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a configuration file and exit non-zero with the problem if it is invalid.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    osprey_web::logging::init(&cli.log_format);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("osprey-agent: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// glibc gives each thread that allocates its own arena; for a daemon that mostly sleeps, two
/// arenas keep the resident set smaller (about 0.6 MiB here) at no measurable cost.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::CheckConfig { file }) = &cli.command {
        Security::load_from(AgentConfig::load(file)?.security_sources())?;
        println!("{}: OK", file.display());
        return Ok(());
    }
    let mut config = match &cli.config {
        Some(path) => AgentConfig::load(path)?,
        None => AgentConfig::default(),
    };
    if let Some(listen) = cli.listen {
        config.listen = listen;
    }
    if let Some(path) = cli.web_config_file {
        config.web_config_file = Some(path);
    }
    if let Some(socket) = cli.docker_socket {
        config.containers.docker_socket = socket;
    }
    if cli.no_containers {
        config.containers.enabled = false;
    }
    let security = Security::load_from(config.security_sources())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let collectors = Arc::new(runtime.block_on(async { Collectors::from_config(&config) }));
    runtime.block_on(serve(config, security, collectors))
}

async fn serve(
    config: AgentConfig,
    security: Security,
    collectors: Arc<Collectors>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let router = security.protect(app(AppState { collectors }));
    tracing::info!(address = %config.listen, tls = security.tls.is_some(),
        auth = security.auth.is_some(), version = env!("CARGO_PKG_VERSION"), "osprey-agent listening");
    match security.tls {
        Some(tls) => {
            let listener = TlsListener::new(listener, tls).context("starting TLS")?;
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown_signal())
                .await
        }
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown_signal())
                .await
        }
    }
    .context("serving HTTP")?;
    tracing::info!("osprey-agent stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGTERM; stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}
