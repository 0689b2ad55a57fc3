//! Evaluation of a parsed expression over all steps of a query at once.

mod selector;
mod subquery;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr, Offset};

use super::budget::Budget;
use super::error::{EvalError, EvalResult};
use super::value::{Point, StepSeries, Value};
use crate::labels::Labels;
use crate::tsdb::{Querier, Sample};

pub(crate) use selector::{RangeSeries, absent_labels, as_selector, matcher_sets};

/// Range vector windows for one function argument: series and how to place each step's window.
pub(crate) struct RangeInput {
    /// The series with every sample any window may need, staleness markers removed.
    pub series: Vec<RangeSeries>,
    /// Window length in milliseconds.
    pub range: i64,
    /// Offset in milliseconds.
    pub offset: i64,
    /// Fixed evaluation time from `@`, if any.
    pub at: Option<i64>,
}

impl RangeInput {
    /// The window end for the step at `t`; the window is `(end - range, end]`.
    pub fn window_end(&self, t: i64) -> i64 {
        self.at.unwrap_or(t) - self.offset
    }

    /// Calls `f(step_index, step_time, window)` for every step, sliding over the samples once.
    pub fn for_each_window(
        &self,
        samples: &[Sample],
        steps: &Steps,
        mut f: impl FnMut(usize, i64, &[Sample]),
    ) {
        let (mut lo, mut hi) = (0, 0);
        for (i, t) in steps.iter().enumerate() {
            let end = self.window_end(t);
            let start = end - self.range;
            while hi < samples.len() && samples[hi].t <= end {
                hi += 1;
            }
            while lo < hi && samples[lo].t <= start {
                lo += 1;
            }
            f(i, t, &samples[lo..hi.max(lo)]);
        }
    }
}

/// The evaluation steps: `start, start + interval, ..., end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps {
    /// First step, milliseconds.
    pub start: i64,
    /// Last step, milliseconds.
    pub end: i64,
    /// Distance between steps, milliseconds (positive).
    pub interval: i64,
}

impl Steps {
    /// Number of steps.
    pub fn len(&self) -> usize {
        ((self.end - self.start) / self.interval + 1) as usize
    }

    /// The step times.
    pub fn iter(&self) -> impl Iterator<Item = i64> + use<> {
        let (start, interval) = (self.start, self.interval);
        (0..self.len() as i64).map(move |i| start + i * interval)
    }

    /// The time of step `i`.
    pub fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.interval
    }

    /// The index of the step at time `t` (which must be a step time).
    pub fn index(&self, t: i64) -> usize {
        ((t - self.start) / self.interval) as usize
    }
}

/// Evaluates expressions over a fixed set of steps.
pub(crate) struct Evaluator<'a> {
    /// Where series come from.
    pub querier: &'a dyn Querier,
    /// The steps of this (sub)query.
    pub steps: Steps,
    /// The outermost query's start and end, for `@ start()` and `@ end()`.
    pub query_bounds: (i64, i64),
    /// The outermost query's step in milliseconds (0 for instant queries), for `step()`.
    pub query_step: i64,
    /// How far back an instant selector looks for a sample, milliseconds.
    pub lookback: i64,
    /// Default subquery step, milliseconds.
    pub default_subquery_step: i64,
    /// Limits for this query.
    pub budget: &'a Budget,
}

