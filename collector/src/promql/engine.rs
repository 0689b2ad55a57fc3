//! The query engine: applies limits (samples, series, timeout, concurrency) to evaluation and
//! shapes its results for the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use promql_parser::parser::Expr;
use promql_parser::parser::value::ValueType;
use tokio::sync::Semaphore;

use super::budget::Budget;
use super::cleanup::{finish, without_name};
use super::error::{EvalError, EvalResult};
use super::eval::{Evaluator, Steps};
use super::parse::{check_range, parse};
use super::value::{Point, QueryValue, Value};
use crate::labels::Labels;
use crate::tsdb::Querier;

/// Engine limits and defaults, chosen so that a small machine (two cores, 2 GB) survives
/// any query: see the collector's README, section `query`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most samples a query may hold in memory at once (series labels and working tables
    /// count by their size, a sample being 16 bytes).
    pub max_samples: usize,
    /// Most series a query's result may have.
    pub max_series: usize,
    /// Most bytes of an answer (JSON or CSV) rendered from a query's result.
    pub max_response_bytes: usize,
    /// How long a query may run, waiting for a slot included.
    pub timeout: Duration,
    /// How many queries may run at once; more wait for a slot.
    pub max_concurrent: usize,
    /// How far back an instant selector looks for a sample.
    pub lookback: Duration,
    /// Step of subqueries written without one.
    pub default_subquery_step: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_samples: 10_000_000,
            max_series: 100_000,
            max_response_bytes: 256 << 20,
            timeout: Duration::from_secs(120),
            max_concurrent: 4,
            lookback: Duration::from_secs(300),
            default_subquery_step: Duration::from_secs(60),
        }
    }
}

/// A parsed query and the times it is evaluated at, checked once so it can be run as is.
#[derive(Debug, Clone)]
pub struct Query {
    expr: Expr,
    times: Times,
}

#[derive(Debug, Clone, Copy)]
enum Times {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

impl Query {
    /// `expr` evaluated at `t` (milliseconds).
    pub fn instant(expr: Expr, t: i64) -> Query {
        Query {
            expr,
            times: Times::Instant(t),
        }
    }

    /// `expr` evaluated from `start` to `end` every `step` (milliseconds); the step, the
    /// order of the bounds, the number of points and the expression's type are checked.
    pub fn range(expr: Expr, start: i64, end: i64, step: i64) -> EvalResult<Query> {
        check_range(&expr, start, end, step)?;
        Ok(Query {
            expr,
            times: Times::Range { start, end, step },
        })
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}

/// Evaluates PromQL over a [`Querier`].
#[derive(Clone)]
pub struct Engine {
    querier: Arc<dyn Querier>,
    config: EngineConfig,
    slots: Arc<Semaphore>,
    /// Set when the caller stops waiting, so an abandoned evaluation stops early.
    cancelled: Option<Arc<AtomicBool>>,
}

/// Marks a query cancelled when the future waiting for it is dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Engine {
    /// An engine reading from `querier` with the given limits.
    pub fn new(querier: Arc<dyn Querier>, config: EngineConfig) -> Engine {
        let slots = Arc::new(Semaphore::new(config.max_concurrent.max(1)));
        Engine {
            querier,
            config,
            slots,
            cancelled: None,
        }
    }

    /// The storage queries read from.
    pub fn querier(&self) -> &Arc<dyn Querier> {
        &self.querier
    }

    /// The limits this engine applies.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Evaluates `query` at time `t` (milliseconds), waiting for a free slot.
    pub async fn instant_query(&self, query: &str, t: i64) -> EvalResult<QueryValue> {
        self.run(Query::instant(parse(query)?, t), Ok).await
    }

