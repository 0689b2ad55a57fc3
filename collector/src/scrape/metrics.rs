//! The scrape stage's own metrics: scrapes, failures and samples since start, scrapes and
//! samples refused by kind, and the active targets by the health of their last scrape.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::refusal::Refusal;

/// A target's health before its first scrape.
pub(super) const UNKNOWN: &str = "unknown";

/// The `health` label of `osprey_collector_targets`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabel {
    health: &'static str,
}

/// The scrape loops' figures; clones share them, so each loop is handed one.
#[derive(Debug, Clone)]
pub struct ScrapeMetrics {
    scrapes: Counter,
    failures: Counter,
    samples: Counter,
    refusals: [Counter; Refusal::ALL.len()],
    targets: Family<HealthLabel, Gauge>,
}

impl Default for ScrapeMetrics {
    fn default() -> Self {
        let targets = Family::<HealthLabel, Gauge>::default();
        // Every health is reported, at 0 when no target has it.
        for health in ["up", "down", UNKNOWN] {
            targets.get_or_create(&HealthLabel { health }).set(0);
        }
        ScrapeMetrics {
            scrapes: Counter::default(),
            failures: Counter::default(),
            samples: Counter::default(),
            refusals: Default::default(),
            targets,
        }
    }
}

impl ScrapeMetrics {
    /// Registers the `osprey_collector_*` scrape families, and the refusal counters under
    /// Prometheus's names, in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "osprey_collector_scrapes",
            "Scrapes attempted",
            self.scrapes.clone(),
        );
        registry.register(
            "osprey_collector_scrape_failures",
            "Scrapes that failed (target down, timeout, parse error, limit exceeded)",
            self.failures.clone(),
        );
        registry.register(
            "osprey_collector_scraped_samples",
            "Samples stored from successful scrapes",
            self.samples.clone(),
        );
        for refusal in Refusal::ALL {
            let (name, help) = refusal.counter();
            registry.register(name, help, self.refusals[refusal.index()].clone());
        }
        registry.register(
            "osprey_collector_targets",
            "Active scrape targets by health of their last scrape",
            self.targets.clone(),
        );
    }

    /// Counts one scrape and the samples it appended.
    pub(super) fn record(&self, ok: bool, samples: u64) {
        self.scrapes.inc();
        if !ok {
            self.failures.inc();
        }
        self.samples.inc_by(samples);
    }

    /// Counts `count` refusals of one kind (samples or scrapes).
    pub(super) fn refused(&self, refusal: Refusal, count: u64) {
        self.refusals[refusal.index()].inc_by(count);
    }

    /// Counts a new target as of unknown health until it is dropped.
    pub(super) fn target_added(&self) -> TargetHealth {
        let health = TargetHealth {
            targets: self.targets.clone(),
            health: UNKNOWN,
        };
        health.gauge().inc();
        health
    }
}

/// One running target's place in `osprey_collector_targets`: counted under its latest health,
/// and no longer once its scrape loop ends and drops this.
#[derive(Debug)]
pub(super) struct TargetHealth {
    targets: Family<HealthLabel, Gauge>,
    health: &'static str,
}

impl TargetHealth {
    /// Moves the target to `health`.
    pub(super) fn set(&mut self, health: &'static str) {
        if health != self.health {
            self.gauge().dec();
            self.health = health;
            self.gauge().inc();
        }
    }

    fn gauge(&self) -> Gauge {
        self.targets.get_or_create_owned(&HealthLabel {
            health: self.health,
        })
    }
}

impl Drop for TargetHealth {
    fn drop(&mut self) {
        self.gauge().dec();
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::prometheus_text;

    use super::*;

    fn targets(registry: &Registry) -> Vec<String> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, registry).unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("osprey_collector_targets{"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }

    #[test]
    fn targets_move_between_healths_and_leave_when_dropped() {
        let metrics = ScrapeMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut first = metrics.target_added();
        let mut second = metrics.target_added();
        first.set("up");
        second.set("down");
        second.set("down");
        assert_eq!(
            targets(&registry),
            [
                "osprey_collector_targets{health=\"down\"} 1",
                "osprey_collector_targets{health=\"unknown\"} 0",
                "osprey_collector_targets{health=\"up\"} 1",
            ]
        );
        drop(first);
        second.set("up");
        drop(second);
        let _third = metrics.target_added();
        assert_eq!(
            targets(&registry),
            [
                "osprey_collector_targets{health=\"down\"} 0",
                "osprey_collector_targets{health=\"unknown\"} 1",
                "osprey_collector_targets{health=\"up\"} 0",
            ]
        );
    }

    #[test]
    fn counters_keep_their_names_with_total() {
        let metrics = ScrapeMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.record(true, 10);
        metrics.record(false, 0);
        metrics.refused(Refusal::OutOfOrder, 3);
        metrics.refused(Refusal::SampleLimit, 1);
        metrics.refused(Refusal::SampleLimit, 1);
        let mut text = String::new();
        prometheus_text::encode(&mut text, &registry).unwrap();
        for line in [
            "# TYPE osprey_collector_scrapes_total counter\nosprey_collector_scrapes_total 2\n",
            "osprey_collector_scrape_failures_total 1\n",
            "osprey_collector_scraped_samples_total 10\n",
            "prometheus_target_scrapes_sample_out_of_order_total 3\n",
            "prometheus_target_scrapes_exceeded_sample_limit_total 2\n",
            "prometheus_target_scrapes_sample_duplicate_timestamp_total 0\n",
            "osprey_target_scrapes_exceeded_series_limit_total 0\n",
        ] {
            assert!(text.contains(line), "{text}");
        }
    }
}
