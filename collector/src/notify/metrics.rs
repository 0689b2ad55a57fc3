//! Notification self-metrics: delivery attempts by receiver and result, and the queue's length.

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttemptResult {
    /// Delivered.
    Success,
    /// Failed; will be tried again.
    Retry,
    /// Failed for good (rejected by the receiver, or too old).
    Failed,
}

impl AttemptResult {
    /// The `result` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Success => "success",
            AttemptResult::Retry => "retry",
            AttemptResult::Failed => "failed",
        }
    }
}

impl EncodeLabelValue for AttemptResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The `receiver` and `result` labels of `osprey_notifications_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    receiver: String,
    result: AttemptResult,
}

/// `osprey_notifications_total{receiver,result}` and `osprey_notification_queue_length`.
#[derive(Debug, Default)]
pub struct NotifyMetrics {
    attempts: Family<AttemptLabels, Counter>,
    queue_length: Gauge<u64, AtomicU64>,
}

impl NotifyMetrics {
    /// Registers the notification families in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "osprey_notifications",
            "Notification delivery attempts by receiver and result",
            self.attempts.clone(),
        );
        registry.register(
            "osprey_notification_queue_length",
            "Notifications waiting for delivery",
            self.queue_length.clone(),
        );
    }

    /// Counts one attempt.
    pub fn count(&self, receiver: &str, result: AttemptResult) {
        self.attempts.get_or_create(&labels(receiver, result)).inc();
    }

    /// Attempts so far for a receiver and result.
    pub fn attempts(&self, receiver: &str, result: AttemptResult) -> u64 {
        (self.attempts.get(&labels(receiver, result))).map_or(0, |counter| counter.get())
    }

    /// Sets the number of deliveries waiting.
    pub fn set_queue_length(&self, length: u64) {
        self.queue_length.set(length);
    }

    /// Deliveries waiting.
    pub fn queue_length(&self) -> u64 {
        self.queue_length.get()
    }
}

fn labels(receiver: &str, result: AttemptResult) -> AttemptLabels {
    AttemptLabels {
        receiver: receiver.to_owned(),
        result,
    }
}
