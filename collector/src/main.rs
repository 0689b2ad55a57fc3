//! The `osprey-collector` binary. Not ready yet: storage, scraping and queries are being built.

use clap::Parser;

/// Osprey's central server: scrapes agents, stores series, answers PromQL, sends alerts.
///
/// Not ready yet: this build only reports its version.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!(
        "osprey-collector {}: not ready yet; run osprey-agent and scrape it with Prometheus",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::FAILURE
}
