//! One target's loop: wait for its slot in the interval, fetch the body within the timeout and
//! size limit, ingest it, append the synthetic series, and report health.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::labels::{Labels, METRIC_NAME};
use crate::tsdb::{Appendable, Appender};
use crate::vocab::now_ms;

use super::fetch::{Auth, FetchError, fetch};
use super::ingest::{IngestOutcome, IngestRules, SeriesCache, append_stale};
use super::metrics::{ScrapeMetrics, TargetHealth, UNKNOWN};
use super::parse::Format;
use super::target::Target;

/// How a job reaches its targets and treats what they return.
#[derive(Debug)]
pub struct JobSettings {
    /// The HTTP client (TLS settings baked in).
    pub client: reqwest::Client,
    /// Credentials sent with each scrape.
    pub auth: Auth,
    /// Largest body accepted, after decompression.
    pub body_size_limit: Option<u64>,
    /// Label, limit and relabelling rules (target labels filled per target).
    pub rules: IngestRules,
}

/// A target's health as `/api/v1/targets` reports it.
#[derive(Debug, Clone, Default)]
pub struct TargetStatus {
    /// `up`, `down` or `unknown` (not scraped yet).
    pub health: &'static str,
    /// The last scrape's error, empty when it succeeded.
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long it took, in seconds.
    pub last_duration: f64,
}

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("context deadline exceeded (timeout {0:?})")]
    Timeout(Duration),
    #[error(transparent)]
    Ingest(#[from] super::ingest::IngestError),
    #[error("storage error: {0}")]
    Storage(#[from] crate::tsdb::AppendError),
}

/// Why a scrape loop stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    /// Still running.
    Running,
    /// The target left the configuration: its series end with staleness markers.
    Removed,
    /// The collector shuts down: the series are left as they are, so that after a restart
    /// they continue (and so do the alerts computed from them).
    Shutdown,
}

/// A running scrape loop's shared view.
pub struct LoopHandle {
    /// The target scraped.
    pub target: Target,
    /// Its latest health.
    pub status: Arc<Mutex<TargetStatus>>,
    stop: tokio::sync::watch::Sender<StopReason>,
    task: tokio::task::JoinHandle<()>,
}

impl LoopHandle {
    /// Starts scraping `target` in a task of its own.
    pub fn spawn(
        target: Target,
        settings: Arc<JobSettings>,
        storage: Arc<dyn Appendable>,
        metrics: ScrapeMetrics,
    ) -> Self {
        let status = Arc::new(Mutex::new(TargetStatus {
            health: UNKNOWN,
            ..TargetStatus::default()
        }));
        let (stop, stopped) = tokio::sync::watch::channel(StopReason::Running);
        let scrape_loop = ScrapeLoop {
            rules: IngestRules {
                target_labels: target.labels.clone(),
                ..settings.rules.clone()
            },
            target: target.clone(),
            settings,
            storage,
            status: status.clone(),
            health: metrics.target_added(),
            metrics,
            cache: SeriesCache::default(),
            report: Vec::new(),
            last_body_len: 0,
        };
        let task = tokio::spawn(scrape_loop.run(stopped));
        LoopHandle {
            target,
            status,
            stop,
            task,
        }
    }

    /// Stops the loop of a removed target; it marks all its series stale before ending.
    pub async fn stop(self) {
        self.end(StopReason::Removed).await;
    }

    /// Stops the loop because the collector shuts down; its series are not marked stale.
    pub async fn halt(self) {
        self.end(StopReason::Shutdown).await;
    }

    async fn end(self, reason: StopReason) {
        let _ = self.stop.send(reason);
        let _ = self.task.await;
    }

    /// The latest health.
    pub fn status(&self) -> TargetStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct ScrapeLoop {
    target: Target,
    settings: Arc<JobSettings>,
    rules: IngestRules,
    storage: Arc<dyn Appendable>,
    status: Arc<Mutex<TargetStatus>>,
    metrics: ScrapeMetrics,
    /// Counts the target under its health until the loop ends.
    health: TargetHealth,
    cache: SeriesCache,
    /// Handles of the synthetic series, appended by labels the first time.
    report: Vec<(Labels, Option<crate::tsdb::SeriesRef>)>,
    /// Bytes of the last body fetched, the size to expect of the next.
    last_body_len: usize,
}

impl ScrapeLoop {
    async fn run(mut self, mut stopped: tokio::sync::watch::Receiver<StopReason>) {
        let interval = self.target.interval;
        let first = tokio::time::Instant::now() + start_offset(&self.target, interval);
        let mut ticks = tokio::time::interval_at(first, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.scrape_once().await,
                _ = stopped.changed() => break,
            }
        }
        if *stopped.borrow() == StopReason::Removed {
            self.mark_gone();
        }
    }