impl Evaluator<'_> {
    /// Evaluates `expr` at every step. What the node charged to the budget while it worked
    /// is released when it returns, but for its result, which the caller then holds.
    pub fn eval(&self, expr: &Expr) -> EvalResult<Value> {
        self.budget.check_deadline()?;
        let before = self.budget.held();
        let value = self.eval_node(expr)?;
        self.budget.settle(before, value.samples_held())?;
        Ok(value)
    }

    fn eval_node(&self, expr: &Expr) -> EvalResult<Value> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(self.per_step(n.val)?)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => Ok(negate(self.eval(&u.expr)?)),
            Expr::Binary(b) => super::binary::eval(self, b),
            Expr::Aggregate(a) => super::aggregate::eval(self, a),
            Expr::Call(c) => super::functions::eval(self, c),
            Expr::VectorSelector(vs) => self.instant_selector(vs, false),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => Err(EvalError::BadData(format!(
                "range vector `{expr}` is only allowed as a function argument or as a whole instant query"
            ))),
            Expr::Extension(_) => Err(EvalError::BadData("unsupported expression".into())),
        }
    }

    /// Evaluates a range vector expression (range selector or subquery) into windows.
    pub fn range_input(&self, expr: &Expr) -> EvalResult<RangeInput> {
        match expr {
            Expr::Paren(p) => self.range_input(&p.expr),
            Expr::MatrixSelector(ms) => self.range_selector(ms),
            Expr::Subquery(sq) => self.subquery(sq),
            _ => Err(EvalError::BadData(format!(
                "expected a range vector, got `{expr}`"
            ))),
        }
    }

    /// Evaluates an expression that must be a scalar (function or aggregation parameter).
    pub fn eval_scalar(&self, expr: &Expr) -> EvalResult<Vec<f64>> {
        match self.eval(expr)? {
            Value::Scalar(v) => Ok(v),
            _ => Err(EvalError::BadData(format!(
                "expected a scalar, got `{expr}`"
            ))),
        }
    }

    /// Evaluates an expression that must be an instant vector.
    pub fn eval_vector(&self, expr: &Expr) -> EvalResult<Vec<StepSeries>> {
        match self.eval(expr)? {
            Value::Vector(v) => Ok(v),
            _ => Err(EvalError::BadData(format!(
                "expected an instant vector, got `{expr}`"
            ))),
        }
    }

    /// The fixed time an `@` modifier names, in milliseconds.
    pub fn at_time(&self, at: &Option<AtModifier>) -> Option<i64> {
        at.as_ref().map(|at| match at {
            AtModifier::Start => self.query_bounds.0,
            AtModifier::End => self.query_bounds.1,
            AtModifier::At(time) => system_time_ms(*time),
        })
    }

    /// Builds an output series with one point per step where `value` returns something,
    /// charging its points as they are added and its labels once it has any.
    pub fn series_from_steps(
        &self,
        labels: Labels,
        drop_name: bool,
        mut value: impl FnMut(usize) -> Option<f64>,
    ) -> EvalResult<Option<StepSeries>> {
        let mut points: Vec<Point> = Vec::new();
        for (i, t) in self.steps.iter().enumerate() {
            if i % STEPS_PER_CLOCK_LOOK == STEPS_PER_CLOCK_LOOK - 1 {
                self.budget.check_deadline()?;
            }
            if let Some(v) = value(i) {
                if points.len() == points.capacity() {
                    let more = points.capacity().max(4);
                    self.budget.take(more)?;
                    points.reserve_exact(more);
                }
                points.push(Point { t, v });
            }
        }
        if points.is_empty() {
            return Ok(None);
        }
        // Doubling may leave up to half the buffer unused; a series kept for the rest of the
        // query should not hold it.
        if points.capacity() - points.len() > points.len() / 4 {
            let unused = points.capacity() - points.len();
            points.shrink_to_fit();
            self.budget.release(unused);
        }
        self.budget.take(super::budget::series_samples(&labels))?;
        Ok(Some(StepSeries {
            labels,
            points,
            drop_name,
        }))
    }

    /// One value per step, charged before it is allocated (a subquery may have many steps).
    pub fn per_step<T: Clone>(&self, fill: T) -> EvalResult<Vec<T>> {
        self.table(1, fill)
    }

    /// A working table of `rows` rows of one value per step (rows major), charged before it
    /// is allocated.
    pub fn table<T: Clone>(&self, rows: usize, fill: T) -> EvalResult<Vec<T>> {
        let cells = rows.saturating_mul(self.steps.len());
        self.budget
            .take_bytes(cells.saturating_mul(size_of::<T>().max(1)))?;
        Ok(vec![fill; cells])
    }
}

/// How many steps a loop over the steps of one series runs between looks at the clock: a
/// subquery can have millions of steps.
const STEPS_PER_CLOCK_LOOK: usize = 1 << 16;

/// Milliseconds of an offset (negative offsets look into the future).
pub(crate) fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(*d),
        Some(Offset::Neg(d)) => -duration_ms(*d),
    }
}

/// A duration in whole milliseconds.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// A point in time as milliseconds since the epoch (negative before 1970).
pub(crate) fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Unary minus: negates every value, dropping the metric name.
fn negate(value: Value) -> Value {
    match value {
        Value::Scalar(v) => Value::Scalar(v.into_iter().map(|x| -x).collect()),
        Value::Vector(series) => Value::Vector(
            series
                .into_iter()
                .map(|mut s| {
                    s.points.iter_mut().for_each(|p| p.v = -p.v);
                    s.drop_name = true;
                    s
                })
                .collect(),
        ),
        other => other,
    }
}
