//! `osprey-collector backup DEST --data-dir DIR` writes a directory that opens as a store
//! holding the same samples (day files and raw chunks alike), and fails clearly where there is
//! no store.

use std::process::Command;
use std::time::Duration;

use osprey_collector::labels::{Labels, MatchOp, Matcher};
use osprey_collector::tsdb::{Appendable, Querier, Storage, StorageOptions};

fn options() -> StorageOptions {
    StorageOptions {
        retention_time: None,
        flush_interval: Duration::from_secs(3600),
        min_free_bytes: Some(0),
        ..StorageOptions::default()
    }
}

#[test]
fn backup_subcommand_copies_the_store() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let storage = Storage::open(data.path(), options()).unwrap();
    let up = Labels::from_pairs([("__name__", "up"), ("instance", "a")]);
    let mut app = storage.appender("");
    for i in 0..300 {
        app.append(&up, 1_700_000_000_000 + i * 15_000, (i % 2) as f64)
            .unwrap();
    }
    app.commit().unwrap();
    storage.flush_head().unwrap();
    storage.compact(true).unwrap();
    // And a later sample still in the head's write-ahead records.
    let mut app = storage.appender("");
    app.append(&up, 1_700_100_000_000, 7.0).unwrap();
    app.commit().unwrap();
    storage.sync().unwrap();
    drop(storage);

    let dest = out.path().join("restored");
    let status = Command::new(env!("CARGO_BIN_EXE_osprey-collector"))
        .arg("backup")
        .arg(&dest)
        .arg("--data-dir")
        .arg(data.path())
        .status()
        .unwrap();
    assert!(status.success());

    let all = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
    let original = Storage::open(data.path(), options()).unwrap();
    let day_files = std::fs::read_dir(dest.join("blocks")).unwrap().count();
    assert_eq!(day_files, 1, "the compacted day travels as its day file");
    let restored = Storage::open(&dest, options()).unwrap();
    let want = original
        .select(std::slice::from_ref(&all), i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(want[0].samples.len(), 301);
    assert_eq!(restored.select(&[all], i64::MIN, i64::MAX).unwrap(), want);
}

#[test]
fn backup_subcommand_without_a_store_fails_with_a_message() {
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_osprey-collector"))
        .arg("backup")
        .arg(empty.path().join("copy"))
        .arg("--data-dir")
        .arg(empty.path().join("missing"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no store at"), "{stderr}");
}
