//! Behaviour of the redb store beyond round-tripping samples: series limits, deletion,
//! retention, backup (alerting's tables included), metadata and state, label queries, and a
//! full disk.

use std::path::Path;
use std::time::Duration;

mod support;

use osprey::process::wait_until;
use osprey_collector::labels::{Labels, MatchOp, Matcher};
use osprey_collector::notify::{
    HistoryQuery, Notifier, Silence, SilenceMatcher, parse_alertmanager_config,
};
use osprey_collector::rules::{Alert, AlertStateStore, StoredAlertState};
use osprey_collector::tsdb::{
    AppendError, Appendable, Commit, Committed, Metadata, Querier, STALE_NAN_BITS, SeriesLimit,
    Storage, StorageError, StorageOptions,
};
use support::store::options;

const HOUR: i64 = 3_600_000;

fn labels(name: &str, instance: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("instance", instance)])
}

fn eq(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, name, value).unwrap()
}

/// The store in `dir`, dropping samples more than a day older than the newest.
fn open_with_one_day_retention(dir: &Path) -> Storage {
    Storage::open(
        dir,
        StorageOptions {
            retention_time: Some(Duration::from_secs(24 * 3600)),
            ..options()
        },
    )
    .unwrap()
}

/// Appends `count` samples 15 s apart from `start` to each labels.
fn fill(storage: &Storage, series: &[Labels], start: i64, count: i64) {
    for i in 0..count {
        let mut app = storage.appender("");
        for l in series {
            app.append(l, start + i * 15_000, i as f64).unwrap();
        }
        app.commit().unwrap();
    }
}

fn times(storage: &Storage, matchers: &[Matcher]) -> Vec<Vec<i64>> {
    storage
        .select(matchers, i64::MIN, i64::MAX)
        .unwrap()
        .iter()
        .map(|s| s.samples.iter().map(|x| x.t).collect())
        .collect()
}

#[test]
fn series_limits_refuse_new_series_with_a_counted_error() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(
        dir.path(),
        StorageOptions {
            max_series: 3,
            max_series_per_source: 2,
            ..options()
        },
    )
    .unwrap();
    let mut a = storage.appender("target-a");
    a.append(&labels("m", "1"), 1, 1.0).unwrap();
    a.append(&labels("m", "2"), 1, 1.0).unwrap();
    let err = a.append(&labels("m", "3"), 1, 1.0).unwrap_err();
    assert!(
        matches!(err, AppendError::SeriesLimit(SeriesLimit::Source(2))),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "series limit reached: this target would create more than 2 series \
         (storage max_series_per_source)"
    );
    // Existing series still take samples.
    a.append(&labels("m", "1"), 2, 1.0).unwrap();
    a.commit().unwrap();
    let mut b = storage.appender("target-b");
    b.append(&labels("m", "3"), 1, 1.0).unwrap();
    let err = b.append(&labels("m", "4"), 1, 1.0).unwrap_err();
    assert!(
        matches!(err, AppendError::SeriesLimit(SeriesLimit::Store(3))),
        "{err}"
    );
    b.commit().unwrap();
    let stats = storage.stats();
    assert_eq!(
        stats
            .source_limit_hits
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        stats
            .series_limit_hits
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn report_series_are_created_past_the_series_limits() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(
        dir.path(),
        StorageOptions {
            max_series: 2,
            max_series_per_source: 1,
            ..options()
        },
    )
    .unwrap();
    let mut scraped = storage.appender("target-a");
    scraped.append(&labels("m", "1"), 1, 1.0).unwrap();
    scraped.append(&labels("m", "2"), 1, 1.0).unwrap_err();
    scraped.commit().unwrap();
    let mut report = storage.report_appender("target-a");
    report.append(&labels("up", "1"), 1, 0.0).unwrap();
    report
        .append(&labels("scrape_series_added", "1"), 1, 0.0)
        .unwrap();
    report.commit().unwrap();
    assert_eq!(times(&storage, &[eq("instance", "1")]).len(), 3);
    // The report series count: the source and the store stay full for ordinary batches.
    let mut scraped = storage.appender("target-b");
    let err = scraped.append(&labels("m", "3"), 1, 1.0).unwrap_err();
    assert!(
        matches!(err, AppendError::SeriesLimit(SeriesLimit::Store(2))),
        "{err}"
    );
}

