//! The dispatcher: routes alerts into groups, waits group_wait / group_interval, drops
//! silenced and inhibited alerts, asks the notification log whether anything is new, and
//! queues the rendered notifications.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::history::AlertHistory;
use super::nflog::{LogEntry, NotificationLog, PRUNE_EVERY_MS, needs_update};
use super::payload::{AmAlert, GroupNotice, sort_alerts};
use super::queue::{Content, Delivery, DeliveryQueue, Integration};
use super::silence::Silences;
use super::{InhibitRule, Notifications, Route};
use crate::labels::Labels;

/// The running notification setup, replaced as a whole on reload.
pub type SharedNotifications = Arc<RwLock<Arc<Notifications>>>;

/// Resolved alerts are forgotten this long after they end.
const RESOLVED_KEEP_MS: i64 = 15 * 60 * 1000;

struct Group {
    route_path: String,
    receiver: String,
    key: String,
    labels: BTreeMap<String, String>,
    alerts: BTreeMap<u64, AmAlert>,
    next_flush_ms: i64,
    flushed: bool,
}

/// Alert groups and what is needed to notify about them. Flushing reads and writes the store:
/// call [`Dispatcher::flush_due`] from a blocking thread.
pub struct Dispatcher {
    config: SharedNotifications,
    external_url: String,
    alerts: BTreeMap<u64, AmAlert>,
    groups: BTreeMap<(String, String), Group>,
    log: NotificationLog,
    queue: Arc<DeliveryQueue>,
    silences: Arc<Silences>,
    history: Arc<AlertHistory>,
    /// When the notification log and the alert history are next pruned (Unix ms).
    next_prune_ms: i64,
}

fn find_route<'a>(route: &'a Route, path: &str) -> Option<&'a Route> {
    if route.path == path {
        return Some(route);
    }
    route
        .routes
        .iter()
        .find_map(|child| find_route(child, path))
}

impl Dispatcher {
    /// A dispatcher over the given configuration, log, queue and silences.
    pub fn new(
        config: SharedNotifications,
        external_url: String,
        log: NotificationLog,
        queue: Arc<DeliveryQueue>,
        silences: Arc<Silences>,
        history: Arc<AlertHistory>,
    ) -> Self {
        Dispatcher {
            config,
            external_url,
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            log,
            queue,
            silences,
            history,
            next_prune_ms: 0,
        }
    }

    fn config(&self) -> Arc<Notifications> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Takes in alerts from the rules; new groups wait group_wait before their first flush.
    pub fn receive(&mut self, alerts: Vec<AmAlert>, now: i64) {
        let config = self.config();
        for mut alert in alerts {
            let fingerprint = alert.fingerprint();
            if let Some(known) = self.alerts.get(&fingerprint)
                && !known.resolved_at(now)
            {
                alert.starts_at = alert.starts_at.min(known.starts_at);
            }
            let labels = Labels::from_pairs(alert.labels.clone());
            for route in config.route.matching(&labels) {
                let group_labels = route.group_labels(&labels);
                let key = route.group_key(&group_labels);
                let group = self
                    .groups
                    .entry((key.clone(), route.receiver.clone()))
                    .or_insert_with(|| Group {
                        route_path: route.path.clone(),
                        receiver: route.receiver.clone(),
                        key,
                        labels: group_labels,
                        alerts: BTreeMap::new(),
                        next_flush_ms: now + route.group_wait.as_millis() as i64,
                        flushed: false,
                    });
                // An alert older than group_wait makes a fresh group flush at once.
                if !group.flushed && alert.starts_at + route.group_wait.as_millis() as i64 <= now {
                    group.next_flush_ms = group.next_flush_ms.min(now);
                }
                group.alerts.insert(fingerprint, alert.clone());
            }
            self.alerts.insert(fingerprint, alert);
        }
        self.alerts
            .retain(|_, a| !(a.resolved_at(now) && now - a.ends_at > RESOLVED_KEEP_MS));
    }

    /// Marks the alerts with these fingerprints resolved at `at` (resolved by hand); their
    /// groups notify it at their next flush.
    pub fn end(&mut self, fingerprints: &[u64], at: i64) {
        let ended = (fingerprints.iter())
            .filter_map(|fp| self.alerts.get(fp))
            .map(|alert| AmAlert {
                ends_at: at,
                ..alert.clone()
            })
            .collect();
        self.receive(ended, at);
    }

    /// Flushes every group that is due, and prunes the notification log and the alert history
    /// now and then; returns when the next group is due.
    pub fn flush_due(&mut self, now: i64) -> Option<i64> {
        if now >= self.next_prune_ms {
            self.next_prune_ms = now + PRUNE_EVERY_MS;
            if let Err(e) = self.log.prune(now) {
                tracing::warn!("{e}");
            }
            if let Err(e) = self.history.prune(now) {
                tracing::warn!("{e}");
            }
        }
        let config = self.config();
        let due: Vec<(String, String)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush_ms <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for id in due {
            let Some(mut group) = self.groups.remove(&id) else {
                continue;
            };
            let Some(route) = find_route(&config.route, &group.route_path) else {
                continue;
            };
            self.flush(&config, route, &group, now);
            group.flushed = true;
            group.next_flush_ms = now + route.group_interval.as_millis() as i64;
            group.alerts.retain(|_, a| !a.resolved_at(now));
            if !group.alerts.is_empty() {
                self.groups.insert(id, group);
            }
        }
        self.groups.values().map(|g| g.next_flush_ms).min()
    }

