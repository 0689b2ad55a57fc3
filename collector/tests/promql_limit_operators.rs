//! `limitk` and `limit_ratio`, whose Prometheus test script mixes in native histograms (which the
//! conformance runner skips), checked here on float series for the properties that script tests.

use std::sync::Arc;

use osprey_collector::labels::Labels;
use osprey_collector::promql::{Engine, EngineConfig, QueryValue, parse};
use osprey_collector::tsdb::{Appendable, MemoryStorage};

fn engine() -> Engine {
    let store = Arc::new(MemoryStorage::new());
    let mut app = store.appender("");
    for i in 0..50 {
        let group = if i % 2 == 0 { "even" } else { "odd" };
        let labels = Labels::from_pairs([
            ("__name__", "m"),
            ("instance", i.to_string().as_str()),
            ("group", group),
        ]);
        app.append(&labels, 0, f64::from(i)).unwrap();
    }
    app.commit().unwrap();
    Engine::new(store, EngineConfig::default())
}

fn scalar_count(engine: &Engine, query: &str) -> f64 {
    match engine
        .instant_blocking(&parse(query).unwrap(), 1000)
        .unwrap()
    {
        QueryValue::Vector(v) if v.is_empty() => 0.0,
        QueryValue::Vector(v) => v[0].1.v,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn limitk_keeps_k_series_per_group() {
    let engine = engine();
    assert_eq!(
        scalar_count(&engine, "count(limitk by (group) (3, m) and m)"),
        6.0
    );
    assert_eq!(scalar_count(&engine, "count(limitk(100, m))"), 50.0);
    assert_eq!(scalar_count(&engine, "count(limitk(0, m))"), 0.0);
    assert!(
        engine
            .instant_blocking(&parse("limitk(NaN, m)").unwrap(), 1000)
            .is_err()
    );
}

#[test]
fn limit_ratio_and_its_complement_split_the_series() {
    let engine = engine();
    for r in ["0.2", "0.5", "0.8"] {
        let or = format!("count(limit_ratio({r}, m) or limit_ratio(-(1 - {r}), m))");
        let and = format!("count(limit_ratio({r}, m) and limit_ratio(-(1 - {r}), m))");
        assert_eq!(scalar_count(&engine, &or), 50.0, "{or}");
        assert_eq!(scalar_count(&engine, &and), 0.0, "{and}");
    }
    assert_eq!(scalar_count(&engine, "count(limit_ratio(1, m))"), 50.0);
    assert_eq!(scalar_count(&engine, "count(limit_ratio(0, m))"), 0.0);
    let half = scalar_count(&engine, "count(limit_ratio(0.5, m))");
    assert!(
        (10.0..=40.0).contains(&half),
        "half of 50 series sampled: {half}"
    );
    assert!(
        engine
            .instant_blocking(&parse("limit_ratio(NaN, m)").unwrap(), 1000)
            .is_err()
    );
}
