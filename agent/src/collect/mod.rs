//! The list of collectors and one scrape over them: each enabled collector writes its families,
//! and a failing one is logged, counted and left out without stopping the others.

pub mod containers;
pub mod host;
mod kept_file;
mod net_dev;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::AgentConfig;
use crate::expose::{Exposition, Format};
use osprey_web::self_metrics;

/// Why a collector could not produce its families on this scrape.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// A file under /proc, /sys or a cgroup tree could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file that failed.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file was read but its content was not what the kernel documents.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file that failed.
        path: String,
        /// What was wrong with it.
        message: String,
    },
}

/// One source of metric families, run at scrape time.
pub trait Collector: Send + Sync {
    /// Short name used in the agent's self-metrics and logs, e.g. `cpu`.
    fn name(&self) -> &'static str;

    /// Writes this collector's families. On error, whatever it wrote is discarded.
    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError>;
}

/// The enabled collectors, run in order on every scrape.
pub struct Collectors {
    list: Vec<Box<dyn Collector>>,
    /// The length of the last scrape's exposition, to size the next one's buffer.
    last_len: AtomicUsize,
    self_metrics: Mutex<SelfMetrics>,
}

impl Collectors {
    /// Every collector the configuration enables: host collectors, then containers. Container
    /// discovery is spawned on the current tokio runtime, so call this from within one.
    pub fn from_config(config: &AgentConfig) -> Self {
        let mut list = host::collectors(config);
        if config.containers.enabled {
            let (collector, discovery) =
                config.containers.build(&config.proc_root, &config.sys_root);
            tokio::spawn(discovery.run());
            list.push(Box::new(collector));
        }
        Collectors::new(list)
    }

    /// Wraps the given collectors.
    pub fn new(list: Vec<Box<dyn Collector>>) -> Self {
        Collectors {
            list,
            last_len: AtomicUsize::new(0),
            self_metrics: Mutex::new(SelfMetrics::new()),
        }
    }

    /// Runs every collector and returns the finished exposition, with the agent's own metrics
    /// (per-collector duration and success, build, process) appended.
    pub fn scrape(&self, format: Format) -> String {
        // An eighth more than last time leaves room for a few new series.
        let last_len = self.last_len.load(Ordering::Relaxed);
        let mut out = match last_len {
            0 => Exposition::new(format),
            _ => Exposition::with_capacity(format, last_len + last_len / 8),
        };
        let mut outcomes = Vec::with_capacity(self.list.len());
        for collector in &self.list {
            let mark = out.len();
            let started = Instant::now();
            let result = collector.collect(&mut out);
            let seconds = started.elapsed().as_secs_f64();
            if let Err(error) = &result {
                out.truncate(mark);
                tracing::warn!(collector = collector.name(), %error, "collector failed");
            }
            outcomes.push((collector.name(), seconds, result.is_ok()));
        }
        // One scrape at a time records and writes, so each reports its own collectors' figures.
        (self.self_metrics.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .write(&mut out, &outcomes);
        self.last_len.store(out.len(), Ordering::Relaxed);
        out.finish()
    }
}

/// The agent's own families, kept in a registry and appended to every scrape: its build, each
/// collector's duration and success on the scrape (under Osprey's names and under
/// node_exporter's, which dashboards built for node_exporter chart: one family registered
/// under both), and the `process_*` family.
struct SelfMetrics {
    registry: Registry,
    durations: Family<CollectorLabel, Gauge<f64, AtomicU64>>,
    successes: Family<CollectorLabel, Gauge>,
}

/// The `collector` label of the per-collector families.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CollectorLabel {
    collector: &'static str,
}

impl SelfMetrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        self_metrics::register_build_info(
            &mut registry,
            "osprey_agent",
            "A metric with a constant '1' value labeled by version of the osprey agent",
        );
        let durations = Family::<CollectorLabel, Gauge<f64, AtomicU64>>::default();
        let successes = Family::<CollectorLabel, Gauge>::default();
        for (prefix, duration_help, success_help) in [
            (
                "osprey_agent_collector",
                "Time a collector took on this scrape",
                "Whether a collector succeeded on this scrape (1) or failed (0)",
            ),
            (
                "node_scrape_collector",
                "node_exporter: Duration of a collector scrape",
                "node_exporter: Whether a collector succeeded",
            ),
        ] {
            registry.register(
                format!("{prefix}_duration_seconds"),
                duration_help,
                durations.clone(),
            );
            registry.register(format!("{prefix}_success"), success_help, successes.clone());
        }
        self_metrics::register_process_metrics(&mut registry);
        SelfMetrics {
            registry,
            durations,
            successes,
        }
    }

    /// Records this scrape's outcomes and appends the families to `out`.
    fn write(&self, out: &mut Exposition, outcomes: &[(&'static str, f64, bool)]) {
        for &(collector, seconds, ok) in outcomes {
            let label = CollectorLabel { collector };
            self.durations.get_or_create(&label).set(seconds);
            self.successes.get_or_create(&label).set(i64::from(ok));
        }
        if let Err(error) = out.write_registry(&self.registry) {
            tracing::warn!(%error, "cannot write the agent's own metrics");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expose::MetricType;

    /// A collector that writes one sample, then fails when told to.
    struct Scripted {
        name: &'static str,
        fail: bool,
    }

    impl Collector for Scripted {
        fn name(&self) -> &'static str {
            self.name
        }

        fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
            out.family("scripted_value", "A value.", MetricType::Gauge)
                .sample(&[("by", self.name)], 1.0);
            match self.fail {
                true => Err(CollectError::Parse {
                    path: "/nowhere".to_owned(),
                    message: "told to fail".to_owned(),
                }),
                false => Ok(()),
            }
        }
    }

    #[test]
    fn outcomes_appear_under_osprey_and_node_exporter_names_and_a_failure_is_dropped() {
        let collectors = Collectors::new(vec![
            Box::new(Scripted {
                name: "good",
                fail: false,
            }),
            Box::new(Scripted {
                name: "bad",
                fail: true,
            }),
        ]);
        let text = collectors.scrape(Format::Text004);
        assert!(text.contains("scripted_value{by=\"good\"} 1\n"), "{text}");
        assert!(!text.contains("by=\"bad\""), "{text}");
        for prefix in ["osprey_agent_collector", "node_scrape_collector"] {
            for (collector, ok) in [("good", 1), ("bad", 0)] {
                let line = format!("{prefix}_success{{collector=\"{collector}\"}} {ok}\n");
                assert!(text.contains(&line), "missing {line}{text}");
            }
            let duration = format!("{prefix}_duration_seconds{{collector=\"bad\"}} ");
            assert!(text.contains(&duration), "missing {duration}\n{text}");
        }
        assert!(text.contains(
            "# HELP node_scrape_collector_success node_exporter: Whether a collector succeeded.\n"
        ));
    }
}
