use super::*;
use crate::labels::{MatchOp, Matcher};
use crate::remote_write::proto::{MetricMetadata, TimeSeries, WriteRequest};
use crate::tsdb::{MemoryStorage, Querier, Storage, StorageOptions};

/// A clock at 1,000,000 ms, past every sample below.
const NOW: i64 = 1_000_000;

fn request(series: Vec<TimeSeries>) -> WriteRequest {
    WriteRequest {
        timeseries: series,
        metadata: Vec::new(),
    }
}

fn up(job: &str, samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries::new(&[("__name__", "up"), ("job", job)], samples)
}

fn check(series: Vec<TimeSeries>) -> Result<Batch, BatchError> {
    Batch::check(request(series), NOW)
}

/// Every stored sample of the series named `name`, by series.
fn stored(store: &dyn Querier, name: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let matcher = Matcher::new(MatchOp::Equal, METRIC_NAME, name).unwrap();
    let series = store.select(&[matcher], 0, i64::MAX).unwrap();
    series
        .into_iter()
        .map(|s| {
            let samples = s.samples.iter().map(|p| (p.t, p.v)).collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

#[test]
fn entries_of_one_series_are_gathered_in_order_and_stored() {
    // Prometheus sends one entry per sample.
    let batch = check(vec![
        up("a", &[(1000, 1.0)]),
        up("b", &[(1000, 0.0)]),
        up("a", &[(2000, 1.0), (3000, 0.5)]),
    ])
    .unwrap();
    assert_eq!(batch.samples(), 4);
    let store = MemoryStorage::new();
    assert_eq!(batch.append_to(&store).unwrap(), 4);
    assert_eq!(
        stored(&store, "up"),
        [
            (
                r#"up{job="a"}"#.to_owned(),
                vec![(1000, 1.0), (2000, 1.0), (3000, 0.5)]
            ),
            (r#"up{job="b"}"#.to_owned(), vec![(1000, 0.0)]),
        ]
    );
}

#[test]
fn an_exact_repeat_is_kept_once_and_a_differing_one_refuses_the_push() {
    let batch = check(vec![up("a", &[(1000, 1.0)]), up("a", &[(1000, 1.0)])]).unwrap();
    assert_eq!(batch.samples(), 1);
    let error = check(vec![up("a", &[(1000, 1.0)]), up("a", &[(1000, 2.0)])]).unwrap_err();
    assert!(
        matches!(&error, BatchError::Duplicate { t: 1000, .. }),
        "{error}"
    );
    assert!(error.to_string().contains(r#"up{job="a"}"#), "{error}");
}

#[test]
fn samples_going_back_in_time_or_too_far_ahead_refuse_the_push() {
    let error = check(vec![up("a", &[(2000, 1.0)]), up("a", &[(1000, 1.0)])]).unwrap_err();
    assert!(
        matches!(error, BatchError::OutOfOrder { t: 1000, .. }),
        "{error}"
    );
    let ahead = NOW + MAX_AHEAD_MS + 1;
    let error = check(vec![up("a", &[(ahead, 1.0)])]).unwrap_err();
    assert!(
        matches!(error, BatchError::OutOfBounds { t, .. } if t == ahead),
        "{error}"
    );
    assert!(check(vec![up("a", &[(NOW + MAX_AHEAD_MS, 1.0)])]).is_ok());
}

#[test]
fn invalid_series_refuse_the_push_naming_what_is_wrong() {
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("job", "a")], "has no metric name"),
        (&[("__name__", ""), ("job", "a")], "has no metric name"),
        (&[("__name__", "a-b")], r#"invalid metric name "a-b""#),
        (
            &[("__name__", "up"), ("bad-name", "x")],
            r#"invalid label name "bad-name""#,
        ),
        (
            &[("__name__", "up"), ("9a", "x")],
            r#"invalid label name "9a""#,
        ),
        (
            &[("__name__", "up"), ("job", "a"), ("job", "b")],
            r#"label "job" appears twice"#,
        ),
    ];
    for (labels, reason) in cases {
        // A valid series before the invalid one: the whole push is refused all the same.
        let series = vec![
            up("ok", &[(1000, 1.0)]),
            TimeSeries::new(labels, &[(1000, 1.0)]),
        ];
        let error = check(series).unwrap_err().to_string();
        assert!(error.contains(reason), "{labels:?}: {error}");
    }
}

#[test]
fn a_huge_label_is_quoted_short_in_the_reason() {
    let name = format!("x-{}", "x".repeat(100_000));
    let Err(error) = check(vec![TimeSeries::new(
        &[("__name__", "up"), (&name, "v")],
        &[(1, 1.0)],
    )]) else {
        panic!("a label name with a dash was accepted");
    };
    let error = error.to_string();
    assert!(error.len() < 2 * MAX_QUOTED + 100, "{} bytes", error.len());
    assert!(error.starts_with("invalid label name \"x-xx"), "{error}");
}

#[test]
fn empty_values_are_absent_labels_and_histogram_only_series_are_skipped() {
    let batch = check(vec![
        TimeSeries::new(
            &[("__name__", "up"), ("job", "a"), ("zone", "")],
            &[(1000, 1.0)],
        ),
        TimeSeries::new(&[("__name__", "native_histogram")], &[]),
    ])
    .unwrap();
    let store = MemoryStorage::new();
    batch.append_to(&store).unwrap();
    assert_eq!(stored(&store, "up")[0].0, r#"up{job="a"}"#);
    assert!(stored(&store, "native_histogram").is_empty());
}

#[test]
fn metadata_is_stored_with_prometheus_type_names() {
    let mut push = request(vec![]);
    push.metadata = vec![
        MetricMetadata {
            r#type: proto::MetricType::Counter as i32,
            metric_family_name: "http_requests_total".into(),
            help: "Requests.".into(),
            unit: String::new(),
        },
        MetricMetadata {
            r#type: 99,
            metric_family_name: "odd".into(),
            help: String::new(),
            unit: "seconds".into(),
        },
    ];
    let store = MemoryStorage::new();
    Batch::check(push, NOW).unwrap().append_to(&store).unwrap();
    let counter = store.metadata("http_requests_total").unwrap();
    assert_eq!(
        (counter.kind.as_str(), counter.help.as_str()),
        ("counter", "Requests.")
    );
    let odd = store.metadata("odd").unwrap();
    assert_eq!(
        (odd.kind.as_str(), odd.unit.as_str()),
        ("unknown", "seconds")
    );
}

#[test]
fn a_sample_older_than_a_stored_one_refuses_the_push_and_stores_none_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Storage::open(dir.path(), StorageOptions::default()).unwrap();
    check(vec![up("a", &[(5000, 1.0)])])
        .unwrap()
        .append_to(&store)
        .unwrap();
    // Job b is new and valid; job a goes back before its stored sample.
    let push = check(vec![up("b", &[(4000, 1.0)]), up("a", &[(4000, 1.0)])]).unwrap();
    let error = push.append_to(&store).unwrap_err();
    assert!(
        matches!(
            error,
            WriteError::Refused(BatchError::OutOfOrder { t: 4000, .. })
        ),
        "{error}"
    );
    assert_eq!(
        stored(&store, "up"),
        [(r#"up{job="a"}"#.to_owned(), vec![(5000, 1.0)])]
    );
    // A push repeating the stored sample exactly is accepted, as the store keeps repeats.
    let repeat = check(vec![up("a", &[(5000, 1.0), (6000, 1.0)])]).unwrap();
    assert_eq!(repeat.append_to(&store).unwrap(), 2);
    assert_eq!(stored(&store, "up")[0].1, [(5000, 1.0), (6000, 1.0)]);
}

#[test]
fn a_push_past_the_series_limit_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions {
        max_series_per_source: 2,
        ..StorageOptions::default()
    };
    let store = Storage::open(dir.path(), options).unwrap();
    let jobs = ["a", "b", "c"].map(|job| up(job, &[(1000, 1.0)]));
    let error = check(jobs.to_vec()).unwrap().append_to(&store).unwrap_err();
    assert!(
        matches!(error, WriteError::Refused(BatchError::SeriesLimit(_))),
        "{error}"
    );
    assert!(stored(&store, "up").is_empty());
}
