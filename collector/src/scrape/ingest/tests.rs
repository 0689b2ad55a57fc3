//! Ingestion into the in-memory store: labels, staleness, limits, dropped samples and
//! metadata.

use super::*;
use crate::labels::{MatchOp, Matcher};
use crate::tsdb::{
    Appendable, MemoryStorage, Querier, SeriesLimit, Storage, StorageOptions, is_stale_nan,
};

fn rules() -> IngestRules {
    IngestRules {
        target_labels: Labels::from_pairs([("job", "node"), ("instance", "h:9100")]),
        honor_timestamps: true,
        ..IngestRules::default()
    }
}

/// Ingests `body` scraped at `t` and commits it as the scrape loop does, adding the samples the
/// commit drops as out of order.
fn scrape(
    store: &dyn Appendable,
    cache: &mut SeriesCache,
    rules: &IngestRules,
    body: &str,
    t: i64,
) -> Result<IngestOutcome, IngestFailure> {
    let mut app = store.appender("t");
    match cache.ingest(app.as_mut(), rules, body.as_bytes(), Format::Text, t) {
        Ok(mut outcome) => {
            outcome.out_of_order += app.commit().unwrap().out_of_order;
            Ok(outcome)
        }
        Err(failure) => {
            app.rollback();
            let mut app = store.appender("t");
            cache.stale_all(app.as_mut(), t).unwrap();
            app.commit().unwrap();
            Err(failure)
        }
    }
}

fn samples_of(store: &dyn Querier, name: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let m = Matcher::new(MatchOp::Equal, METRIC_NAME, name).unwrap();
    store
        .select(&[m], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.samples.iter().map(|x| (x.t, x.v)).collect(),
            )
        })
        .collect()
}

#[test]
fn series_get_target_labels_and_clashes_become_exported() {
    let store = MemoryStorage::new();
    let mut cache = SeriesCache::default();
    let body = "a{job=\"theirs\",x=\"1\"} 5\n";
    let outcome = scrape(&store, &mut cache, &rules(), body, 1000).unwrap();
    assert_eq!(
        outcome,
        IngestOutcome {
            scraped: 1,
            kept: 1,
            series_added: 1,
            ..IngestOutcome::default()
        }
    );
    let got = samples_of(&store, "a");
    assert_eq!(
        got[0].0,
        "a{exported_job=\"theirs\", instance=\"h:9100\", job=\"node\", x=\"1\"}"
    );
    let honoring = IngestRules {
        honor_labels: true,
        ..rules()
    };
    let store = MemoryStorage::new();
    scrape(&store, &mut SeriesCache::default(), &honoring, body, 1000).unwrap();
    assert_eq!(
        samples_of(&store, "a")[0].0,
        "a{instance=\"h:9100\", job=\"theirs\", x=\"1\"}"
    );
}

#[test]
fn a_vanished_series_gets_a_staleness_marker_and_a_failed_scrape_stales_all() {
    let store = MemoryStorage::new();
    let mut cache = SeriesCache::default();
    let r = rules();
    scrape(&store, &mut cache, &r, "a 1\nb 2\n", 1000).unwrap();
    let second = scrape(&store, &mut cache, &r, "a 3\n", 2000).unwrap();
    assert_eq!(second.series_added, 0);
    let b = &samples_of(&store, "b")[0].1;
    assert_eq!(b[0], (1000, 2.0));
    assert_eq!(b[1].0, 2000);
    assert!(is_stale_nan(b[1].1));
    scrape(&store, &mut cache, &r, "a 4\nbroken{\n", 3000).unwrap_err();
    let a = &samples_of(&store, "a")[0].1;
    assert_eq!(
        a.len(),
        3,
        "{a:?}: the broken scrape's sample must not be kept"
    );
    assert_eq!(a[1], (2000, 3.0));
    assert!(is_stale_nan(a[2].1) && a[2].0 == 3000);
}

