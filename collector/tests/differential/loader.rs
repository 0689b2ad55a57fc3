//! Loads the dataset's OpenMetrics lines into an [`Appendable`]; a stand-in for the storage's
//! own importer, covering only what `dataset.rs` writes.

use osprey_collector::labels::Labels;
use osprey_collector::tsdb::Appendable;

/// Appends every sample line (`name{k="v",...} value seconds`) of `text`.
pub fn load_openmetrics(store: &dyn Appendable, text: &str) {
    let mut app = store.appender("");
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, rest) = line.split_once("} ").expect("a sample line");
        let (name, labels) = series.split_once('{').expect("labels");
        let mut pairs = vec![("__name__".to_owned(), name.to_owned())];
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').expect("label pair");
            pairs.push((k.to_owned(), v.trim_matches('"').to_owned()));
        }
        let (value, seconds) = rest.split_once(' ').expect("value and timestamp");
        let value: f64 = value.parse().expect("a float value");
        let seconds: i64 = seconds.parse().expect("whole-second timestamps");
        app.append(&Labels::from_pairs(pairs), seconds * 1000, value)
            .expect("append");
    }
    app.commit().expect("commit");
}
