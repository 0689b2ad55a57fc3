//! The same OpenMetrics dataset loaded into a real Prometheus (via promtool blocks) and into
//! Osprey; a few hundred queries must give equal answers through `/api/v1/query` and
//! `/api/v1/query_range`. Debian's Prometheus is 2.x, whose semantics differ from 3.x in two
//! places the data avoids: sample and query times are chosen so that no sample sits on a window
//! edge (2.x windows are closed, 3.x left-open), and every query time is at least 30 minutes
//! after the first sample, so no `rate` window reaches before a counter starts (3.x limits the
//! extrapolation there to the counter's zero point; 2.x does not).

mod differential;

use differential::dataset::{self, START_S};
use differential::{compare, osprey::Osprey, prometheus::Prometheus, queries};
use serde_json::Value;

/// The JSON body of `GET path` from `server`.
fn answer(server: impl Fn(&str) -> (u16, String), path: &str, who: &str) -> Value {
    let (_, body) = server(path);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{who} answers {path} with JSON: {e}"))
}

#[test]
fn answers_equal_real_prometheus_for_the_query_set() {
    if !osprey::peers_present(&["prometheus", "promtool"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = dataset::openmetrics(6);
    let file = dir.path().join("dataset.om");
    std::fs::write(&file, &text).unwrap();
    let prometheus = Prometheus::start(dir.path(), &file);

    let osprey = Osprey::start(dir.path(), &file);

    let queries = queries::all();
    assert!(queries.len() >= 200, "only {} queries", queries.len());
    let instants = [START_S + 1810, START_S + 5410, START_S + 9610];
    let mut checks = 0;
    let mut non_empty = 0;
    let mut mismatches = Vec::new();
    for query in &queries {
        let mut paths: Vec<String> = instants
            .iter()
            .map(|t| {
                let form = serde_urlencoded::to_string([
                    ("query", query.as_str()),
                    ("time", &t.to_string()),
                ]);
                format!("/api/v1/query?{}", form.unwrap())
            })
            .collect();
        for step in ["60", "15"] {
            let range = serde_urlencoded::to_string([
                ("query", query.as_str()),
                ("start", &(START_S + 1810).to_string()),
                ("end", &(START_S + 10810).to_string()),
                ("step", step),
            ]);
            paths.push(format!("/api/v1/query_range?{}", range.unwrap()));
        }
        for path in paths {
            let theirs = answer(|p| prometheus.get(p), &path, "Prometheus");
            let mine = answer(|p| osprey.get(p), &path, "Osprey");
            checks += 1;
            if theirs["data"]["result"]
                .as_array()
                .is_none_or(|r| !r.is_empty())
            {
                non_empty += 1;
            }
            if let Err(why) = compare::same_answer(&mine, &theirs) {
                mismatches.push(format!("{path}\n    {why}"));
            }
        }
    }
    let (start, end) = (START_S, START_S + 10_800);
    for path in [
        format!("/api/v1/labels?start={start}&end={end}"),
        format!("/api/v1/labels?match[]=node_uname_info&start={start}&end={end}"),
        format!("/api/v1/label/__name__/values?start={start}&end={end}"),
        format!("/api/v1/label/instance/values?start={start}&end={end}"),
        format!("/api/v1/label/job/values?match[]=node_uname_info&start={start}&end={end}"),
        format!("/api/v1/series?match[]=up&start={start}&end={end}"),
        format!(
            "/api/v1/series?match[]=node_load1&match[]=up%7Binstance%3D%22host-0%3A9100%22%7D&start={start}&end={end}"
        ),
    ] {
        let theirs = answer(|p| prometheus.get(p), &path, "Prometheus");
        let mine = answer(|p| osprey.get(p), &path, "Osprey");
        checks += 1;
        non_empty += 1;
        if mine != theirs {
            mismatches.push(format!("{path}\n    ours {mine}\n    theirs {theirs}"));
        }
    }
    println!(
        "{} queries, {checks} requests compared ({non_empty} with a non-empty result), {} differ",
        queries.len(),
        mismatches.len()
    );
    assert!(
        non_empty * 10 >= checks * 9,
        "too many empty answers ({non_empty} of {checks} non-empty): the comparison would be weak"
    );
    for m in &mismatches {
        println!("  {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} answers differ from Prometheus",
        mismatches.len()
    );
}