#[test]
fn reordered_repeated_and_time_travelling_series_keep_their_handles() {
    let store = MemoryStorage::new();
    let mut cache = SeriesCache::default();
    let r = rules();
    scrape(&store, &mut cache, &r, "a 1\nb 2 5000\nc 3\n", 1000).unwrap();
    // Another order, a repeated line (the first counts) and b's exposed time going back.
    let body = "c 4\na 5\nc 6\nb 7 4000\nd 8\n";
    let second = scrape(&store, &mut cache, &r, body, 2000).unwrap();
    let expected = IngestOutcome {
        scraped: 5,
        kept: 5,
        series_added: 1,
        duplicates: 1,
        out_of_order: 1,
        ..IngestOutcome::default()
    };
    assert_eq!(second, expected);
    assert_eq!(second.stored(), 3);
    let third = scrape(&store, &mut cache, &r, "a 9\nb 10 6000\nc 11\nd 12\n", 3000).unwrap();
    assert_eq!(third.series_added, 0);
    let values = |name| -> Vec<(i64, f64)> { samples_of(&store, name).remove(0).1 };
    assert_eq!(values("a"), [(1000, 1.0), (2000, 5.0), (3000, 9.0)]);
    assert_eq!(values("b"), [(5000, 2.0), (6000, 10.0)], "4000 is dropped");
    assert_eq!(values("c"), [(1000, 3.0), (2000, 4.0), (3000, 11.0)]);
    assert_eq!(values("d"), [(2000, 8.0), (3000, 12.0)]);
}

#[test]
fn sample_limit_fails_the_whole_scrape_and_the_rest_of_the_body_is_still_counted() {
    let store = MemoryStorage::new();
    let limited = IngestRules {
        sample_limit: 2,
        ..rules()
    };
    let mut cache = SeriesCache::default();
    scrape(&store, &mut cache, &limited, "a 1\n", 1).unwrap();
    let failure = scrape(&store, &mut cache, &limited, "a 2\nb 1\nc 1\nd 1\n", 2).unwrap_err();
    assert!(
        matches!(failure.error, IngestError::SampleLimit(2)),
        "{failure}"
    );
    assert_eq!(
        failure.to_string(),
        "sample limit exceeded: more than 2 samples"
    );
    assert_eq!((failure.counts.scraped, failure.counts.kept), (4, 4));
    let a = &samples_of(&store, "a")[0].1;
    assert_eq!(a[0], (1, 1.0));
    assert!(
        is_stale_nan(a[1].1),
        "{a:?}: a ends; its sample of the failed scrape is not kept"
    );
    assert!(samples_of(&store, "b").is_empty());
}

#[test]
fn the_series_limit_fails_the_whole_scrape_and_says_which_limit() {
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions {
        max_series_per_source: 2,
        ..StorageOptions::default()
    };
    let store = Storage::open(dir.path(), options).unwrap();
    let mut cache = SeriesCache::default();
    let failure = scrape(&store, &mut cache, &rules(), "a 1\nb 1\nc 1\nd 1\n", 1).unwrap_err();
    assert!(
        matches!(
            failure.error,
            IngestError::Append(AppendError::SeriesLimit(SeriesLimit::Source(2)))
        ),
        "{failure}"
    );
    assert_eq!(
        failure.to_string(),
        "series limit reached: this target would create more than 2 series \
         (storage max_series_per_source)"
    );
    assert_eq!((failure.counts.scraped, failure.counts.kept), (4, 4));
    assert!(
        samples_of(&store, "a").is_empty(),
        "nothing of the scrape is kept"
    );
    // Back under the limit, the target's series are stored again.
    let outcome = scrape(&store, &mut cache, &rules(), "a 2\nb 2\n", 2).unwrap();
    assert_eq!(outcome.stored(), 2);
    assert_eq!(samples_of(&store, "b")[0].1, [(2, 2.0)]);
}

#[test]
fn repeated_series_and_samples_stamped_far_ahead_are_dropped_and_counted() {
    let store = MemoryStorage::new();
    let mut cache = SeriesCache::default();
    let t = 1_000_000;
    let ahead = t + MAX_AHEAD_MS + 1;
    let body = format!(
        "a 1\na 2\nb 1 {max}\nc 1 {ahead}\nd 1 {near}\n",
        max = i64::MAX,
        near = t + MAX_AHEAD_MS
    );
    let outcome = scrape(&store, &mut cache, &rules(), &body, t).unwrap();
    let expected = IngestOutcome {
        scraped: 5,
        kept: 5,
        series_added: 2,
        duplicates: 1,
        out_of_bounds: 2,
        ..IngestOutcome::default()
    };
    assert_eq!(outcome, expected);
    assert_eq!(
        samples_of(&store, "a")[0].1,
        [(t, 1.0)],
        "the first line counts"
    );
    assert!(samples_of(&store, "b").is_empty() && samples_of(&store, "c").is_empty());
    assert_eq!(samples_of(&store, "d")[0].1, [(t + MAX_AHEAD_MS, 1.0)]);
    // The series stamped at the end of time did not block the ones that follow.
    let next = scrape(&store, &mut cache, &rules(), "b 2\n", t + 1000).unwrap();
    assert_eq!(next.stored(), 1);
    assert_eq!(samples_of(&store, "b")[0].1, [(t + 1000, 2.0)]);
}