    async fn scrape_once(&mut self) {
        let t = now_ms();
        let started = Instant::now();
        let settings = &self.settings;
        let fetched = fetch(
            &settings.client,
            &settings.auth,
            settings.body_size_limit,
            &self.target,
            self.last_body_len,
        );
        let result = match tokio::time::timeout(self.target.timeout, fetched).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(ScrapeError::Timeout(self.target.timeout)),
        };
        let outcome = match result {
            Ok((body, format)) => {
                self.last_body_len = body.len();
                self.ingest(&body, format, t)
            }
            Err(error) => {
                // The target is down: its series end here, as Prometheus marks them.
                self.stale_everything(t);
                Err(error)
            }
        };
        let duration = started.elapsed().as_secs_f64();
        let up = outcome.is_ok();
        if let Err(error) = &outcome {
            tracing::debug!(target = %self.target.url, %error, "scrape failed");
        }
        let counts = outcome.as_ref().copied().unwrap_or_default();
        if let Err(error) = self.append_report(t, up, duration, counts) {
            tracing::warn!(target = %self.target.url, %error, "cannot store scrape report");
        }
        self.metrics.record(up, counts.kept);
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        status.health = if up { "up" } else { "down" };
        self.health.set(status.health);
        status.last_error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        status.last_scrape = Some(UNIX_EPOCH + Duration::from_millis(t as u64));
        status.last_duration = duration;
    }

    fn ingest(
        &mut self,
        body: &[u8],
        format: Format,
        t: i64,
    ) -> Result<IngestOutcome, ScrapeError> {
        let source = self.target.url.as_str();
        let mut app = self.storage.appender(source);
        match self
            .cache
            .ingest(app.as_mut(), &self.rules, body, format, t)
        {
            Ok(outcome) => {
                app.commit()?;
                Ok(outcome)
            }
            Err(error) => {
                app.rollback();
                self.stale_everything(t);
                Err(error.into())
            }
        }
    }

    fn stale_everything(&mut self, t: i64) {
        let mut app = self.storage.appender(&self.target.url);
        match self.cache.stale_all(app.as_mut(), t) {
            Ok(()) => {
                if let Err(error) = app.commit() {
                    tracing::warn!(target = %self.target.url, %error, "cannot store staleness markers");
                }
            }
            Err(error) => {
                app.rollback();
                tracing::warn!(target = %self.target.url, %error, "cannot store staleness markers");
            }
        }
    }

    fn append_report(
        &mut self,
        t: i64,
        up: bool,
        duration: f64,
        counts: IngestOutcome,
    ) -> Result<(), crate::tsdb::AppendError> {
        let values = [
            ("up", if up { 1.0 } else { 0.0 }),
            ("scrape_duration_seconds", duration),
            ("scrape_samples_scraped", counts.scraped as f64),
            ("scrape_samples_post_metric_relabeling", counts.kept as f64),
            ("scrape_series_added", counts.series_added as f64),
        ];
        if self.report.is_empty() {
            self.report = values
                .iter()
                .map(|(name, _)| (with_name(&self.target.labels, name), None))
                .collect();
        }
        let mut app = self.storage.appender(&self.target.url);
        for ((labels, series), (_, value)) in self.report.iter_mut().zip(values) {
            append_report_sample(app.as_mut(), labels, series, t, value)?;
        }
        app.commit().map(|_| ())
    }

    /// The target is gone: its series and its synthetic series end with staleness markers.
    fn mark_gone(&mut self) {
        let t = now_ms();
        self.stale_everything(t);
        let mut app = self.storage.appender(&self.target.url);
        for (labels, series) in &self.report {
            if let Some(series) = series
                && let Err(error) = append_stale(app.as_mut(), *series, labels, t)
            {
                tracing::warn!(%error, "cannot store staleness marker");
            }
        }
        if let Err(error) = app.commit() {
            tracing::warn!(%error, "cannot store staleness markers");
        }
    }
}

fn append_report_sample(
    app: &mut dyn Appender,
    labels: &Labels,
    series: &mut Option<crate::tsdb::SeriesRef>,
    t: i64,
    value: f64,
) -> Result<(), crate::tsdb::AppendError> {
    if let Some(known) = series {
        match app.append_ref(*known, t, value) {
            Err(crate::tsdb::AppendError::UnknownRef) => {}
            other => return other,
        }
    }
    *series = Some(app.append(labels, t, value)?);
    Ok(())
}

fn with_name(labels: &Labels, name: &str) -> Labels {
    let pairs = labels
        .iter()
        .map(|l| (l.name, l.value))
        .chain([(METRIC_NAME, name)]);
    Labels::from_pairs(pairs)
}

/// How long to wait before the first scrape so that each target keeps a fixed slot in the
/// interval, spread by a hash of its URL and labels as Prometheus does.
fn start_offset(target: &Target, interval: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    target.url.hash(&mut hasher);
    target.labels.hash(&mut hasher);
    let interval_ns = interval.as_nanos().max(1) as u64;
    let slot = hasher.finish() % interval_ns;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_nanos() % u128::from(interval_ns)) as u64)
        .unwrap_or(0);
    Duration::from_nanos((slot + interval_ns - now) % interval_ns)
}