#[test]
fn out_of_order_samples_are_refused_and_counted_but_identical_repeats_pass() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let up = labels("up", "a");
    let mut app = storage.appender("");
    let r = app.append(&up, 1000, 1.0).unwrap();
    app.commit().unwrap();
    let mut app = storage.appender("");
    assert!(matches!(
        app.append(&up, 999, 1.0),
        Err(AppendError::OutOfOrder { series, .. }) if series == r
    ));
    app.append_ref(r, 999, 1.0).unwrap();
    app.append_ref(r, 1000, 2.0).unwrap();
    app.append_ref(r, 1000, 1.0).unwrap();
    assert_eq!(app.commit().unwrap(), Committed { out_of_order: 2 });
    assert_eq!(times(&storage, &[eq("__name__", "up")]), [vec![1000]]);
    let refused = storage
        .stats()
        .out_of_order_samples
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(refused, 3, "one by labels, two by handle");
    // Within one batch the later of two samples for the same time is refused too; a staleness
    // marker the series' own time overtook is dropped without being counted.
    let mut app = storage.appender("");
    app.append_ref(r, 2000, 1.0).unwrap();
    app.append_ref(r, 2000, 3.0).unwrap();
    app.append_ref(r, 1500, f64::from_bits(STALE_NAN_BITS))
        .unwrap();
    assert_eq!(app.commit().unwrap(), Committed { out_of_order: 1 });
    assert_eq!(times(&storage, &[eq("__name__", "up")]), [vec![1000, 2000]]);
    assert_eq!(
        storage
            .stats()
            .out_of_order_samples
            .load(std::sync::atomic::Ordering::Relaxed),
        4
    );
}

#[test]
fn handles_of_deleted_series_are_unknown_and_new_series_get_handles_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let a = labels("up", "a");
    let b = labels("up", "b");
    let mut app = storage.appender("");
    let ra = app.append(&a, 1000, 1.0).unwrap();
    app.commit().unwrap();
    // A batch opened before the series is deleted sees the deletion.
    let mut app = storage.appender("");
    storage
        .delete_series(&[eq("instance", "a")], 0, 5000)
        .unwrap();
    assert!(matches!(
        app.append_ref(ra, 2000, 2.0),
        Err(AppendError::UnknownRef)
    ));
    // A series created after the batch was opened, by another batch, is known by its handle.
    let mut other = storage.appender("");
    let rb = other.append(&b, 1000, 1.0).unwrap();
    other.commit().unwrap();
    app.append_ref(rb, 2000, 2.0).unwrap();
    let ra = app.append(&a, 2000, 2.0).unwrap();
    app.append_ref(ra, 3000, 3.0).unwrap();
    app.commit().unwrap();
    assert_eq!(
        times(&storage, &[eq("__name__", "up")]),
        [vec![2000, 3000], vec![1000, 2000]]
    );
}

