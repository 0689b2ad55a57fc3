//! Label rewriting (`label_replace`, `label_join`) and ordering (`sort`, `sort_by_label`).

use std::cmp::Ordering;

use promql_parser::parser::Expr;

use crate::labels::{Labels, METRIC_NAME};
use crate::promql::error::{EvalError, EvalResult};
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
                EvalError::BadData(format!(
                    "invalid regular expression in label_replace(): {pattern}: {e}"
                ))
            })?;
            check_label_name(dst)?;
            let input = ev.eval_vector(args[0])?;
            input
                .into_iter()
                .map(|s| {
                    let value = s.labels.get(src).unwrap_or("");
                    match regex.captures(value) {
                        Some(caps) => {
                            let mut expanded = String::new();
                            caps.expand(replacement, &mut expanded);
                            relabel(s, dst, &expanded)
                        }
                        None => s,
                    }
                })
                .collect()
        }
        "label_join" => {
            let names = strings(args, 1)?;
            let [_, dst, sep, ..] = &names[..] else {
                return Err(EvalError::BadData(
                    "label_join needs at least 3 arguments".into(),
                ));
            };
            check_label_name(dst)?;
            for src in &names[3..] {
                check_label_name(src)?;
            }
            let input = ev.eval_vector(args[0])?;
            input
                .into_iter()
                .map(|s| {
                    let joined: Vec<&str> = names[3..]
                        .iter()
                        .map(|n| s.labels.get(n).unwrap_or(""))
                        .collect();
                    let joined = joined.join(sep);
                    relabel(s, dst, &joined)
                })
                .collect()
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

fn check_label_name(name: &str) -> EvalResult<()> {
    if is_label_name(name) {
        Ok(())
    } else {
        Err(EvalError::BadData(format!(
            "invalid destination label name in label_replace(): {name}"
        )))
    }
}

/// Sets (or, for an empty value, removes) label `name` on a series.
fn relabel(mut s: StepSeries, name: &str, value: &str) -> StepSeries {
    let pairs = s
        .labels
        .iter()
        .filter(|l| l.name != name)
        .map(|l| (l.name, l.value))
        .chain([(name, value)]);
    s.labels = Labels::from_pairs(pairs);
    if name == METRIC_NAME {
        s.drop_name = false;
    }
    s
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
