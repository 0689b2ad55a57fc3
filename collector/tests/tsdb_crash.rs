//! Crash test: a child process ingesting at full speed is killed with SIGKILL at random moments,
//! 50 times. After each kill the store reopens, every sample acknowledged more than one second
//! before the kill is there with its value, and redb's own integrity check passes.
//!
//! The child is this same test binary, re-executed with `OSPREY_TSDB_CRASH_CHILD` set.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use osprey_collector::labels::{Labels, MatchOp, Matcher};
use osprey_collector::tsdb::{Appendable, Querier, Storage, StorageOptions};

const CHILD_ENV: &str = "OSPREY_TSDB_CRASH_CHILD";
const SERIES: usize = 200;
const KILLS: usize = 50;

fn labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "crash_test_value".to_owned()),
        ("series", i.to_string()),
    ])
}

fn value(series: usize, t: i64) -> f64 {
    (t % 1_000_003) as f64 * 0.5 + series as f64
}

fn options() -> StorageOptions {
    StorageOptions {
        min_free_bytes: Some(0),
        ..StorageOptions::default()
    }
}

/// Appends one batch per timestamp (microseconds since the epoch, so each run continues after
/// the last) and prints `ack T` after each commit.
fn run_child(dir: &Path) -> ! {
    let storage = Storage::open(dir, options()).expect("child opens the store");
    let names: Vec<Labels> = (0..SERIES).map(labels).collect();
    let mut last = 0i64;
    loop {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let t = (now.as_micros() as i64).max(last + 1);
        last = t;
        let mut app = storage.appender("crash");
        for (i, l) in names.iter().enumerate() {
            app.append(l, t, value(i, t)).expect("append");
        }
        app.commit().expect("commit");
        println!("ack {t}");
    }
}

/// Starts the child, kills it after `run`, returns the timestamps acknowledged more than one
/// second before the kill.
fn ingest_and_kill(dir: &Path, run: Duration) -> Vec<i64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill_9_loses_nothing_acknowledged",
            "--nocapture",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(t) = line.strip_prefix("ack ") {
                let _ = tx.send((Instant::now(), t.parse::<i64>().unwrap()));
            }
        }
    });
    std::thread::sleep(run);
    let killed_at = Instant::now();
    child.kill().expect("SIGKILL the child");
    child.wait().unwrap();
    reader.join().unwrap();
    rx.try_iter()
        .filter(|(seen, _)| killed_at.duration_since(*seen) > Duration::from_secs(1))
        .map(|(_, t)| t)
        .collect()
}

fn check(storage: &Storage, acked: &[i64], round: usize) {
    let (Some(&first), Some(&last)) = (acked.first(), acked.last()) else {
        return;
    };
    let name = Matcher::new(MatchOp::Equal, "__name__", "crash_test_value").unwrap();
    let at_last = storage
        .select(std::slice::from_ref(&name), last, last)
        .unwrap();
    assert_eq!(
        at_last.len(),
        SERIES,
        "round {round}: series with the last acknowledged sample"
    );
    for series in &at_last {
        let i: usize = series.labels.get("series").unwrap().parse().unwrap();
        assert_eq!(series.samples.len(), 1);
        assert_eq!(series.samples[0].v.to_bits(), value(i, last).to_bits());
    }
    let one = Matcher::new(MatchOp::Equal, "series", (round % SERIES).to_string()).unwrap();
    let found = storage.select(&[name, one], first, last).unwrap();
    let times: Vec<i64> = found[0].samples.iter().map(|s| s.t).collect();
    for t in acked {
        assert!(
            times.binary_search(t).is_ok(),
            "round {round}: acknowledged sample at {t} missing"
        );
    }
}

#[test]
fn kill_9_loses_nothing_acknowledged() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut reopen_max = Duration::ZERO;
    let mut checked = 0;
    for round in 0..KILLS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let run = Duration::from_millis(700 + rng % 1200);
        let acked = ingest_and_kill(dir.path(), run);
        let started = Instant::now();
        let storage = Storage::open(dir.path(), options()).expect("reopen after SIGKILL");
        reopen_max = reopen_max.max(started.elapsed());
        check(&storage, &acked, round);
        checked += acked.len();
        storage.close().unwrap();
        let mut db = redb::Database::open(dir.path().join(osprey_collector::tsdb::DB_FILE))
            .expect("redb opens the file");
        assert!(db.check_integrity().unwrap(), "round {round}: integrity");
    }
    println!(
        "{KILLS} kills: {checked} acknowledged batches checked, slowest reopen {reopen_max:?}"
    );
    assert!(
        checked > 0,
        "no batch was acknowledged early enough to check"
    );
}
