//! Ingestion into the in-memory store: labels, staleness, limits and metadata.

use super::*;
use crate::labels::{MatchOp, Matcher};
use crate::tsdb::{Appendable, MemoryStorage, Querier, is_stale_nan};

fn rules() -> IngestRules {
    IngestRules {
        target_labels: Labels::from_pairs([("job", "node"), ("instance", "h:9100")]),
        honor_timestamps: true,
        ..IngestRules::default()
    }
}

fn scrape(
    store: &MemoryStorage,
    cache: &mut SeriesCache,
    rules: &IngestRules,
    body: &str,
    t: i64,
) -> Result<IngestOutcome, IngestError> {
    let mut app = store.appender("t");
    match cache.ingest(app.as_mut(), rules, body.as_bytes(), Format::Text, t) {
        Ok(outcome) => {
            app.commit().unwrap();
            Ok(outcome)
        }
        Err(error) => {
            app.rollback();
            let mut app = store.appender("t");
            cache.stale_all(app.as_mut(), t).unwrap();
            app.commit().unwrap();
            Err(error)
        }
    }
}

fn samples_of(store: &MemoryStorage, name: &str) -> Vec<(String, Vec<(i64, f64)>)> {
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
            series_added: 1
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
        kept: 4,
        series_added: 1,
    };
    assert_eq!(second, expected);
    let third = scrape(&store, &mut cache, &r, "a 9\nb 10 6000\nc 11\nd 12\n", 3000).unwrap();
    assert_eq!(third.series_added, 0);
    let values = |name| -> Vec<(i64, f64)> { samples_of(&store, name).remove(0).1 };
    assert_eq!(values("a"), [(1000, 1.0), (2000, 5.0), (3000, 9.0)]);
    assert_eq!(values("b"), [(5000, 2.0), (6000, 10.0)], "4000 is dropped");
    assert_eq!(values("c"), [(1000, 3.0), (2000, 4.0), (3000, 11.0)]);
    assert_eq!(values("d"), [(2000, 8.0), (3000, 12.0)]);
}

#[test]
fn sample_limit_fails_the_whole_scrape() {
    let store = MemoryStorage::new();
    let limited = IngestRules {
        sample_limit: 2,
        ..rules()
    };
    let error = scrape(
        &store,
        &mut SeriesCache::default(),
        &limited,
        "a 1\nb 1\nc 1\n",
        1,
    )
    .unwrap_err();
    assert!(matches!(error, IngestError::SampleLimit(2)), "{error}");
    assert!(samples_of(&store, "a").is_empty());
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
