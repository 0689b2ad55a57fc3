//! The `query` section: what one PromQL query may cost, read when the collector starts.

use serde::Deserialize;

use super::ByteSize;
use crate::promql::EngineConfig;
use crate::vocab::PromDuration;

/// Limits of the query engine, as Prometheus's `--query.*` flags set them, plus the size of
/// results. The defaults keep a machine of two cores and 2 GB answering: a query holds at
/// most about 160 MB of samples and renders at most 256 MiB, and four run at once.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// Queries evaluated at once (Prometheus's `--query.max-concurrency`); more wait for a
    /// slot within their timeout. Rule evaluation does not take a slot.
    pub max_concurrency: usize,
    /// Samples a query may hold in memory at once (Prometheus's `--query.max-samples`);
    /// series labels and working tables count by their size, 16 bytes a sample.
    pub max_samples: usize,
    /// How long a query may take, waiting for a slot included (`--query.timeout`). A request's
    /// own `timeout` parameter may only shorten it.
    pub timeout: PromDuration,
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`).
    pub lookback_delta: PromDuration,
    /// Series a query's result may have.
    pub max_series: usize,
    /// Size of an answer rendered from a query's result (JSON or CSV).
    pub max_response_bytes: ByteSize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        let engine = EngineConfig::default();
        QueryConfig {
            max_concurrency: engine.max_concurrent,
            max_samples: engine.max_samples,
            timeout: PromDuration(engine.timeout),
            lookback_delta: PromDuration(engine.lookback),
            max_series: engine.max_series,
            max_response_bytes: ByteSize(engine.max_response_bytes as u64),
        }
    }
}

impl QueryConfig {
    /// The engine's limits from this section.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            max_concurrent: self.max_concurrency.max(1),
            max_samples: self.max_samples,
            timeout: self.timeout.0,
            lookback: self.lookback_delta.0,
            max_series: self.max_series,
            max_response_bytes: usize::try_from(self.max_response_bytes.0).unwrap_or(usize::MAX),
            ..EngineConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::vocab::from_yaml_str;

    #[test]
    fn an_empty_section_keeps_the_engine_defaults() {
        let config: QueryConfig = from_yaml_str("{}").unwrap();
        let engine = config.engine_config();
        let defaults = EngineConfig::default();
        assert_eq!(engine.max_samples, defaults.max_samples);
        assert_eq!(engine.max_concurrent, defaults.max_concurrent);
        assert_eq!(engine.timeout, defaults.timeout);
        assert_eq!(engine.max_response_bytes, defaults.max_response_bytes);
    }

    #[test]
    fn every_key_reaches_the_engine() {
        let config: QueryConfig = from_yaml_str(
            "max_concurrency: 2\nmax_samples: 1000\ntimeout: 30s\nlookback_delta: 1m\n\
             max_series: 50\nmax_response_bytes: 1MB\n",
        )
        .unwrap();
        let engine = config.engine_config();
        assert_eq!(engine.max_concurrent, 2);
        assert_eq!(engine.max_samples, 1000);
        assert_eq!(engine.timeout, Duration::from_secs(30));
        assert_eq!(engine.lookback, Duration::from_secs(60));
        assert_eq!(engine.max_series, 50);
        assert_eq!(engine.max_response_bytes, 1 << 20);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(from_yaml_str::<QueryConfig>("max_sampels: 5\n").is_err());
    }

    #[test]
    fn no_slot_at_all_still_runs_one_query_at_a_time() {
        let config: QueryConfig = from_yaml_str("max_concurrency: 0\n").unwrap();
        assert_eq!(config.engine_config().max_concurrent, 1);
    }
}