#[test]
fn deleted_samples_stay_deleted_after_reopen_and_empty_series_vanish() {
    let dir = tempfile::tempdir().unwrap();
    let base = 1_700_000_000_000;
    let a = labels("cpu", "a");
    let b = labels("cpu", "b");
    {
        let storage = Storage::open(dir.path(), options()).unwrap();
        // 8 hours: compacted blocks, raw chunks and head all hold some of it.
        fill(&storage, &[a.clone(), b.clone()], base, 8 * 240);
        storage.flush_head().unwrap();
        storage.compact(true).unwrap();
        fill(&storage, &[a.clone(), b.clone()], base + 8 * HOUR, 240);
        let cut_from = base + 2 * HOUR;
        let cut_to = base + 9 * HOUR;
        assert_eq!(
            storage
                .delete_series(&[eq("instance", "a")], cut_from, cut_to)
                .unwrap(),
            1
        );
        assert_eq!(
            storage
                .delete_series(&[eq("instance", "b")], i64::MIN, i64::MAX)
                .unwrap(),
            1
        );
        let left = times(&storage, &[eq("__name__", "cpu")]);
        assert_eq!(left.len(), 1);
        assert!(left[0].iter().all(|&t| t < cut_from || t > cut_to));
        assert_eq!(left[0].len(), 2 * 240);
        storage.sync().unwrap();
        // Dropped without closing: the write-ahead records are replayed on open.
    }
    let storage = Storage::open(dir.path(), options()).unwrap();
    let left = times(&storage, &[eq("__name__", "cpu")]);
    assert_eq!(
        left.len(),
        1,
        "series b is gone, a keeps its samples outside the range"
    );
    assert_eq!(left[0].len(), 2 * 240);
    assert_eq!(
        storage
            .label_values("instance", &[], i64::MIN, i64::MAX)
            .unwrap(),
        ["a"]
    );
}

#[test]
fn retention_by_time_drops_old_days_and_their_series() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open_with_one_day_retention(dir.path());
    let day0 = 1_699_920_000_000; // a UTC midnight
    let old = labels("old", "x");
    let kept = labels("kept", "x");
    fill(&storage, &[old.clone(), kept.clone()], day0, 240);
    fill(
        &storage,
        std::slice::from_ref(&kept),
        day0 + 3 * 24 * HOUR,
        240,
    );
    storage.flush_head().unwrap();
    storage.compact(false).unwrap();
    assert!(times(&storage, &[eq("__name__", "old")]).is_empty());
    let kept_times = times(&storage, &[eq("__name__", "kept")]);
    assert_eq!(kept_times[0].len(), 240);
    assert_eq!(
        storage
            .label_values("__name__", &[], i64::MIN, i64::MAX)
            .unwrap(),
        ["kept"]
    );
}

/// The next number of a xorshift sequence (deterministic noise for test data).
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Bytes of the files under `dir`, as `du -sb` counts them.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                dir_bytes(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

#[test]
fn retention_returns_the_space_of_dropped_days_to_the_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let series: Vec<Labels> = (0..300)
        .map(|i| labels("node_load", &format!("host-{i}")))
        .collect();
    // Three days starting late in a day, so the oldest and newest day files are partial and
    // the cutoff falls deep into a day file, which is rewritten without what fell out.
    let start = 1_699_920_000_000 + 17 * HOUR;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for step in 0..3 * 24 * 240 {
        let mut app = storage.appender("");
        for (i, l) in series.iter().enumerate() {
            let t = start + step * 15_000 + (xorshift(&mut rng) % 5) as i64;
            app.append(l, t, ((step + i as i64) % 97) as f64 / 4.0)
                .unwrap();
        }
        app.commit().unwrap();
    }
    storage.flush_head().unwrap();
    storage.compact(true).unwrap();
    storage.close().unwrap();
    // Measured at its smallest: the database file without the pages compaction freed.
    Storage::shrink_closed(dir.path()).unwrap();
    let before = dir_bytes(dir.path());

    let storage = open_with_one_day_retention(dir.path());
    // One maintenance pass of the background thread: compaction, then retention.
    for _ in 0..2 {
        storage.compact(false).unwrap();
    }
    let after = dir_bytes(dir.path());
    assert!(
        after * 100 <= before * 45,
        "3 days took {before} bytes; with a 1-day retention {after} bytes remain"
    );
    let kept = times(&storage, &[eq("instance", "host-7")]);
    let newest = start + (3 * 24 * 240 - 1) * 15_000;
    let oldest = kept[0][0];
    assert!(
        (newest - 24 * HOUR..newest - 24 * HOUR + 15_005).contains(&oldest),
        "the oldest sample kept ({oldest}) should be the first within the retention time"
    );
}

