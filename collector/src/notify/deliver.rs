//! The delivery worker: sends queued notifications in order, retries failures with backoff,
//! logs and counts every attempt.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::dispatch::SharedNotifications;
use super::email::send_email;
use super::metrics::{AttemptResult, NotifyMetrics};
use super::queue::{Content, Delivery, DeliveryQueue, Integration, MAX_AGE, backoff};
use super::webhook::{send_webhook, webhook_client};
use super::{SendError, off_async};

/// Sends what the queue holds.
pub struct Deliverer {
    queue: Arc<DeliveryQueue>,
    config: SharedNotifications,
    metrics: Arc<NotifyMetrics>,
    clients: Mutex<HashMap<(String, usize), reqwest::Client>>,
}

impl Deliverer {
    /// A worker over `queue`, sending with the current `config`.
    pub fn new(
        queue: Arc<DeliveryQueue>,
        config: SharedNotifications,
        metrics: Arc<NotifyMetrics>,
    ) -> Self {
        Deliverer {
            queue,
            config,
            metrics,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Drops the cached HTTP clients, so the next sends use reloaded settings.
    pub fn forget_clients(&self) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Sends until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            let now = chrono::Utc::now().timestamp_millis();
            let wait = self.deliver_due(now).await;
            tokio::select! {
                _ = self.queue.wait(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One pass over the queue at `now`: sends due deliveries oldest first, at most one failure
    /// per destination per pass (later ones to it wait, keeping order). Returns how long until
    /// the next one is due (at most a second).
    pub async fn deliver_due(&self, now: i64) -> Duration {
        let queue = Arc::clone(&self.queue);
        let queued = match off_async(move || queue.list()).await {
            Ok(queued) => queued,
            Err(e) => {
                tracing::error!("{e}");
                return Duration::from_secs(1);
            }
        };
        let mut blocked: HashSet<(String, Integration)> = HashSet::new();
        let mut next_due = now + 1000;
        for (id, mut delivery) in queued {
            let destination = (delivery.receiver.clone(), delivery.integration.clone());
            if blocked.contains(&destination) {
                continue;
            }
            if delivery.next_attempt_ms > now {
                blocked.insert(destination);
                next_due = next_due.min(delivery.next_attempt_ms);
                continue;
            }
            delivery.attempts += 1;
            let sent = self.send(&delivery).await;
            let result = match sent {
                Ok(()) => {
                    tracing::info!(receiver = %delivery.receiver, integration = ?delivery.integration, attempt = delivery.attempts, "notification delivered");
                    AttemptResult::Success
                }
                Err(SendError::Retry(reason))
                    if now - delivery.created_ms < MAX_AGE.as_millis() as i64 =>
                {
                    let wait = backoff(delivery.attempts);
                    tracing::warn!(receiver = %delivery.receiver, integration = ?delivery.integration, attempt = delivery.attempts, retry_in = ?wait, "notification failed: {reason}");
                    delivery.next_attempt_ms = now + wait.as_millis() as i64;
                    next_due = next_due.min(delivery.next_attempt_ms);
                    blocked.insert(destination);
                    AttemptResult::Retry
                }
                Err(SendError::Retry(reason) | SendError::Reject(reason)) => {
                    tracing::error!(receiver = %delivery.receiver, integration = ?delivery.integration, attempt = delivery.attempts, "notification dropped: {reason}");
                    AttemptResult::Failed
                }
            };
            self.metrics.count(&delivery.receiver, result);
            let outcome = (result == AttemptResult::Retry).then_some(delivery);
            let queue = Arc::clone(&self.queue);
            if let Err(e) = off_async(move || queue.record(id, outcome)).await {
                tracing::error!("{e} (kept in memory until it can be written)");
            }
        }
        Duration::from_millis((next_due - now).clamp(0, 1000) as u64)
    }

    async fn send(&self, delivery: &Delivery) -> Result<(), SendError> {
        let config = Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()));
        let receiver = config
            .receivers
            .iter()
            .find(|r| r.name == delivery.receiver)
            .ok_or_else(|| {
                SendError::Reject(format!(
                    "receiver {} no longer configured",
                    delivery.receiver
                ))
            })?;
        let gone = || SendError::Reject("destination no longer configured".to_owned());
        match (&delivery.integration, &delivery.content) {
            (
                Integration::Email(i),
                Content::Email {
                    subject,
                    text,
                    html,
                },
            ) => {
                let target = receiver.email.get(*i).ok_or_else(gone)?;
                send_email(target, subject, text, html).await
            }
            (Integration::Webhook(i), Content::Webhook(body)) => {
                let target = receiver.webhook.get(*i).ok_or_else(gone)?;
                let client = {
                    let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
                    match clients.entry((receiver.name.clone(), *i)) {
                        std::collections::hash_map::Entry::Occupied(c) => c.get().clone(),
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            let client = webhook_client(target)
                                .map_err(|e| SendError::Reject(e.to_string()))?;
                            slot.insert(client).clone()
                        }
                    }
                };
                send_webhook(&client, target, body).await
            }
            _ => Err(SendError::Reject(
                "content does not fit its destination".to_owned(),
            )),
        }
    }
}
