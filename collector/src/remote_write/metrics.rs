//! The receiver's own metrics: pushes answered, by status code, and samples stored from them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The `code` label of the requests counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: u16,
}

/// What the receiver counts; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct ReceiveMetrics {
    requests: Family<CodeLabel, Counter>,
    samples: Counter,
}

impl ReceiveMetrics {
    /// Registers the `osprey_collector_remote_write_*` families in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "osprey_collector_remote_write_requests",
            "Remote-write pushes answered, by HTTP status code (204 stored, 4xx refused, 500 \
             storage failure)",
            self.requests.clone(),
        );
        registry.register(
            "osprey_collector_remote_write_received_samples",
            "Samples stored from remote-write pushes",
            self.samples.clone(),
        );
    }

    /// Counts one push answered with `code`, which stored `samples`.
    pub(super) fn record(&self, code: u16, samples: u64) {
        self.requests.get_or_create(&CodeLabel { code }).inc();
        self.samples.inc_by(samples);
    }
}
