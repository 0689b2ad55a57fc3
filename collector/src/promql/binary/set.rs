//! Set operators `and`, `or` and `unless`, decided per step by match signature.

use std::collections::HashMap;

use super::Op;
use super::matching::Matching;
use crate::promql::error::EvalResult;
use crate::promql::eval::Evaluator;
use crate::promql::value::StepSeries;

/// `and`, `or`, `unless`: per step, keeps series by whether the other side has their signature.
pub(super) fn set_operation(
    ev: &Evaluator<'_>,
    op: Op,
    matching: &Matching<'_>,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
) -> EvalResult<Vec<StepSeries>> {
    let mut sigs: HashMap<Vec<u8>, Vec<bool>> = HashMap::new();
    let side = if op == Op::Or { &lhs } else { &rhs };
    for s in side {
        let sig = matching.signature(&s.labels);
        if !sigs.contains_key(&sig) {
            ev.budget.take_bytes(sig.len())?;
            sigs.insert(sig.clone(), ev.per_step(false)?);
        }
        let present = sigs.get_mut(&sig).expect("inserted above");
        for p in &s.points {
            present[ev.steps.index(p.t)] = true;
        }
    }
    let filter = |series: Vec<StepSeries>, keep_present: bool| -> Vec<StepSeries> {
        series
            .into_iter()
            .filter_map(|mut s| {
                let sig = sigs.get(&matching.signature(&s.labels));
                s.points
                    .retain(|p| sig.is_some_and(|v| v[ev.steps.index(p.t)]) == keep_present);
                (!s.points.is_empty()).then_some(s)
            })
            .collect()
    };
    Ok(match op {
        Op::And => filter(lhs, true),
        Op::Unless => filter(lhs, false),
        _ => {
            let mut out = lhs;
            out.extend(filter(rhs, false));
            out
        }
    })
}