#[test]
fn one_sample_stamped_far_ahead_does_not_age_out_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open_with_one_day_retention(dir.path());
    let recent = labels("recent", "x");
    let start = osprey_collector::vocab::now_ms() - 2 * HOUR;
    fill(&storage, std::slice::from_ref(&recent), start, 240);
    fill(&storage, &[labels("ahead", "x")], i64::MAX / 2, 1);
    storage.flush_head().unwrap();
    storage.compact(false).unwrap();
    let recent_times = times(&storage, &[eq("__name__", "recent")]);
    assert_eq!(
        recent_times.first().map(Vec::len),
        Some(240),
        "a sample far in the future made recent data look older than the retention time"
    );
}

#[test]
fn retention_by_size_keeps_the_database_under_budget_dropping_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    // Above the database file's own high-water mark (about 6 MiB here: it never shrinks while
    // open), so the budget is met by dropping days.
    let budget = 10 << 20;
    let storage = Storage::open(
        dir.path(),
        StorageOptions {
            retention_size: Some(budget),
            ..options()
        },
    )
    .unwrap();
    let series: Vec<Labels> = (0..200).map(|i| labels("noise", &i.to_string())).collect();
    let day0 = 1_699_920_000_000;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for day in 0..8 {
        for i in 0..480 {
            let mut app = storage.appender("");
            for l in &series {
                // Incompressible values, so eight days clearly exceed the budget.
                let v = (xorshift(&mut rng) >> 11) as f64;
                app.append(l, day0 + day * 24 * HOUR + i as i64 * 180_000, v)
                    .unwrap();
            }
            app.commit().unwrap();
        }
        storage.flush_head().unwrap();
        // A maintenance pass, as the background thread makes.
        storage.compact(false).unwrap();
    }
    let left = storage
        .select(&[eq("__name__", "noise")], i64::MIN, i64::MAX)
        .unwrap();
    assert!(!left.is_empty(), "everything was dropped");
    let oldest = left.iter().map(|s| s.samples[0].t).min().unwrap();
    let newest = left
        .iter()
        .map(|s| s.samples.last().unwrap().t)
        .max()
        .unwrap();
    assert!(oldest > day0, "the oldest day should have gone");
    assert!(newest > day0 + 7 * 24 * HOUR, "the newest day should stay");
    assert!(storage.used_bytes().unwrap() <= budget);
}

#[test]
fn backup_opens_as_a_store_with_the_same_samples_metadata_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let series = [labels("a", "1"), labels("b", "2")];
    fill(&storage, &series, 1_700_000_000_000, 500);
    storage.flush_head().unwrap();
    storage.compact(true).unwrap();
    fill(&storage, &series, 1_700_100_000_000, 50);
    let mut app = storage.appender("");
    let help = Metadata {
        kind: "gauge".into(),
        help: "A test gauge.".into(),
        unit: String::new(),
    };
    app.set_metadata("a", help.clone());
    app.commit().unwrap();
    storage
        .put_state("rules/for", Some(b"pending since 5"))
        .unwrap();
    let copy_dir = dest.path().join("copy");
    let report = storage.backup(&copy_dir).unwrap();
    assert!(report.bytes > 0 && report.entries > 0);
    assert!(
        storage.backup(&copy_dir).is_err(),
        "an existing backup is not overwritten"
    );
    let copy = Storage::open(&copy_dir, options()).unwrap();
    let all = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
    assert_eq!(
        copy.select(std::slice::from_ref(&all), i64::MIN, i64::MAX)
            .unwrap(),
        storage.select(&[all], i64::MIN, i64::MAX).unwrap()
    );
    assert_eq!(copy.metadata("a"), Some(help));
    assert_eq!(
        copy.get_state("rules/for").unwrap().as_deref(),
        Some(&b"pending since 5"[..])
    );
}

