//! The textfile collector in the running agent: a file written into the directory appears in
//! the next scrape, and a malformed one is reported without harming the rest of the scrape.

use osprey::agent::start_agent;
use osprey::net::{metrics, sample};

/// Starts the agent reading `*.prom` files from a new directory; returns both.
fn agent_with_textfile_directory() -> (osprey::agent::Agent, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::create_dir(dir.path().join("textfile")).unwrap();
    // A relative directory is taken relative to the configuration file.
    std::fs::write(&config, "[host.textfile]\ndirectory = \"textfile\"\n").unwrap();
    let agent = start_agent(&["--no-containers", "--config", config.to_str().unwrap()]);
    (agent, dir)
}

/// Writes `text` as `name` the way cron jobs should: a temporary file renamed into place.
fn publish(dir: &std::path::Path, name: &str, text: &str) {
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, dir.join(name)).unwrap();
}

#[test]
fn a_published_file_appears_in_the_next_scrape() {
    let (agent, dir) = agent_with_textfile_directory();
    let textfile = dir.path().join("textfile");
    let before = metrics(agent.port);
    assert_eq!(sample(&before, "node_textfile_scrape_error"), Some(0.0));
    assert!(!before.contains("backup_last_success_timestamp_seconds"));
    publish(
        &textfile,
        "backup.prom",
        "# HELP backup_last_success_timestamp_seconds When the backup last succeeded.\n\
         # TYPE backup_last_success_timestamp_seconds gauge\n\
         backup_last_success_timestamp_seconds{job=\"db\"} 1.7e+09\n",
    );
    let after = metrics(agent.port);
    assert_eq!(
        sample(&after, "backup_last_success_timestamp_seconds{job=\"db\"}"),
        Some(1.7e9),
        "{after}"
    );
    assert!(after.contains("# TYPE backup_last_success_timestamp_seconds gauge\n"));
    let file = textfile.join("backup.prom");
    let mtime_series = format!("node_textfile_mtime_seconds{{file=\"{}\"}}", file.display());
    assert!(sample(&after, &mtime_series).is_some(), "{after}");
    assert_eq!(sample(&after, "node_textfile_scrape_error"), Some(0.0));
}

#[test]
fn a_malformed_file_sets_the_error_and_leaves_the_scrape_intact() {
    let (agent, dir) = agent_with_textfile_directory();
    let textfile = dir.path().join("textfile");
    publish(&textfile, "good.prom", "jobs_done_total 7\n");
    publish(&textfile, "bad.prom", "half_written 1\nbad metric line {\n");
    let text = metrics(agent.port);
    assert_eq!(
        sample(&text, "node_textfile_scrape_error"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "jobs_done_total"), Some(7.0), "{text}");
    assert!(!text.contains("half_written"), "{text}");
    // The other collectors are untouched: host families and every collector's success.
    assert!(sample(&text, "node_memory_MemTotal_bytes").is_some());
    assert_eq!(
        sample(
            &text,
            "node_scrape_collector_success{collector=\"textfile\"}"
        ),
        Some(1.0)
    );
    assert!(
        agent.log().contains("bad.prom"),
        "the bad file is named in the log:\n{}",
        agent.log()
    );
}
