//! Subqueries: the inner expression evaluated on its own step grid, then windowed like a range.

use promql_parser::parser::SubqueryExpr;

use super::{Evaluator, RangeInput, RangeSeries, Steps, duration_ms, offset_ms};
use crate::promql::error::EvalResult;
use crate::promql::value::Value;
use crate::tsdb::Sample;

impl Evaluator<'_> {
    /// Evaluates `expr[range:step] offset o @ t` into windows over the inner results.
    pub fn subquery(&self, sq: &SubqueryExpr) -> EvalResult<RangeInput> {
        let offset = offset_ms(&sq.offset);
        let at = self.at_time(&sq.at);
        let range = duration_ms(sq.range);
        let interval = sq
            .step
            .map(duration_ms)
            .filter(|&s| s > 0)
            .unwrap_or(self.default_subquery_step);
        let outer_start = at.unwrap_or(self.steps.start) - offset;
        let outer_end = at.unwrap_or(self.steps.end) - offset;
        // The first step-aligned time after the earliest window start.
        let mut start = interval * ((outer_start - range) / interval);
        if start <= outer_start - range {
            start += interval;
        }
        let mut series = Vec::new();
        if start <= outer_end {
            let inner = Evaluator {
                steps: Steps {
                    start,
                    end: outer_end,
                    interval,
                },
                ..*self
            };
            let points = match inner.eval(&sq.expr)? {
                Value::Vector(v) => v,
                Value::Scalar(values) => vec![crate::promql::value::StepSeries {
                    labels: Default::default(),
                    points: inner
                        .steps
                        .iter()
                        .zip(values)
                        .map(|(t, v)| crate::promql::value::Point { t, v })
                        .collect(),
                    drop_name: false,
                }],
                Value::String(_) => Vec::new(),
            };
            series = points
                .into_iter()
                .map(|s| RangeSeries {
                    labels: s.labels,
                    samples: s.points.iter().map(|p| Sample { t: p.t, v: p.v }).collect(),
                    drop_name: s.drop_name,
                })
                .collect();
        }
        Ok(RangeInput {
            series,
            range,
            offset,
            at,
        })
    }
}