#[test]
fn backup_carries_alert_state_silences_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    // A firing alert as the rules keep it.
    let alert: Alert = serde_json::from_str(
        r#"{"labels": [["alertname", "HighCpu"]], "annotations": {}, "state": "firing",
            "value": 93.5, "active_at": 1000, "fired_at": 301000, "resolved_at": 0,
            "last_sent_at": 301000, "valid_until": 541000, "keep_firing_since": 0}"#,
    )
    .unwrap();
    let rule = "rules.yml\0host\0HighCpu";
    StoredAlertState::new(storage.key_value())
        .save(&[(rule.to_owned(), vec![alert.clone()])])
        .unwrap();
    let notifications = parse_alertmanager_config(
        "route:\n  receiver: hook\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:1/\n",
    )
    .unwrap();
    let notifier = Notifier::open(notifications.clone(), storage.key_value(), "http://c").unwrap();
    let silence_id = notifier
        .silences
        .create(Silence {
            id: String::new(),
            matchers: vec![SilenceMatcher {
                name: "alertname".to_owned(),
                value: "HighCpu".to_owned(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: 0,
            ends_at: i64::MAX / 2,
            created_by: "ana".to_owned(),
            comment: "maintenance".to_owned(),
        })
        .unwrap();
    let labels = [("alertname".to_owned(), "HighCpu".to_owned())].into();
    notifier
        .history
        .observe(&labels, &Default::default(), 93.5, 1_000, None)
        .unwrap();
    let copy_dir = dest.path().join("copy");
    storage.backup(&copy_dir).unwrap();
    drop(notifier);

    let copy = Storage::open(&copy_dir, options()).unwrap();
    let state = StoredAlertState::new(copy.key_value());
    assert_eq!(state.load(rule).unwrap(), vec![alert]);
    let restored = Notifier::open(notifications, copy.key_value(), "http://c").unwrap();
    let silences = restored.silences.list();
    assert_eq!(silences.len(), 1);
    assert_eq!(silences[0].id, silence_id);
    assert_eq!(silences[0].comment, "maintenance");
    let history = restored.history.list(&HistoryQuery::default()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].labels, labels);
}

#[test]
fn label_names_and_values_follow_matchers_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let early = Labels::from_pairs([("__name__", "x"), ("job", "early"), ("zone", "a")]);
    let late = Labels::from_pairs([("__name__", "x"), ("job", "late")]);
    fill(&storage, &[early], 0, 10);
    fill(&storage, &[late], 10 * HOUR, 10);
    assert_eq!(
        storage.label_values("job", &[], 0, i64::MAX).unwrap(),
        ["early", "late"]
    );
    assert_eq!(
        storage
            .label_values("job", &[], 5 * HOUR, i64::MAX)
            .unwrap(),
        ["late"]
    );
    let not_late = Matcher::new(MatchOp::NotEqual, "job", "late").unwrap();
    assert_eq!(
        storage.label_names(&[not_late], 0, i64::MAX).unwrap(),
        ["__name__", "job", "zone"]
    );
    let no_zone = eq("zone", "");
    assert_eq!(times(&storage, &[no_zone]).len(), 1);
}

#[test]
fn select_labels_lists_the_series_select_finds_sorted_by_labels() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let series: Vec<Labels> = (0..50)
        .rev()
        .map(|i| labels(&format!("m{}", i % 3), &format!("host-{i}")))
        .collect();
    fill(&storage, &series[..25], 0, 4);
    storage.flush_head().unwrap();
    fill(&storage, &series[25..], 10 * HOUR, 4);
    let m1 = Matcher::new(MatchOp::Regex, "__name__", "m[01]").unwrap();
    let host = Matcher::new(MatchOp::NotRegex, "instance", "host-1.*").unwrap();
    for (start, end) in [(i64::MIN, i64::MAX), (0, HOUR), (5 * HOUR, 11 * HOUR)] {
        let matchers = [m1.clone(), host.clone()];
        let want: Vec<Labels> = storage
            .select(&matchers, start, end)
            .unwrap()
            .into_iter()
            .map(|s| s.labels)
            .collect();
        let got: Vec<Labels> = storage
            .select_labels(&matchers, start, end)
            .unwrap()
            .iter()
            .map(|l| (**l).clone())
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want, "range {start}..{end}");
    }
}