    fn is_inhibited(&self, rules: &[InhibitRule], target: &AmAlert, now: i64) -> bool {
        let target_labels = Labels::from_pairs(target.labels.clone());
        rules.iter().any(|rule| {
            if !rule.target.iter().all(|m| m.matches_labels(&target_labels)) {
                return false;
            }
            let target_is_source = rule.source.iter().all(|m| m.matches_labels(&target_labels));
            self.alerts.values().any(|source| {
                if source.resolved_at(now) || source.labels == target.labels {
                    return false;
                }
                let source_labels = Labels::from_pairs(source.labels.clone());
                let equal = rule
                    .equal
                    .iter()
                    .all(|name| source.labels.get(name) == target.labels.get(name));
                equal
                    && rule.source.iter().all(|m| m.matches_labels(&source_labels))
                    && !(target_is_source
                        && rule.target.iter().all(|m| m.matches_labels(&source_labels)))
            })
        })
    }

    fn flush(&self, config: &Notifications, route: &Route, group: &Group, now: i64) {
        let Some(receiver) = config.receivers.iter().find(|r| r.name == group.receiver) else {
            return;
        };
        let mut alerts: Vec<AmAlert> = group
            .alerts
            .values()
            .filter(|a| {
                !self
                    .silences
                    .is_silenced(&Labels::from_pairs(a.labels.clone()), now)
            })
            .filter(|a| !self.is_inhibited(&config.inhibit_rules, a, now))
            .cloned()
            .collect();
        if alerts.is_empty() {
            return;
        }
        sort_alerts(&mut alerts);
        let firing: Vec<u64> = alerts
            .iter()
            .filter(|a| !a.resolved_at(now))
            .map(AmAlert::fingerprint)
            .collect();
        let resolved: Vec<u64> = alerts
            .iter()
            .filter(|a| a.resolved_at(now))
            .map(AmAlert::fingerprint)
            .collect();
        let integrations = receiver
            .email
            .iter()
            .enumerate()
            .map(|(i, e)| (Integration::Email(i), e.send_resolved))
            .chain(
                receiver
                    .webhook
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (Integration::Webhook(i), w.send_resolved)),
            );
        let mut deliveries = Vec::new();
        let mut logged = Vec::new();
        for (integration, send_resolved) in integrations {
            let log_key = format!("{}\0{}\0{integration:?}", group.key, receiver.name);
            let entry = match self.log.get(&log_key) {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::warn!("{e}");
                    None
                }
            };
            // A group whose firing alerts are all acknowledged is told of changes only.
            let acknowledged = (firing.iter()).all(|fp| self.history.is_acknowledged(*fp, now));
            let repeat = match acknowledged {
                true => i64::MAX,
                false => route.repeat_interval.as_millis() as i64,
            };
            if !needs_update(
                entry.as_ref(),
                &firing,
                &resolved,
                send_resolved,
                repeat,
                now,
            ) {
                continue;
            }
            let shown: Vec<AmAlert> = alerts
                .iter()
                .filter(|a| send_resolved || !a.resolved_at(now))
                .cloned()
                .collect();
            if !shown.is_empty() {
                let notice = GroupNotice {
                    receiver: &receiver.name,
                    group_key: &group.key,
                    group_labels: &group.labels,
                    alerts: &shown,
                    external_url: &self.external_url,
                    now,
                };
                let content = match &integration {
                    Integration::Email(_) => Content::Email {
                        subject: notice.subject(),
                        text: notice.text_body(),
                        html: notice.html_body(),
                    },
                    Integration::Webhook(i) => {
                        let message = notice.webhook(receiver.webhook[*i].max_alerts);
                        Content::Webhook(
                            serde_json::to_string(&message).expect("messages serialize"),
                        )
                    }
                };
                deliveries.push(Delivery {
                    receiver: receiver.name.clone(),
                    integration,
                    group_key: group.key.clone(),
                    content,
                    attempts: 0,
                    created_ms: now,
                    next_attempt_ms: now,
                });
            }
            let entry = LogEntry {
                firing: firing.clone(),
                resolved: resolved.clone(),
                timestamp_ms: now,
            };
            logged.push((log_key, entry));
        }
        // Logged only once queued: a notification the store refuses (a full disk) is tried
        // again at the group's next flush.
        if let Err(e) = self.queue.push(&deliveries) {
            tracing::error!(receiver = %receiver.name, "cannot queue notifications: {e}");
            return;
        }
        for (key, entry) in &logged {
            if let Err(e) = self.log.set(key, entry) {
                tracing::warn!("{e}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
