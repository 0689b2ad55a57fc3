//! Label rewriting (`label_replace`, `label_join`) and ordering (`sort`, `sort_by_label`).

use std::cmp::Ordering;

use promql_parser::parser::Expr;

use crate::labels::{Labels, METRIC_NAME};
use crate::promql::budget::{SAMPLE_BYTES, series_samples};
use crate::promql::error::{EvalError, EvalResult, execution};
use crate::promql::eval::Evaluator;
use crate::promql::value::{StepSeries, Value};
use crate::vocab::is_label_name;

/// Evaluates `name` if it is a label or sorting function; `None` otherwise.
pub(crate) fn eval(ev: &Evaluator<'_>, name: &str, args: &[&Expr]) -> EvalResult<Option<Value>> {
    let out = match name {
        "label_replace" => {
            let names = strings(args, 1)?;
            let [_, dst, replacement, src, pattern] = &names[..] else {
                return Err(EvalError::BadData("label_replace needs 5 arguments".into()));
            };
            let regex = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
                execution(format!(
                    "invalid regular expression in label_replace(): {pattern}: {e}"
                ))
            })?;
            check_label_name("label_replace", "destination", dst)?;
            let references = replacement.matches('$').count();
            let mut out = Vec::new();
            for s in ev.eval_vector(args[0])? {
                let value = s.labels.get(src).unwrap_or("");
                let Some(caps) = regex.captures(value) else {
                    out.push(s);
                    continue;
                };
                // Each `$` reference copies at most the whole source value: charge the most
                // the expansion can write before writing it.
                let most = replacement.len() + references.saturating_mul(value.len());
                ev.budget.take_bytes(most)?;
                let mut expanded = String::new();
                caps.expand(replacement, &mut expanded);
                ev.budget.release(most.div_ceil(SAMPLE_BYTES));
                out.push(relabel(ev, s, dst, &expanded)?);
            }
            out
        }
        "label_join" => {
            let names = strings(args, 1)?;
            let [_, dst, sep, sources @ ..] = &names[..] else {
                return Err(EvalError::BadData(
                    "label_join needs at least 3 arguments".into(),
                ));
            };
            check_label_name("label_join", "destination", dst)?;
            for src in sources {
                check_label_name("label_join", "source", src)?;
            }
            let mut out = Vec::new();
            for s in ev.eval_vector(args[0])? {
                let parts: Vec<&str> = sources
                    .iter()
                    .map(|n| s.labels.get(n).unwrap_or(""))
                    .collect();
                let length = parts.iter().map(|p| p.len()).sum::<usize>()
                    + sep.len().saturating_mul(parts.len().saturating_sub(1));
                ev.budget.take_bytes(length)?;
                let joined = parts.join(sep);
                ev.budget.release(length.div_ceil(SAMPLE_BYTES));
                out.push(relabel(ev, s, dst, &joined)?);
            }
            out
        }
        "sort" | "sort_desc" => {
            let mut input = ev.eval_vector(args[0])?;
            let key = |s: &StepSeries| s.points.first().map_or(f64::NAN, |p| p.v);
            input.sort_by(|a, b| {
                let (a, b) = (key(a), key(b));
                let ordered = if name == "sort" {
                    a.partial_cmp(&b)
                } else {
                    b.partial_cmp(&a)
                };
                a.is_nan()
                    .cmp(&b.is_nan())
                    .then(ordered.unwrap_or(Ordering::Equal))
            });
            input
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let names = strings(args, 1)?;
            let mut input = ev.eval_vector(args[0])?;
            input.sort_by(|a, b| {
                let by_names = names[1..]
                    .iter()
                    .map(|n| {
                        natural_cmp(a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""))
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.labels.cmp(&b.labels));
                if name == "sort_by_label" {
                    by_names
                } else {
                    by_names.reverse()
                }
            });
            input
        }
        _ => return Ok(None),
    };
    Ok(Some(Value::Vector(out)))
}

/// The string literal arguments from index `from` on (the others are left empty).
fn strings(args: &[&Expr], from: usize) -> EvalResult<Vec<String>> {
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            if i < from {
                return Ok(String::new());
            }
            let mut a = *a;
            while let Expr::Paren(p) = a {
                a = &p.expr;
            }
            match a {
                Expr::StringLiteral(s) => Ok(s.val.clone()),
                other => Err(EvalError::BadData(format!(
                    "expected a string, got `{other}`"
                ))),
            }
        })
        .collect()
}

/// Checks a label name argument of `function`, in Prometheus's words (`role`: "source" or
/// "destination").
fn check_label_name(function: &str, role: &str, name: &str) -> EvalResult<()> {
    if is_label_name(name) {
        Ok(())
    } else {
        Err(execution(format!(
            "invalid {role} label name in {function}(): {name}"
        )))
    }
}

/// Sets (or, for an empty value, removes) label `name` on a series, charging the new labels
/// in place of the old ones.
fn relabel(
    ev: &Evaluator<'_>,
    mut s: StepSeries,
    name: &str,
    value: &str,
) -> EvalResult<StepSeries> {
    let pairs = s
        .labels
        .iter()
        .filter(|l| l.name != name)
        .map(|l| (l.name, l.value))
        .chain([(name, value)]);
    let labels = Labels::from_pairs(pairs);
    ev.budget.take(series_samples(&labels))?;
    ev.budget.release(series_samples(&s.labels));
    s.labels = labels;
    if name == METRIC_NAME {
        s.drop_name = false;
    }
    Ok(s)
}

/// Compares strings with runs of digits compared by number ("a2" < "a10").
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let o = na.len().cmp(&nb.len()).then(na.cmp(nb));
                if o.is_ne() {
                    return o;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}
