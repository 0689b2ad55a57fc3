//! The delivery queue, persisted in the store so that notifications survive a restart and reach
//! receivers that were down; retries back off exponentially with jitter.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::metrics::NotifyMetrics;
use crate::tsdb::{Commit, KeyValueStore, NOTIFICATION_QUEUE, StorageError};

/// First retry delay; doubles per attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between attempts: a receiver back after an outage of any length gets its
/// notifications within about this long.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Deliveries older than this are given up.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Which destination of a receiver a delivery goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Integration {
    /// `email_configs[i]`.
    Email(usize),
    /// `webhook_configs[i]`.
    Webhook(usize),
}

/// A rendered notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Content {
    /// The JSON body.
    Webhook(String),
    /// Subject and bodies.
    Email {
        /// Subject line.
        subject: String,
        /// Plain-text part.
        text: String,
        /// HTML part.
        html: String,
    },
}

/// One notification waiting for delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Receiver name.
    pub receiver: String,
    /// Destination within the receiver.
    pub integration: Integration,
    /// The group it is about.
    pub group_key: String,
    /// What to send.
    pub content: Content,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was queued (Unix ms).
    pub created_ms: i64,
    /// Earliest time of the next attempt (Unix ms).
    pub next_attempt_ms: i64,
}

/// Why the queue could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("notification queue: {0}")]
pub struct QueueError(#[from] StorageError);

/// The persisted queue.
pub struct DeliveryQueue {
    store: KeyValueStore,
    next_id: AtomicU64,
    wake: tokio::sync::Notify,
    metrics: Arc<NotifyMetrics>,
}

impl DeliveryQueue {
    /// Opens the queue in `store`, picking up deliveries left by a previous run.
    pub fn open(store: KeyValueStore, metrics: Arc<NotifyMetrics>) -> Result<Self, QueueError> {
        let snapshot = store.read()?;
        let last = snapshot.last_key(NOTIFICATION_QUEUE)?.unwrap_or(0);
        metrics.set_queue_length(snapshot.len(NOTIFICATION_QUEUE)?);
        Ok(DeliveryQueue {
            store,
            next_id: AtomicU64::new(last + 1),
            wake: tokio::sync::Notify::new(),
            metrics,
        })
    }

    /// Adds deliveries durably and wakes the worker.
    pub fn push(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut txn = self.store.write(Commit::Durable)?;
        for delivery in deliveries {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let bytes = serde_json::to_vec(delivery).expect("deliveries serialize to JSON");
            txn.put(NOTIFICATION_QUEUE, id, &bytes)?;
        }
        txn.commit()?;
        self.refresh_length()?;
        self.wake.notify_one();
        Ok(())
    }

    /// Every delivery in order, with its id.
    pub fn list(&self) -> Result<Vec<(u64, Delivery)>, QueueError> {
        let mut out = Vec::new();
        for (id, bytes) in self.store.read()?.entries(NOTIFICATION_QUEUE)? {
            match serde_json::from_slice(&bytes) {
                Ok(delivery) => out.push((id, delivery)),
                Err(e) => tracing::warn!(id, "skipping unreadable queued notification: {e}"),
            }
        }
        Ok(out)
    }

    /// Removes a finished delivery (sent or given up).
    pub fn remove(&self, id: u64) -> Result<(), QueueError> {
        let mut txn = self.store.write(Commit::Durable)?;
        txn.delete(NOTIFICATION_QUEUE, id)?;
        txn.commit()?;
        self.refresh_length()
    }

    /// Stores a delivery's new attempt count and next attempt time.
    pub fn update(&self, id: u64, delivery: &Delivery) -> Result<(), QueueError> {
        let bytes = serde_json::to_vec(delivery).expect("deliveries serialize to JSON");
        let mut txn = self.store.write(Commit::Durable)?;
        txn.put(NOTIFICATION_QUEUE, id, &bytes)?;
        txn.commit()?;
        Ok(())
    }

    /// Waits until something is pushed or `timeout` passes.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    fn refresh_length(&self) -> Result<(), QueueError> {
        let length = self.store.read()?.len(NOTIFICATION_QUEUE)?;
        self.metrics.set_queue_length(length);
        Ok(())
    }
}

/// The wait before attempt `attempts + 1`: exponential from [`FIRST_BACKOFF`], capped at
/// [`MAX_BACKOFF`], with ±20% jitter so receivers coming back are not hit all at once.
pub fn backoff(attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(16);
    let base = FIRST_BACKOFF.saturating_mul(1 << exponent).min(MAX_BACKOFF);
    base.mul_f64(0.8 + 0.4 * fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::{Storage, StorageOptions};

    fn delivery(receiver: &str) -> Delivery {
        Delivery {
            receiver: receiver.to_owned(),
            integration: Integration::Webhook(0),
            group_key: "{}:{}".to_owned(),
            content: Content::Webhook("{}".to_owned()),
            attempts: 0,
            created_ms: 1,
            next_attempt_ms: 1,
        }
    }

    #[test]
    fn deliveries_survive_reopening_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let open = |metrics: &Arc<NotifyMetrics>| {
            let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
            DeliveryQueue::open(storage.key_value(), metrics.clone()).unwrap()
        };
        let metrics = Arc::new(NotifyMetrics::default());
        {
            let queue = open(&metrics);
            queue.push(&[delivery("a"), delivery("b")]).unwrap();
            queue.push(&[delivery("c")]).unwrap();
            queue.remove(1).unwrap();
        }
        let queue = open(&metrics);
        assert_eq!(metrics.queue_length(), 2);
        queue.push(&[delivery("d")]).unwrap();
        let receivers: Vec<(u64, String)> = queue
            .list()
            .unwrap()
            .into_iter()
            .map(|(id, d)| (id, d.receiver))
            .collect();
        assert_eq!(
            receivers,
            [(2, "b".into()), (3, "c".into()), (4, "d".into())]
        );
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        for (attempts, base) in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0), (40, 30.0)] {
            let wait = backoff(attempts).as_secs_f64();
            assert!(
                wait >= base * 0.8 && wait <= base * 1.2,
                "{attempts}: {wait}"
            );
        }
    }
}
