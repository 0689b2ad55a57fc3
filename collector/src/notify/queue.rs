//! The delivery queue, persisted in the store so that notifications survive a restart and reach
//! receivers that were down; retries back off exponentially with jitter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// The persisted queue. Its methods read and write the store (a durable write is an fsync):
/// call them from a blocking thread, not from async tasks.
pub struct DeliveryQueue {
    store: KeyValueStore,
    next_id: AtomicU64,
    wake: tokio::sync::Notify,
    metrics: Arc<NotifyMetrics>,
    /// Outcomes of attempts the store refused to record (a full disk), by id: `None` for a
    /// finished delivery. They hide what the store holds and are written with the next outcome,
    /// so that a full disk neither resends a delivered notification nor forgets a backoff.
    unsaved: Mutex<BTreeMap<u64, Option<Delivery>>>,
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
            unsaved: Mutex::new(BTreeMap::new()),
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

    /// Every delivery waiting, in order, with its id.
    pub fn list(&self) -> Result<Vec<(u64, Delivery)>, QueueError> {
        let stored = self.store.read()?.entries(NOTIFICATION_QUEUE)?;
        let unsaved = self.unsaved.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (id, bytes) in stored {
            match unsaved.get(&id) {
                Some(Some(updated)) => out.push((id, updated.clone())),
                Some(None) => {}
                None => match serde_json::from_slice(&bytes) {
                    Ok(delivery) => out.push((id, delivery)),
                    Err(e) => tracing::warn!(id, "skipping unreadable queued notification: {e}"),
                },
            }
        }
        Ok(out)
    }

    /// Records the outcome of an attempt at delivery `id`: `Some` with its new attempt count
    /// and next attempt time to try again, `None` when it is finished (sent or given up). When
    /// the store refuses the write, the outcome is kept in memory and written with the next one.
    pub fn record(&self, id: u64, outcome: Option<Delivery>) -> Result<(), QueueError> {
        let mut unsaved = self.unsaved.lock().unwrap_or_else(|p| p.into_inner());
        unsaved.insert(id, outcome);
        let mut txn = self.store.write(Commit::Durable)?;
        for (id, outcome) in unsaved.iter() {
            match outcome {
                Some(delivery) => {
                    let bytes = serde_json::to_vec(delivery).expect("deliveries serialize to JSON");
                    txn.put(NOTIFICATION_QUEUE, *id, &bytes)?;
                }
                None => txn.delete(NOTIFICATION_QUEUE, *id)?,
            }
        }
        txn.commit()?;
        unsaved.clear();
        drop(unsaved);
        self.refresh_length()
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
            queue.record(1, None).unwrap();
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
    fn outcomes_a_full_disk_refuses_are_kept_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(NotifyMetrics::default());
        let open = |min_free_bytes| {
            let options = StorageOptions {
                min_free_bytes: Some(min_free_bytes),
                ..StorageOptions::default()
            };
            let storage = Storage::open(dir.path(), options).unwrap();
            DeliveryQueue::open(storage.key_value(), metrics.clone()).unwrap()
        };
        open(0)
            .push(&[delivery("sent"), delivery("failing")])
            .unwrap();
        let queue = open(u64::MAX);
        let refused = queue.push(&[delivery("new")]).unwrap_err();
        assert!(refused.to_string().contains("disk full"), "{refused}");
        assert!(queue.record(1, None).is_err(), "the disk is full");
        let retry = Delivery {
            attempts: 1,
            next_attempt_ms: 5_000,
            ..delivery("failing")
        };
        assert!(queue.record(2, Some(retry.clone())).is_err());
        assert_eq!(
            queue.list().unwrap(),
            [(2, retry)],
            "the sent one is not sent again, the failing one keeps its backoff"
        );
        drop(queue);
        let receivers: Vec<String> = (open(0).list().unwrap().into_iter())
            .map(|(_, d)| d.receiver)
            .collect();
        assert_eq!(receivers, ["sent", "failing"], "nothing stored was lost");
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
