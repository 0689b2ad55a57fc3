//! One target's loop: wait for its slot in the interval, fetch the body within the timeout and
//! size limit, ingest it, append the synthetic series, count and log what was refused, and
//! report health. A scrape that passes a limit fails as a whole (nothing of it is kept) but is
//! reported like any other: `up` 0, its counts, and why.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::labels::{Labels, METRIC_NAME};
use crate::tsdb::{AppendError, Appendable, Appender};
use crate::vocab::{FailureLog, now_ms};

use super::fetch::{Auth, FetchError, fetch};
use super::ingest::{
    IngestError, IngestFailure, IngestOutcome, IngestRules, SeriesCache, append_stale,
};
use super::metrics::{ScrapeMetrics, TargetHealth, UNKNOWN};
use super::parse::Format;
use super::refusal::{Refusal, RefusalLog};
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
    Ingest(#[from] IngestError),
    #[error("storage error: {0}")]
    Storage(#[from] AppendError),
}

impl ScrapeError {
    /// The limit the scrape passed, if that is why it failed.
    fn limit(&self) -> Option<Refusal> {
        match self {
            ScrapeError::Fetch(FetchError::BodyTooLarge(_)) => Some(Refusal::BodySizeLimit),
            ScrapeError::Ingest(error) => error.limit(),
            _ => None,
        }
    }
}

/// The logs of failures to store, shared by every loop: while the disk refuses writes every
/// scrape of every target fails the same way, and a line a minute says so.
#[derive(Debug, Clone, Default)]
pub struct StoreFailures {
    report: Arc<Mutex<FailureLog>>,
    staleness: Arc<Mutex<FailureLog>>,
}

impl StoreFailures {
    fn report(&self, outcome: Result<(), AppendError>) {
        let what = "storing scrape reports (up, scrape_*)";
        lock(&self.report).record(what, outcome);
    }

    fn staleness(&self, outcome: Result<(), AppendError>) {
        let what = "storing staleness markers of failed scrapes";
        lock(&self.staleness).record(what, outcome);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
        store_failures: StoreFailures,
    ) -> Self {
        let scrape_loop =
            ScrapeLoop::new(target.clone(), settings, storage, metrics, store_failures);
        let status = scrape_loop.status.clone();
        let (stop, stopped) = tokio::sync::watch::channel(StopReason::Running);
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
        lock(&self.status).clone()
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
    refusals: RefusalLog,
    store_failures: StoreFailures,
    cache: SeriesCache,
    /// Handles of the synthetic series, appended by labels the first time.
    report: Vec<(Labels, Option<crate::tsdb::SeriesRef>)>,
    /// Bytes of the last body fetched, the size to expect of the next.
    last_body_len: usize,
}

impl ScrapeLoop {
    fn new(
        target: Target,
        settings: Arc<JobSettings>,
        storage: Arc<dyn Appendable>,
        metrics: ScrapeMetrics,
        store_failures: StoreFailures,
    ) -> Self {
        ScrapeLoop {
            rules: IngestRules {
                target_labels: target.labels.clone(),
                ..settings.rules.clone()
            },
            target,
            settings,
            storage,
            status: Arc::new(Mutex::new(TargetStatus {
                health: UNKNOWN,
                ..TargetStatus::default()
            })),
            health: metrics.target_added(),
            metrics,
            refusals: RefusalLog::default(),
            store_failures,
            cache: SeriesCache::default(),
            report: Vec::new(),
            last_body_len: 0,
        }
    }

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
        let fetched = match tokio::time::timeout(self.target.timeout, fetched).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(ScrapeError::Timeout(self.target.timeout)),
        };
        self.process(t, started, fetched);
    }

    /// Ingests what a scrape that started at `t` fetched, and reports it.
    fn process(
        &mut self,
        t: i64,
        started: Instant,
        fetched: Result<(Vec<u8>, Format), ScrapeError>,
    ) {
        let (counts, outcome) = match fetched {
            Ok((body, format)) => {
                self.last_body_len = body.len();
                self.ingest(&body, format, t)
            }
            Err(error) => {
                // The target is down: its series end here, as Prometheus marks them.
                self.stale_everything(t);
                (IngestOutcome::default(), Err(error))
            }
        };
        self.finish(t, started.elapsed(), counts, outcome);
    }

    /// Reports a scrape that started at `t`: its synthetic series, the counters, the log and
    /// the target's status.
    fn finish(
        &mut self,
        t: i64,
        duration: Duration,
        counts: IngestOutcome,
        outcome: Result<(), ScrapeError>,
    ) {
        let duration = duration.as_secs_f64();
        let up = outcome.is_ok();
        let report = self.append_report(t, up, duration, counts);
        self.store_failures.report(report);
        self.metrics
            .record(up, if up { counts.stored() } else { 0 });
        let url = self.target.url.as_str();
        // A failed scrape keeps none of its samples: none was dropped on its own.
        let dropped = counts
            .dropped()
            .into_iter()
            .filter(|&(_, count)| up && count > 0);
        for (refusal, count) in dropped {
            self.metrics.refused(refusal, count);
            self.refusals.record(url, refusal, count, None);
        }
        let error = outcome.err();
        if let Some(error) = &error {
            match error.limit() {
                Some(limit) => {
                    self.metrics.refused(limit, 1);
                    self.refusals
                        .record(url, limit, 1, Some(&error.to_string()));
                }
                None => tracing::debug!(target = url, %error, "scrape failed"),
            }
        }
        let mut status = lock(&self.status);
        status.health = if up { "up" } else { "down" };
        self.health.set(status.health);
        status.last_error = error.map(|e| e.to_string()).unwrap_or_default();
        status.last_scrape = Some(UNIX_EPOCH + Duration::from_millis(t as u64));
        status.last_duration = duration;
    }

    /// Ingests and commits a body; on failure nothing of it is kept and the target's series end.
    fn ingest(
        &mut self,
        body: &[u8],
        format: Format,
        t: i64,
    ) -> (IngestOutcome, Result<(), ScrapeError>) {
        let mut app = self.storage.appender(&self.target.url);
        match self
            .cache
            .ingest(app.as_mut(), &self.rules, body, format, t)
        {
            Ok(mut counts) => match app.commit() {
                Ok(committed) => {
                    counts.out_of_order += committed.out_of_order;
                    (counts, Ok(()))
                }
                Err(error) => (counts, Err(error.into())),
            },
            Err(IngestFailure { error, counts }) => {
                app.rollback();
                self.stale_everything(t);
                (counts, Err(error.into()))
            }
        }
    }

    fn stale_everything(&mut self, t: i64) {
        if self.cache.is_empty() {
            return;
        }
        let mut app = self.storage.appender(&self.target.url);
        let outcome = match self.cache.stale_all(app.as_mut(), t) {
            Ok(()) => app.commit().map(|_| ()),
            Err(error) => {
                app.rollback();
                Err(error)
            }
        };
        self.store_failures.staleness(outcome);
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
        let mut app = self.storage.report_appender(&self.target.url);
        for ((labels, series), (_, value)) in self.report.iter_mut().zip(values) {
            append_report_sample(app.as_mut(), labels, series, t, value)?;
        }
        app.commit().map(|_| ())
    }

    /// The target is gone: its series and its synthetic series end with staleness markers.
    fn mark_gone(&mut self) {
        let t = now_ms();
        self.stale_everything(t);
        let mut app = self.storage.report_appender(&self.target.url);
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

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::labels::{MatchOp, Matcher};
    use crate::tsdb::{Querier, Storage, StorageOptions};

    fn target() -> Target {
        Target {
            job: "node".into(),
            url: "http://h:9100/metrics".into(),
            labels: Labels::from_pairs([("job", "node"), ("instance", "h:9100")]),
            discovered: Default::default(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
        }
    }

    /// The value of the one series named `name` at exactly `t`.
    fn value_at(store: &Storage, name: &str, t: i64) -> Option<f64> {
        let name = Matcher::new(MatchOp::Equal, METRIC_NAME, name).unwrap();
        let found = store.select(&[name], t, t).unwrap();
        found.first().map(|series| series.samples[0].v)
    }

    fn status(scrape_loop: &ScrapeLoop) -> TargetStatus {
        scrape_loop.status.lock().unwrap().clone()
    }

    #[test]
    fn a_scrape_past_the_series_limit_is_reported_down_with_its_counts_and_why() {
        let dir = tempfile::tempdir().unwrap();
        let options = StorageOptions {
            max_series_per_source: 3,
            ..StorageOptions::default()
        };
        let store = Arc::new(Storage::open(dir.path(), options).unwrap());
        let metrics = ScrapeMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let settings = Arc::new(JobSettings {
            client: reqwest::Client::new(),
            auth: Auth::None,
            body_size_limit: None,
            rules: IngestRules::default(),
        });
        let failures = StoreFailures::default();
        let mut scrape_loop = ScrapeLoop::new(target(), settings, store.clone(), metrics, failures);
        let body = b"a 1\nb 1\nc 1\nd 1\n".to_vec();
        scrape_loop.process(1000, Instant::now(), Ok((body, Format::Text)));
        let down = status(&scrape_loop);
        assert_eq!(down.health, "down");
        assert_eq!(
            down.last_error,
            "series limit reached: this target would create more than 3 series \
             (storage max_series_per_source)"
        );
        assert_eq!(value_at(&store, "up", 1000), Some(0.0));
        assert_eq!(value_at(&store, "scrape_samples_scraped", 1000), Some(4.0));
        let kept = value_at(&store, "scrape_samples_post_metric_relabeling", 1000);
        assert_eq!(kept, Some(4.0));
        assert!(value_at(&store, "scrape_duration_seconds", 1000).is_some());
        assert_eq!(
            value_at(&store, "a", 1000),
            None,
            "nothing of the scrape is kept"
        );
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("osprey_target_scrapes_exceeded_series_limit_total 1\n"),
            "{text}"
        );
        // Back under its limit, the target is up again.
        let body = b"a 2\nb 2\n".to_vec();
        scrape_loop.process(2000, Instant::now(), Ok((body, Format::Text)));
        let up = status(&scrape_loop);
        assert_eq!((up.health, up.last_error.as_str()), ("up", ""));
        assert_eq!(value_at(&store, "up", 2000), Some(1.0));
        assert_eq!(value_at(&store, "a", 2000), Some(2.0));
    }
}