#[test]
fn an_out_of_order_sample_of_a_series_new_to_the_cache_is_counted_and_the_scrape_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Storage::open(dir.path(), StorageOptions::default()).unwrap();
    scrape(
        &store,
        &mut SeriesCache::default(),
        &rules(),
        "a 1 5000\n",
        5000,
    )
    .unwrap();
    // A new loop (after a restart, say) whose target exposes an older time for a.
    let mut cache = SeriesCache::default();
    let outcome = scrape(&store, &mut cache, &rules(), "a 2 4000\nb 1\n", 6000).unwrap();
    assert_eq!((outcome.out_of_order, outcome.stored()), (1, 1));
    assert_eq!(samples_of(&store, "b")[0].1, [(6000, 1.0)]);
    // a's handle was kept: the next scrape appends to it without creating it again.
    let outcome = scrape(&store, &mut cache, &rules(), "a 3 7000\nb 2\n", 7000).unwrap();
    assert_eq!((outcome.series_added, outcome.stored()), (0, 2));
    assert_eq!(samples_of(&store, "a")[0].1, [(5000, 1.0), (7000, 3.0)]);
}

#[test]
fn metric_relabelling_drops_series_and_timestamps_are_honoured() {
    use std::path::Path;
    let text = "scrape_configs:\n  - job_name: j\n    metric_relabel_configs:\n      - action: drop\n        source_labels: [__name__]\n        regex: go_.*\n";
    let config = crate::config::Config::parse(text, Path::new("t.yml")).unwrap();
    let steps = Relabel::compile_all(&config.scrape_configs[0].metric_relabel_configs).unwrap();
    let r = IngestRules {
        metric_relabel: steps,
        ..rules()
    };
    let store = MemoryStorage::new();
    let outcome = scrape(
        &store,
        &mut SeriesCache::default(),
        &r,
        "go_x 1\nup_x 2 777\n",
        1000,
    )
    .unwrap();
    assert_eq!((outcome.scraped, outcome.kept), (2, 1));
    assert!(samples_of(&store, "go_x").is_empty());
    assert_eq!(samples_of(&store, "up_x")[0].1, [(777, 2.0)]);
}

#[test]
fn help_type_and_unit_are_kept_as_metadata() {
    let store = MemoryStorage::new();
    let body = "# HELP a_seconds How long.\n# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n# EOF\n";
    let mut app = store.appender("t");
    SeriesCache::default()
        .ingest(
            app.as_mut(),
            &rules(),
            body.as_bytes(),
            Format::OpenMetrics,
            1,
        )
        .unwrap();
    app.commit().unwrap();
    let meta = store.metadata("a_seconds").unwrap();
    assert_eq!(
        (meta.kind.as_str(), meta.help.as_str(), meta.unit.as_str()),
        ("gauge", "How long.", "seconds")
    );
}

#[test]
fn a_cache_entry_takes_sixteen_bytes() {
    assert_eq!(std::mem::size_of::<Cached>(), 16);
}

#[test]
fn a_series_past_a_label_limit_fails_the_whole_scrape() {
    let store = MemoryStorage::new();
    let limited = IngestRules {
        label_limits: LabelLimits {
            value_length: 7,
            ..LabelLimits::default()
        },
        ..rules()
    };
    let body = "a{x=\"short\"} 1\nb{x=\"too_long\"} 1\n";
    let failure = scrape(&store, &mut SeriesCache::default(), &limited, body, 1).unwrap_err();
    let IngestError::LabelLimit(passed) = &failure.error else {
        panic!("{failure}");
    };
    assert!(
        matches!(**passed, LabelLimitError::ValueLength { length: 8, .. }),
        "{passed}"
    );
    assert_eq!(failure.error.limit(), Some(Refusal::LabelLimit));
    assert!(samples_of(&store, "a").is_empty());
}
