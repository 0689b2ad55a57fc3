//! The engine's limits: concurrency slots and cancellation of abandoned queries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use osprey_collector::labels::{Labels, Matcher};
use osprey_collector::promql::{Engine, EngineConfig};
use osprey_collector::tsdb::{Querier, QueryError, Sample, Series};

/// A storage whose reads take a while and that records how many run at once.
#[derive(Default)]
struct SlowQuerier {
    running: AtomicUsize,
    most_at_once: AtomicUsize,
    reads: AtomicUsize,
}

impl Querier for SlowQuerier {
    fn select(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Series>, QueryError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        self.reads.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(vec![Series {
            labels: Labels::from_pairs([("__name__", "m")]),
            samples: vec![Sample { t: 0, v: 1.0 }],
        }])
    }

    fn label_names(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<String>, QueryError> {
        Ok(Vec::new())
    }

    fn label_values(
        &self,
        _: &str,
        _: &[Matcher],
        _: i64,
        _: i64,
    ) -> Result<Vec<String>, QueryError> {
        Ok(Vec::new())
    }
}

async fn most_at_once(slots: usize) -> usize {
    let querier = Arc::new(SlowQuerier::default());
    let config = EngineConfig {
        max_concurrent: slots,
        ..EngineConfig::default()
    };
    let engine = Engine::new(querier.clone(), config);
    let queries: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.instant_query("m", 1000).await })
        })
        .collect();
    for q in queries {
        q.await.unwrap().unwrap();
    }
    querier.most_at_once.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_beyond_the_concurrency_limit_wait_for_a_slot() {
    assert_eq!(most_at_once(1).await, 1);
    assert!(
        most_at_once(4).await > 1,
        "queries should overlap without a limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_query_stops_evaluating() {
    let querier = Arc::new(SlowQuerier::default());
    let engine = Engine::new(querier.clone(), EngineConfig::default());
    let query = ["m"; 10].join(" + ");
    let abandoned = tokio::time::timeout(
        Duration::from_millis(150),
        engine.instant_query(&query, 1000),
    )
    .await;
    assert!(abandoned.is_err(), "the query should still be running");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reads = querier.reads.load(Ordering::SeqCst);
    assert!(
        reads < 10,
        "all {reads} selectors were read after the caller left"
    );
}
