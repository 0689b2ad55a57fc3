//! Log setup shared by Osprey's binaries: tracing to stderr, filtered by `OSPREY_LOG`.

/// Installs the global subscriber: `json` for log collectors, anything else for people;
/// the level comes from `OSPREY_LOG` (default `info`).
pub fn init(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OSPREY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
