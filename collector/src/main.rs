//! The `osprey-collector` binary. Not ready yet: storage, scraping and queries are being built.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use osprey_collector::tsdb::{DB_FILE, Storage, StorageOptions};

/// Osprey's central server: scrapes agents, stores series, answers PromQL, sends alerts.
///
/// Not ready yet: this build only reports its version and backs up a store.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a consistent copy of the store to DEST, a new file that opens as a database
    /// (restore by placing it as DATA_DIR/osprey.redb). The collector must not be running;
    /// a running collector offers the same through its admin API.
    Backup {
        /// The backup file to create; an existing file is not overwritten.
        dest: PathBuf,
        /// The collector's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        eprintln!(
            "osprey-collector {}: not ready yet; run osprey-agent and scrape it with Prometheus",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::FAILURE;
    };
    let result = match command {
        Command::Backup { dest, data_dir } => backup(&data_dir, &dest),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osprey-collector: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn backup(data_dir: &Path, dest: &Path) -> anyhow::Result<()> {
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
    Ok(())
}
