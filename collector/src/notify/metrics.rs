//! Notification self-metrics, kept as counters the collector's `/metrics` renders.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// `osprey_notifications_total{receiver,result}` and `osprey_notification_queue_length`.
#[derive(Debug, Default)]
pub struct NotifyMetrics {
    attempts: Mutex<BTreeMap<(String, AttemptResult), u64>>,
    queue_length: AtomicU64,
}

impl NotifyMetrics {
    /// Counts one attempt.
    pub fn count(&self, receiver: &str, result: AttemptResult) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        *attempts.entry((receiver.to_owned(), result)).or_default() += 1;
    }

    /// Attempts so far for a receiver and result.
    pub fn attempts(&self, receiver: &str, result: AttemptResult) -> u64 {
        let attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        attempts
            .get(&(receiver.to_owned(), result))
            .copied()
            .unwrap_or(0)
    }

    /// Sets the number of deliveries waiting.
    pub fn set_queue_length(&self, length: u64) {
        self.queue_length.store(length, Ordering::Relaxed);
    }

    /// Deliveries waiting.
    pub fn queue_length(&self) -> u64 {
        self.queue_length.load(Ordering::Relaxed)
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP osprey_notifications_total Notification delivery attempts by receiver and result.\n\
             # TYPE osprey_notifications_total counter\n",
        );
        let attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        for ((receiver, result), count) in attempts.iter() {
            let receiver = receiver
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            out.push_str(&format!(
                "osprey_notifications_total{{receiver=\"{receiver}\",result=\"{}\"}} {count}\n",
                result.as_str()
            ));
        }
        out.push_str(&format!(
            "# HELP osprey_notification_queue_length Notifications waiting for delivery.\n\
             # TYPE osprey_notification_queue_length gauge\n\
             osprey_notification_queue_length {}\n",
            self.queue_length()
        ));
        out
    }
}
