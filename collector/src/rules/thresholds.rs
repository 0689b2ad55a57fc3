//! Publishing the configured per-target thresholds as the series rules compare with:
//! `osprey_alert_threshold{alert="...", <target labels>}`, one per alert and scraped target.

use std::collections::HashSet;
use std::sync::Mutex;

use super::evaluate::QueryFn;
use crate::config::{ALERT_LABEL, THRESHOLD_METRIC, Thresholds};
use crate::labels::{Labels, METRIC_NAME};
use crate::tsdb::{Appendable, STALE_NAN_BITS};

/// The thresholds in force and the series last written for them. Every rule group records
/// them right before it evaluates, so a rule always compares with the thresholds of the
/// targets `up` lists at its own evaluation time, from the first evaluation after a target
/// appears or the configuration is reloaded.
#[derive(Default)]
pub struct ThresholdSeries {
    state: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    thresholds: Thresholds,
    /// When the series were last written (Unix ms).
    written_at: i64,
    /// The label sets last written, to end with a staleness marker when they go.
    written: HashSet<Labels>,
}

impl ThresholdSeries {
    /// Publishes `thresholds`.
    pub fn new(thresholds: Thresholds) -> Self {
        ThresholdSeries {
            state: Mutex::new(Recorded {
                thresholds,
                ..Recorded::default()
            }),
        }
    }

    /// Replaces the thresholds (a reload); series of entries that went are ended at the next
    /// recording.
    pub fn replace(&self, thresholds: Thresholds) {
        self.lock().thresholds = thresholds;
    }

    /// Writes the threshold series at `at_ms` for the targets `up` lists then, unless a group
    /// already wrote them at that time or later. A failure is logged: rules then compare with
    /// the series written before, or with their defaults.
    pub fn record(&self, query: &dyn QueryFn, storage: &dyn Appendable, at_ms: i64) {
        let mut state = self.lock();
        if at_ms <= state.written_at || (state.thresholds.is_empty() && state.written.is_empty()) {
            return;
        }
        let targets = match query.query("up", at_ms) {
            Ok(targets) => targets,
            Err(e) => {
                tracing::warn!("cannot list the targets for the alert thresholds: {e}");
                return;
            }
        };
        let mut series = Vec::new();
        for (labels, _) in &targets {
            let target: Vec<(&str, &str)> = (labels.iter())
                .filter(|l| l.name != METRIC_NAME && l.name != ALERT_LABEL)
                .map(|l| (l.name, l.value))
                .collect();
            let target_labels = Labels::from_pairs(target.iter().copied());
            for (alert, value) in state.thresholds.for_target(&target_labels) {
                let mut pairs = target.clone();
                pairs.push((METRIC_NAME, THRESHOLD_METRIC));
                pairs.push((ALERT_LABEL, alert));
                series.push((Labels::from_pairs(pairs), value));
            }
        }
        let current: HashSet<Labels> = series.iter().map(|(l, _)| l.clone()).collect();
        let mut appender = storage.appender("");
        let stale = f64::from_bits(STALE_NAN_BITS);
        let gone = state.written.difference(&current).map(|l| (l, stale));
        for (labels, value) in series.iter().map(|(l, v)| (l, *v)).chain(gone) {
            if let Err(e) = appender.append(labels, at_ms, value) {
                tracing::warn!("cannot write the alert threshold {labels}: {e}");
            }
        }
        match appender.commit() {
            Ok(_) => {
                state.written_at = at_ms;
                state.written = current;
            }
            Err(e) => tracing::warn!("cannot write the alert thresholds: {e}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
