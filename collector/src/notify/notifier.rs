//! The notifier as the rest of the collector sees it: takes alerts from the rules, runs the
//! dispatcher and the delivery worker, and exposes silences and metrics.

use std::sync::{Arc, Mutex, RwLock};

use super::deliver::Deliverer;
use super::dispatch::{Dispatcher, SharedNotifications};
use super::history::{AlertHistory, AlertRecord, HistoryError, Observed};
use super::metrics::NotifyMetrics;
use super::nflog::NotificationLog;
use super::payload::{AmAlert, label_map};
use super::queue::{DeliveryQueue, QueueError};
use super::silence::{SilenceError, Silences};
use super::{Notifications, off_async};
use crate::rules::{NotifierAlert, Notify};
use crate::tsdb::KeyValueStore;
use crate::vocab::now_ms;

/// Why the notifier could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifierError {
    /// The delivery queue.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The silences.
    #[error(transparent)]
    Silences(#[from] SilenceError),
    /// The alert history.
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// Routing, grouping and delivery of alerts.
#[derive(Clone)]
pub struct Notifier {
    dispatcher: Arc<Mutex<Dispatcher>>,
    wake: Arc<tokio::sync::Notify>,
    deliverer: Arc<Deliverer>,
    config: SharedNotifications,
    /// Counters for `/metrics`.
    pub metrics: Arc<NotifyMetrics>,
    /// Silences, for the API. Changes write to the store: see [`Notifier::off_async`].
    pub silences: Arc<Silences>,
    /// Alert history, for the API. It reads and writes the store: see [`Notifier::off_async`].
    pub history: Arc<AlertHistory>,
}

impl Notifier {
    /// Opens the queue, log, silences and history in `store` (picking up what a previous run
    /// left).
    pub fn open(
        notifications: Notifications,
        store: KeyValueStore,
        external_url: &str,
    ) -> Result<Self, NotifierError> {
        for warning in &notifications.warnings {
            tracing::warn!("alertmanager configuration: {warning}");
        }
        let metrics = Arc::new(NotifyMetrics::default());
        let queue = Arc::new(DeliveryQueue::open(store.clone(), Arc::clone(&metrics))?);
        let log = NotificationLog::new(store.clone());
        let silences = Arc::new(Silences::open(store.clone())?);
        let history = Arc::new(AlertHistory::open(store)?);
        let config: SharedNotifications = Arc::new(RwLock::new(Arc::new(notifications)));
        let external_url = external_url.trim_end_matches('/').to_owned();
        let dispatcher = Dispatcher::new(
            Arc::clone(&config),
            external_url,
            log,
            Arc::clone(&queue),
            Arc::clone(&silences),
            Arc::clone(&history),
        );
        let deliverer = Arc::new(Deliverer::new(
            queue,
            Arc::clone(&config),
            Arc::clone(&metrics),
        ));
        Ok(Notifier {
            dispatcher: Arc::new(Mutex::new(dispatcher)),
            wake: Arc::new(tokio::sync::Notify::new()),
            deliverer,
            config,
            metrics,
            silences,
            history,
        })
    }

    /// Replaces the configuration (on reload); groups and the queue carry on.
    pub fn reload(&self, notifications: Notifications) {
        for warning in &notifications.warnings {
            tracing::warn!("alertmanager configuration: {warning}");
        }
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(notifications);
        self.deliverer.forget_clients();
    }

    /// Runs `work` on the notifier from a blocking thread, for async callers (the API): the
    /// silences and the history read and write the store, and a change waits for an fsync.
    pub async fn off_async<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Notifier) -> T + Send + 'static,
    ) -> T {
        let notifier = self.clone();
        off_async(move || work(&notifier)).await
    }

    /// Resolves alert records by hand (the given ids, or every open one when `ids` is empty)
    /// and tells their receivers they are resolved. Writes to the store: call it from a
    /// blocking thread ([`Notifier::off_async`]).
    pub fn resolve_by_hand(
        &self,
        ids: &[u64],
        by: &str,
        now: i64,
    ) -> Result<Vec<AlertRecord>, HistoryError> {
        let resolved = self.history.resolve(ids, by, now)?;
        let fingerprints: Vec<u64> = (resolved.iter())
            .filter_map(|r| u64::from_str_radix(&r.fingerprint, 16).ok())
            .collect();
        self.dispatcher().end(&fingerprints, now);
        self.wake.notify_one();
        Ok(resolved)
    }

    fn dispatcher(&self) -> std::sync::MutexGuard<'_, Dispatcher> {
        self.dispatcher.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the dispatcher and the delivery worker until `shutdown` turns true.
    pub fn spawn(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let deliverer = tokio::spawn(Arc::clone(&self.deliverer).run(shutdown.clone()));
        let dispatcher = Arc::clone(&self.dispatcher);
        let wake = Arc::clone(&self.wake);
        let mut shutdown = shutdown;
        let flusher = tokio::spawn(async move {
            loop {
                let now = now_ms();
                let flushing = Arc::clone(&dispatcher);
                // Flushing queues notifications: a durable write.
                let next = off_async(move || {
                    (flushing.lock().unwrap_or_else(|p| p.into_inner())).flush_due(now)
                })
                .await;
                let wait = next.map_or(1000, |t| (t - now).clamp(0, 1000)) as u64;
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        });
        vec![deliverer, flusher]
    }
}

impl Notify for Notifier {
    fn notify(&self, alerts: Vec<NotifierAlert>) {
        let now = now_ms();
        let alerts = alerts
            .into_iter()
            .map(|a| {
                let labels = label_map(&a.labels);
                let resolved = a.resolved.then_some(a.ends_at);
                let observed =
                    self.history
                        .observe(&labels, &a.annotations, a.value, a.starts_at, resolved);
                let ends_at = match observed {
                    Ok(Observed::HeldResolved(at)) => at,
                    Ok(Observed::Notify) => a.ends_at,
                    Err(e) => {
                        tracing::warn!("{e}");
                        a.ends_at
                    }
                };
                AmAlert {
                    labels,
                    annotations: a.annotations,
                    starts_at: a.starts_at,
                    ends_at,
                    generator_url: a.generator_url,
                }
            })
            .collect();
        self.dispatcher().receive(alerts, now);
        self.wake.notify_one();
    }
}
