//! Numeric building blocks shared by aggregations and `*_over_time`: compensated sums, means,
//! variances and quantiles computed as Prometheus does.

/// Adds `inc` to a Kahan-Neumaier compensated sum `(sum, c)`.
pub(crate) fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A running fold of values into one number.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Accumulator {
    /// Compensated sum.
    Sum { sum: f64, c: f64 },
    /// Mean: a compensated sum, switching to an incremental mean if the sum overflows.
    Avg {
        sum: f64,
        c: f64,
        mean: f64,
        count: f64,
        incremental: bool,
    },
    /// Number of values.
    Count(f64),
    /// Always 1.
    Group,
    /// Smallest value; NaN only when all are NaN.
    Min(f64),
    /// Largest value; NaN only when all are NaN.
    Max(f64),
    /// Population variance (or its square root) by Welford's method, compensated.
    Variance {
        count: f64,
        mean: f64,
        mean_c: f64,
        aux: f64,
        aux_c: f64,
        sqrt: bool,
    },
}

impl Accumulator {
    /// The fold an aggregation operator uses, if it is one of the plain folds.
    pub fn for_aggregation(name: &str) -> Option<Accumulator> {
        Some(match name {
            "sum" => Accumulator::Sum { sum: 0.0, c: 0.0 },
            "avg" => Accumulator::Avg {
                sum: 0.0,
                c: 0.0,
                mean: 0.0,
                count: 0.0,
                incremental: false,
            },
            "count" => Accumulator::Count(0.0),
            "group" => Accumulator::Group,
            "min" => Accumulator::Min(f64::NAN),
            "max" => Accumulator::Max(f64::NAN),
            "stddev" | "stdvar" => Accumulator::Variance {
                count: 0.0,
                mean: 0.0,
                mean_c: 0.0,
                aux: 0.0,
                aux_c: 0.0,
                sqrt: name == "stddev",
            },
            _ => return None,
        })
    }

    /// A fresh fold of this kind holding the first value.
    pub fn start(&self, v: f64) -> Accumulator {
        let mut acc = match *self {
            Accumulator::Sum { .. } => Accumulator::Sum { sum: v, c: 0.0 },
            Accumulator::Avg { .. } => {
                return Accumulator::Avg {
                    sum: v,
                    c: 0.0,
                    mean: v,
                    count: 1.0,
                    incremental: false,
                };
            }
            Accumulator::Count(_) => Accumulator::Count(1.0),
            Accumulator::Group => Accumulator::Group,
            Accumulator::Min(_) => Accumulator::Min(v),
            Accumulator::Max(_) => Accumulator::Max(v),
            Accumulator::Variance { sqrt, .. } => Accumulator::Variance {
                count: 0.0,
                mean: 0.0,
                mean_c: 0.0,
                aux: 0.0,
                aux_c: 0.0,
                sqrt,
            },
        };
        if let Accumulator::Variance { .. } = acc {
            acc.add(v);
        }
        acc
    }

    /// Adds one more value.
    pub fn add(&mut self, v: f64) {
        match self {
            Accumulator::Sum { sum, c } => (*sum, *c) = kahan_add(v, *sum, *c),
            Accumulator::Avg {
                sum,
                c,
                mean,
                count,
                incremental,
            } => {
                *count += 1.0;
                if !*incremental {
                    let (s, nc) = kahan_add(v, *sum, *c);
                    if !s.is_infinite() {
                        (*sum, *c) = (s, nc);
                        return;
                    }
                    *incremental = true;
                    *mean = *sum / (*count - 1.0);
                    *c /= *count - 1.0;
                }
                if mean.is_infinite() {
                    if v.is_infinite() && (*mean > 0.0) == (v > 0.0) {
                        return;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        return;
                    }
                }
                let current = *mean + *c;
                (*mean, *c) = kahan_add(v / *count - current / *count, *mean, *c);
            }
            Accumulator::Count(n) => *n += 1.0,
            Accumulator::Group => {}
            Accumulator::Min(m) => {
                if *m > v || m.is_nan() {
                    *m = v;
                }
            }
            Accumulator::Max(m) => {
                if *m < v || m.is_nan() {
                    *m = v;
                }
            }
            Accumulator::Variance {
                count,
                mean,
                mean_c,
                aux,
                aux_c,
                ..
            } => {
                *count += 1.0;
                let delta = v - (*mean + *mean_c);
                (*mean, *mean_c) = kahan_add(delta / *count, *mean, *mean_c);
                (*aux, *aux_c) = kahan_add(delta * (v - (*mean + *mean_c)), *aux, *aux_c);
            }
        }
    }

    /// The folded value.
    pub fn result(&self) -> f64 {
        match *self {
            Accumulator::Sum { sum, c } => sum + c,
            Accumulator::Avg {
                sum,
                c,
                mean,
                count,
                incremental,
            } => {
                if incremental {
                    mean + c
                } else {
                    (sum + c) / count
                }
            }
            Accumulator::Count(n) => n,
            Accumulator::Group => 1.0,
            Accumulator::Min(m) | Accumulator::Max(m) => m,
            Accumulator::Variance {
                count,
                aux,
                aux_c,
                sqrt,
                ..
            } => {
                let variance = (aux + aux_c) / count;
                if sqrt { variance.sqrt() } else { variance }
            }
        }
    }
}

/// The q-quantile of `values` by linear interpolation between closest ranks (sorts `values`).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| {
        b.is_nan()
            .cmp(&a.is_nan())
            .then(a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensated_sum_keeps_small_terms() {
        let mut acc = Accumulator::for_aggregation("sum").unwrap().start(1e100);
        for v in [1.0, -1e100] {
            acc.add(v);
        }
        assert_eq!(acc.result(), 1.0);
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(quantile(0.5, &mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile(0.0, &mut [4.0, 1.0]), 1.0);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
    }
}