/// Mounts a small tmpfs for the disk-full test; `None` (and a message) where mounting is not
/// allowed, which fails in CI.
fn small_filesystem(dir: &Path) -> Option<()> {
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48m", "tmpfs"])
        .arg(dir)
        .status();
    if matches!(status, Ok(s) if s.success()) {
        return Some(());
    }
    osprey::skip_outside_ci("the disk-full test cannot mount a tmpfs here (needs root)");
    None
}

/// Runs `scenario` on a fresh 48 MiB tmpfs, unmounting it afterwards, pass or fail.
fn on_small_filesystem(scenario: impl FnOnce(&Path) + std::panic::UnwindSafe) {
    let dir = tempfile::tempdir().unwrap();
    if small_filesystem(dir.path()).is_none() {
        return;
    }
    let result = std::panic::catch_unwind(|| scenario(dir.path()));
    let _ = std::process::Command::new("umount")
        .arg(dir.path())
        .status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_full_disk_refuses_appends_keeps_queries_and_resumes_without_loss() {
    on_small_filesystem(disk_full_scenario);
}

#[test]
fn a_small_filesystem_stores_with_the_default_reserve() {
    on_small_filesystem(|root| {
        let storage = Storage::open(
            root.join("data"),
            StorageOptions {
                min_free_bytes: None,
                ..options()
            },
        )
        .unwrap();
        let mut app = storage.appender("");
        app.append(&labels("up", "a"), 1000, 1.0).unwrap();
        app.commit().unwrap();
        storage
            .sync()
            .expect("a 48 MiB filesystem keeps 4 MiB free by default, not 64 MiB");
        assert!(!storage.writes_blocked());
    });
}

fn disk_full_scenario(root: &Path) {
    let data = root.join("data");
    let storage = Storage::open(
        &data,
        StorageOptions {
            flush_interval: Duration::from_millis(50),
            min_free_bytes: Some(8 << 20),
            cache_bytes: 4 << 20,
            ..options()
        },
    )
    .unwrap();
    let up = labels("up", "a");
    let next_t = std::cell::Cell::new(0i64);
    let append = |storage: &Storage| {
        let mut app = storage.appender("");
        let t = next_t.get();
        let result = app.append(&up, t, t as f64);
        if result.is_ok() {
            app.commit().unwrap();
            next_t.set(t + 1000);
        }
        result.map(|_| ())
    };
    for _ in 0..100 {
        append(&storage).unwrap();
    }
    storage.sync().unwrap();
    // Fill the filesystem until less than the margin is free.
    let free = rustix::fs::statvfs(root).unwrap();
    let free = free.f_bavail * free.f_frsize;
    std::fs::write(root.join("filler"), vec![1u8; (free - (4 << 20)) as usize]).unwrap();
    // Samples accepted before the next tick notices stay in memory; after it, appends fail.
    wait_until("appends to be refused", Duration::from_secs(10), || {
        append(&storage).is_err()
    });
    let refused = append(&storage).unwrap_err();
    assert!(matches!(refused, AppendError::Storage(_)), "{refused}");
    let blocked = storage
        .stats()
        .writes_blocked
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(blocked, 1);
    assert!(
        storage.writes_blocked(),
        "readiness sees the blocked writes"
    );
    let side_write = storage.key_value().write(Commit::Durable).err();
    assert!(
        matches!(side_write, Some(StorageError::DiskFull(_))),
        "alerting's tables are refused writes too: {side_write:?}"
    );
    let accepted = next_t.get() / 1000;
    let stored = times(&storage, &[eq("__name__", "up")]);
    assert_eq!(
        stored[0].len() as i64,
        accepted,
        "queries keep working and see every sample"
    );
    std::fs::remove_file(root.join("filler")).unwrap();
    wait_until("appends to resume", Duration::from_secs(10), || {
        append(&storage).is_ok()
    });
    assert!(!storage.writes_blocked());
    let accepted = next_t.get() / 1000;
    storage.close().unwrap();
    let storage = Storage::open(&data, options()).unwrap();
    let stored = times(&storage, &[eq("__name__", "up")]);
    assert_eq!(
        stored[0].len() as i64,
        accepted,
        "nothing accepted was lost"
    );
}
