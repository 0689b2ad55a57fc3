//! The `osprey-collector` binary: reads flags, then runs the collector, checks a configuration,
//! imports data or backs up the store; the work itself lives in the library.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use osprey_collector::import;
use osprey_collector::server::{RunError, RunOptions, run};
use osprey_collector::tsdb::{DB_FILE, Storage, StorageOptions};
use osprey_web::{Security, SecuritySources};

/// The allocator: with glibc's the resident size stayed ~45 MB above the live heap at 200k
/// series (freed scrape buffers and database pages were kept in per-thread arenas).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Osprey's central server: scrapes agents, stores series, answers PromQL, sends alerts.
///
/// With no --config it monitors the machine it runs on through an in-process agent.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Configuration file, shaped like prometheus.yml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the database.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Address of the HTTP server.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9718")]
    listen: SocketAddr,
    /// Web config file (TLS, basic auth, admin_users), as node_exporter's --web.config.file.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// File holding a bearer token that grants read access (as the agent's bearer_token_file).
    #[arg(long = "web.bearer-token-file", value_name = "FILE")]
    bearer_token_file: Option<PathBuf>,
    /// Accept basic-auth credentials over plain HTTP on a non-loopback address.
    #[arg(long = "web.allow-insecure-credentials")]
    allow_insecure_credentials: bool,
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a configuration file; print every problem as file:line:column and exit
    /// non-zero if there is any.
    CheckConfig {
        /// The YAML file to check.
        file: PathBuf,
    },
    /// Load OpenMetrics text with timestamps (what `promtool tsdb create-blocks-from
    /// openmetrics` reads) into the database, leaving it compacted. The collector must not be
    /// running on it.
    Import {
        /// Directory of the database.
        #[arg(long, value_name = "DIR", default_value = "./data")]
        data_dir: PathBuf,
        /// Most series the store may hold after the import (the scrape's per-target limit
        /// does not apply to a backfill).
        #[arg(long, value_name = "N", default_value_t = 10_000_000)]
        max_series: u64,
        /// The OpenMetrics file, ending with `# EOF`.
        file: PathBuf,
    },
    /// Write a consistent copy of the store to DEST, a new directory that is a data directory
    /// of its own (restore by starting the collector with `--data-dir DEST`, or by moving it
    /// into place). The collector must not be running; a running one writes the same copy on
    /// `POST /api/v1/admin/tsdb/snapshot`.
    Backup {
        /// The backup directory to create; an existing one is not overwritten.
        dest: PathBuf,
        /// The collector's data directory.
        #[arg(long, value_name = "DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    osprey_web::logging::init(&cli.log_format);
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}

/// Prints why the collector stopped, each cause once: configuration errors one per line with
/// a hint after them, anything else as one line.
fn report(error: &anyhow::Error) {
    if let Some(RunError::Config(errors)) = error.downcast_ref::<RunError>() {
        eprintln!("{errors}");
        eprintln!(
            "osprey-collector: {} error(s) in the configuration; fix them and start again \
             (`osprey-collector check-config FILE` checks a file without starting)",
            errors.0.len()
        );
        return;
    }
    // Errors that show their source in their own message are not followed by it again.
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
    }
    eprintln!("osprey-collector: error: {message}");
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::CheckConfig { file }) => Ok(check_config(&file)),
        Some(Command::Import {
            data_dir,
            file,
            max_series,
        }) => import(&data_dir, &file, max_series),
        Some(Command::Backup { dest, data_dir }) => backup(&data_dir, &dest),
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let security = Security::load_from(SecuritySources {
                web_config_file: cli.web_config_file.as_deref(),
                bearer_token_file: cli.bearer_token_file.as_deref(),
                listen: cli.listen,
                allow_insecure_credentials: cli.allow_insecure_credentials,
                how_to_allow: "pass --web.allow-insecure-credentials",
            })?;
            let options = RunOptions {
                config: cli.config,
                listen: cli.listen,
                data_dir: cli.data_dir,
                security: Arc::new(security),
            };
            runtime.block_on(run(options))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check_config(file: &Path) -> ExitCode {
    let verdict = osprey_collector::check_config::check_config(file);
    print!("{}", verdict.report);
    for problem in &verdict.problems {
        eprintln!("{problem}");
    }
    match verdict.valid {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}

fn import(data_dir: &Path, file: &Path, max_series: u64) -> anyhow::Result<ExitCode> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} {eta}")
            .context("progress bar template")?,
    );
    let report = import::import_to_store(data_dir, file, max_series, |done, compacting| {
        bar.set_length(done.bytes_total);
        bar.set_position(done.bytes_done);
        bar.set_message(match compacting {
            true => format!("{} samples, compacting", done.samples),
            false => format!("{} samples", done.samples),
        });
    })
    .with_context(|| format!("importing into the store in {}", data_dir.display()))?;
    bar.finish_and_clear();
    println!(
        "imported {} samples of {} series from {} into {}",
        report.samples,
        report.series,
        file.display(),
        data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn backup(data_dir: &Path, dest: &Path) -> anyhow::Result<ExitCode> {
    let file = data_dir.join(DB_FILE);
    anyhow::ensure!(file.exists(), "no store at {}", file.display());
    let storage = Storage::open(data_dir, StorageOptions::default())
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let report = storage
        .backup(dest)
        .with_context(|| format!("backing up to {}", dest.display()))?;
    storage.close().context("closing the store")?;
    println!(
        "backed up {} entries ({} bytes) to {}",
        report.entries,
        report.bytes,
        dest.display()
    );
    Ok(ExitCode::SUCCESS)
}