    /// Evaluates `query` from `start` to `end` every `step` (milliseconds), waiting for a slot.
    pub async fn range_query(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> EvalResult<QueryValue> {
        self.run(Query::range(parse(query)?, start, end, step)?, Ok)
            .await
    }

    /// Evaluates `query` on the blocking pool once one of the `max_concurrent` slots is free,
    /// then hands the result to `render` there, in the same slot: answers are rendered off the
    /// async workers, and no more of them at once than queries may run. When the returned
    /// future is dropped (the client went away), evaluation stops at its next look at the
    /// budget.
    pub async fn run<T: Send + 'static>(
        &self,
        query: Query,
        render: impl FnOnce(QueryValue) -> EvalResult<T> + Send + 'static,
    ) -> EvalResult<T> {
        let deadline = Instant::now() + self.config.timeout;
        let permit = tokio::time::timeout(self.config.timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| EvalError::Timeout("query queue"))?
            .map_err(|_| EvalError::Timeout("query queue"))?;
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_when_dropped = CancelOnDrop(cancelled.clone());
        let mut engine = self.clone();
        engine.config.timeout = deadline.saturating_duration_since(Instant::now());
        engine.cancelled = Some(cancelled);
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            render(engine.eval(&query)?)
        });
        handle
            .await
            .map_err(|e| EvalError::Internal(e.to_string()))?
    }

    /// Evaluates `query` on the calling thread.
    pub fn eval(&self, query: &Query) -> EvalResult<QueryValue> {
        match query.times {
            Times::Instant(t) => self.instant_blocking(&query.expr, t),
            Times::Range { start, end, step } => self.range_blocking(&query.expr, start, end, step),
        }
    }

    /// Evaluates an instant query on the calling thread.
    pub fn instant_blocking(&self, expr: &Expr, t: i64) -> EvalResult<QueryValue> {
        let budget = self.budget();
        let ev = self.evaluator(&budget, t, t, 0);
        match expr.value_type() {
            ValueType::Matrix => {
                let input = ev.range_input(expr)?;
                let series = input
                    .series
                    .into_iter()
                    .filter(|s| {
                        let end = input.at.unwrap_or(t) - input.offset;
                        s.samples
                            .iter()
                            .any(|p| p.t > end - input.range && p.t <= end)
                    })
                    .map(|s| {
                        let end = input.at.unwrap_or(t) - input.offset;
                        let points = s
                            .samples
                            .iter()
                            .filter(|p| p.t > end - input.range && p.t <= end)
                            .map(|p| Point { t: p.t, v: p.v })
                            .collect();
                        let labels = if s.drop_name {
                            without_name(&s.labels)
                        } else {
                            s.labels
                        };
                        (labels, points)
                    })
                    .collect();
                self.check_series(QueryValue::Matrix(series))
            }
            _ => match ev.eval(expr)? {
                Value::Scalar(v) => Ok(QueryValue::Scalar(Point { t, v: v[0] })),
                Value::String(s) => Ok(QueryValue::String(t, s)),
                Value::Vector(series) => self.check_series(QueryValue::Vector(
                    finish(series)?
                        .into_iter()
                        .filter_map(|(labels, mut points)| points.pop().map(|p| (labels, p)))
                        .collect(),
                )),
            },
        }
    }

    /// Evaluates a range query on the calling thread.
    pub fn range_blocking(
        &self,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> EvalResult<QueryValue> {
        let budget = self.budget();
        let ev = self.evaluator(&budget, start, end, step);
        let series = match ev.eval(expr)? {
            Value::Scalar(v) => vec![(
                Labels::default(),
                ev.steps
                    .iter()
                    .zip(v)
                    .map(|(t, v)| Point { t, v })
                    .collect(),
            )],
            Value::Vector(series) => {
                let mut out = finish(series)?;
                out.sort_by(|a, b| a.0.cmp(&b.0));
                out
            }
            Value::String(_) => {
                return Err(EvalError::BadData(
                    "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
        };
        self.check_series(QueryValue::Matrix(series))
    }

    /// Refuses a result with more series than `max_series`.
    fn check_series(&self, value: QueryValue) -> EvalResult<QueryValue> {
        let series = match &value {
            QueryValue::Vector(v) => v.len(),
            QueryValue::Matrix(m) => m.len(),
            QueryValue::Scalar(_) | QueryValue::String(..) => 0,
        };
        if series > self.config.max_series {
            return Err(EvalError::TooManySeries(self.config.max_series));
        }
        Ok(value)
    }

    fn budget(&self) -> Budget {
        Budget::new(
            Instant::now() + self.config.timeout,
            self.config.max_samples,
            self.cancelled.clone(),
        )
    }

    fn evaluator<'a>(
        &'a self,
        budget: &'a Budget,
        start: i64,
        end: i64,
        step: i64,
    ) -> Evaluator<'a> {
        Evaluator {
            querier: self.querier.as_ref(),
            steps: Steps {
                start,
                end,
                interval: step.max(1),
            },
            query_bounds: (start, end),
            query_step: step,
            lookback: self.config.lookback.as_millis() as i64,
            default_subquery_step: self.config.default_subquery_step.as_millis().max(1) as i64,
            budget,
        }
    }
}

impl Engine {
    /// The same engine (sharing its concurrency limit) with a shorter timeout, if `timeout` is.
    pub fn with_timeout(&self, timeout: Duration) -> Engine {
        let mut engine = self.clone();
        engine.config.timeout = engine.config.timeout.min(timeout);
        engine
    }
}
