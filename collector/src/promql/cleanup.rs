//! The last stage of evaluation: delayed metric-name removal and the duplicate check.

use std::collections::HashMap;

use super::error::{EvalResult, execution};
use super::value::{Point, StepSeries};
use crate::labels::{Labels, METRIC_NAME};

/// Removes names marked for removal and merges series that end up with the same labels,
/// failing when two of them have a point at the same step.
pub(crate) fn finish(series: Vec<StepSeries>) -> EvalResult<Vec<(Labels, Vec<Point>)>> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<(Labels, Vec<Point>)> = Vec::with_capacity(series.len());
    for s in series {
        let labels = if s.drop_name {
            without_name(&s.labels)
        } else {
            s.labels
        };
        match index.get(&labels) {
            Some(&i) => {
                let merged = &mut out[i].1;
                merged.extend(s.points);
                merged.sort_by_key(|p| p.t);
                if merged.windows(2).any(|w| w[0].t == w[1].t) {
                    return Err(execution(
                        "vector cannot contain metrics with the same labelset",
                    ));
                }
            }
            None => {
                index.insert(labels.clone(), out.len());
                out.push((labels, s.points));
            }
        }
    }
    Ok(out)
}

/// The labels without `__name__`.
pub(crate) fn without_name(labels: &Labels) -> Labels {
    Labels::from_pairs(
        labels
            .iter()
            .filter(|l| l.name != METRIC_NAME)
            .map(|l| (l.name, l.value)),
    )
}
