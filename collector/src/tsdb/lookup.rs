//! Lookup: which live series a set of label matchers selects, and the label names and values of
//! a selection, answered from the head's postings index and label sets without reading samples.
//!
//! Matchers that need their label present narrow through postings lists, equality matchers
//! (one list each) first and shortest first, intersected as sorted id lists. A regular
//! expression or `!=` costs a scan of every value of its label, so once the candidates are
//! fewer than those values it is checked on each candidate's labels instead, as are matchers
//! that accept an absent label.

use std::borrow::Cow;

use rustc_hash::FxHashSet;

use super::head::{Head, MemSeries};
use super::index::Postings;
use crate::labels::{MatchOp, Matcher};

/// The live series matching every matcher whose stored time span overlaps `[start, end]`, in
/// no particular order.
pub fn select<'h>(
    head: &'h Head,
    matchers: &[Matcher],
    start: i64,
    end: i64,
) -> Vec<(u64, &'h MemSeries)> {
    let (ids, unchecked) = resolve(&head.postings, matchers);
    let keep = |series: &MemSeries| accepts(series, &unchecked, start, end);
    match ids {
        Some(ids) => ids
            .iter()
            .filter_map(|&id| Some((id, head.series.get(&id)?)))
            .filter(|(_, series)| keep(series))
            .collect(),
        None => head
            .series
            .iter()
            .filter(|(_, series)| keep(series))
            .map(|(&id, series)| (id, series))
            .collect(),
    }
}

/// Sorted names of the labels carried by the series `matchers` select (every series when
/// there are none) in the time range.
pub fn label_names(head: &Head, matchers: &[Matcher], start: i64, end: i64) -> Vec<String> {
    let (ids, unchecked) = resolve(&head.postings, matchers);
    let accepted = |id: &u64| {
        head.series
            .get(id)
            .is_some_and(|s| accepts(s, &unchecked, start, end))
    };
    let mut names: Vec<String> = match ids {
        // Few series: read their label sets.
        Some(ids) => {
            let mut seen: FxHashSet<&str> = FxHashSet::default();
            for series in ids.iter().filter_map(|id| head.series.get(id)) {
                if accepts(series, &unchecked, start, end) {
                    seen.extend(series.labels.iter().map(|l| l.name));
                }
            }
            seen.into_iter().map(str::to_owned).collect()
        }
        // Every series: a name is in when one series carrying it is accepted.
        None => head
            .postings
            .names()
            .filter_map(|(name, mut lists)| {
                lists
                    .any(|list| list.iter().any(accepted))
                    .then(|| name.to_owned())
            })
            .collect(),
    };
    names.sort_unstable();
    names
}

/// Sorted distinct values of label `name` over the series `matchers` select (every series
/// when there are none) in the time range.
pub fn label_values(
    head: &Head,
    name: &str,
    matchers: &[Matcher],
    start: i64,
    end: i64,
) -> Vec<String> {
    let (ids, unchecked) = resolve(&head.postings, matchers);
    let accepted = |id: u64| {
        head.series
            .get(&id)
            .is_some_and(|s| accepts(s, &unchecked, start, end))
    };
    let mut values: Vec<String> = match ids {
        // More values than candidates: read the candidates' label sets.
        Some(ids) if head.postings.value_count(name) * 16 >= ids.len() => {
            let mut seen: FxHashSet<&str> = FxHashSet::default();
            for series in ids.iter().filter_map(|id| head.series.get(id)) {
                if accepts(series, &unchecked, start, end) {
                    seen.extend(series.labels.get(name));
                }
            }
            seen.into_iter().map(str::to_owned).collect()
        }
        // A value is in when one candidate carrying it is accepted.
        Some(ids) => head
            .postings
            .values(name)
            .filter(|(_, list)| common(list, &ids).any(accepted))
            .map(|(value, _)| value.to_owned())
            .collect(),
        None => head
            .postings
            .values(name)
            .filter(|(_, list)| list.iter().any(|&id| accepted(id)))
            .map(|(value, _)| value.to_owned())
            .collect(),
    };
    values.sort_unstable();
    values
}

/// Whether a candidate's stored time span overlaps `[start, end]` and its labels satisfy the
/// matchers the postings did not resolve.
fn accepts(series: &MemSeries, unchecked: &[&Matcher], start: i64, end: i64) -> bool {
    series.last_t >= start
        && series.first_t <= end
        && unchecked.iter().all(|m| m.matches_labels(&series.labels))
}

/// Ascending ids of the candidates (`None`: every series) and the matchers still to check on
/// each candidate's labels; the candidates satisfy every other matcher exactly.
fn resolve<'p, 'm>(
    postings: &'p Postings,
    matchers: &'m [Matcher],
) -> (Option<Cow<'p, [u64]>>, Vec<&'m Matcher>) {
    let (narrowing, mut unchecked): (Vec<&Matcher>, Vec<&Matcher>) =
        matchers.iter().partition(|m| !m.matches_empty());
    let (equal, mut scanning): (Vec<&Matcher>, Vec<&Matcher>) =
        narrowing.into_iter().partition(|m| m.op == MatchOp::Equal);
    let mut lists: Vec<&[u64]> = equal
        .iter()
        .map(|m| postings.list(&m.name, &m.value))
        .collect();
    lists.sort_by_key(|ids| ids.len());
    let mut ids: Option<Cow<'p, [u64]>> = None;
    for list in lists {
        ids = Some(match ids {
            None => Cow::Borrowed(list),
            Some(so_far) => Cow::Owned(intersect(&so_far, list)),
        });
    }
    scanning.sort_by_key(|m| postings.value_count(&m.name));
    for m in scanning {
        match &ids {
            Some(so_far) if so_far.len() <= postings.value_count(&m.name) => unchecked.push(m),
            _ => {
                let list = union_of_matching(postings, m);
                ids = Some(match ids {
                    None => list,
                    Some(so_far) => Cow::Owned(intersect(&so_far, &list)),
                });
            }
        }
    }
    (ids, unchecked)
}

/// Ascending ids of the series carrying label `m.name` with a value `m` accepts; borrowed when
/// a single postings list answers.
fn union_of_matching<'p>(postings: &'p Postings, m: &Matcher) -> Cow<'p, [u64]> {
    let mut lists: Vec<&[u64]> = postings
        .values(&m.name)
        .filter(|(value, _)| m.matches(value))
        .map(|(_, ids)| ids)
        .collect();
    if lists.len() <= 1 {
        return Cow::Borrowed(lists.pop().unwrap_or(&[]));
    }
    let mut all: Vec<u64> = lists.concat();
    all.sort_unstable();
    all.dedup();
    Cow::Owned(all)
}

/// Ids present in both ascending lists, ascending: each id of the shorter list is looked for
/// in what remains of the longer one, by stepping when their lengths are close and by binary
/// search when the longer one is much longer.
fn common<'a>(a: &'a [u64], b: &'a [u64]) -> impl Iterator<Item = u64> + 'a {
    let (short, mut long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let search = long.len() / 16 > short.len();
    short.iter().copied().filter(move |&id| {
        if search {
            long = &long[long.partition_point(|&x| x < id)..];
        } else {
            while let Some((&x, rest)) = long.split_first()
                && x < id
            {
                long = rest;
            }
        }
        long.first() == Some(&id)
    })
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    common(a, b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::index::test_labels;

    /// 100 series labelled by `test_labels`; series `id` has samples from `id` to `id + 10`
    /// seconds.
    fn head() -> Head {
        let mut head = Head::default();
        for id in 0..100u64 {
            let t = id as i64 * 1000;
            head.insert(id, test_labels(id), "".into(), t);
            head.push(id, t, 1.0);
            head.push(id, t + 10_000, 2.0);
        }
        head
    }

    fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
        Matcher::new(op, name, value).unwrap()
    }

    fn selected(head: &Head, matchers: &[Matcher], start: i64, end: i64) -> Vec<u64> {
        let mut ids: Vec<u64> = select(head, matchers, start, end)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn equal_and_regex_matchers_intersect() {
        let head = head();
        let matchers = [
            m(MatchOp::Equal, "__name__", "m3"),
            m(MatchOp::Regex, "instance", "host[01]"),
        ];
        let want: Vec<u64> = (0..100).filter(|i| i % 10 == 3 && i % 7 < 2).collect();
        assert_eq!(selected(&head, &matchers, i64::MIN, i64::MAX), want);
        // Few candidates left by the equalities: the regex is checked on their labels.
        let matchers = [
            m(MatchOp::Equal, "odd", "yes"),
            m(MatchOp::Equal, "instance", "host1"),
            m(MatchOp::Regex, "__name__", "m[13]"),
        ];
        let want: Vec<u64> = (0..100)
            .filter(|i| i % 2 == 1 && i % 7 == 1 && [1, 3].contains(&(i % 10)))
            .collect();
        assert_eq!(selected(&head, &matchers, i64::MIN, i64::MAX), want);
    }

    #[test]
    fn scanning_matchers_narrow_without_an_equality() {
        let head = head();
        let matchers = [
            m(MatchOp::Regex, "instance", "host[01]"),
            m(MatchOp::NotEqual, "__name__", "m3"),
        ];
        let want: Vec<u64> = (0..100).filter(|i| i % 10 != 3 && i % 7 < 2).collect();
        assert_eq!(selected(&head, &matchers, i64::MIN, i64::MAX), want);
    }

    #[test]
    fn matchers_accepting_an_absent_label_filter_every_series() {
        let head = head();
        let even = selected(&head, &[m(MatchOp::NotEqual, "odd", "yes")], 0, i64::MAX);
        assert_eq!(even, (0..100).filter(|i| i % 2 == 0).collect::<Vec<_>>());
        let odd = selected(&head, &[m(MatchOp::NotRegex, "odd", "")], 0, i64::MAX);
        assert_eq!(odd, (0..100).filter(|i| i % 2 == 1).collect::<Vec<_>>());
    }

    #[test]
    fn time_range_keeps_series_whose_span_overlaps_it() {
        let head = head();
        let all = [m(MatchOp::Regex, "__name__", ".+")];
        assert_eq!(
            selected(&head, &all, 95_000, 96_000),
            [85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96]
        );
        assert_eq!(label_values(&head, "odd", &[], 100_000, 200_000), ["yes"]);
        assert_eq!(label_values(&head, "odd", &[], 0, 9_000), ["yes"]);
        assert_eq!(
            label_values(&head, "instance", &[], 110_000, 200_000),
            [] as [&str; 0]
        );
    }

    #[test]
    fn label_names_and_values_follow_matchers() {
        let head = head();
        assert_eq!(
            label_names(&head, &[], i64::MIN, i64::MAX),
            ["__name__", "instance", "odd"]
        );
        let even = [m(MatchOp::NotEqual, "odd", "yes")];
        assert_eq!(
            label_names(&head, &even, i64::MIN, i64::MAX),
            ["__name__", "instance"]
        );
        let host0 = [m(MatchOp::Equal, "instance", "host0")];
        assert_eq!(
            label_values(&head, "__name__", &host0, 0, 30_000),
            ["m0", "m1", "m4", "m7", "m8"]
        );
        // Many candidates, one value: the value's postings are checked against them.
        let most = [m(MatchOp::Regex, "__name__", "m[0-8]")];
        assert_eq!(label_values(&head, "odd", &most, 1_000, 1_000), ["yes"]);
        assert_eq!(label_values(&head, "odd", &most, 0, 0), [] as [&str; 0]);
    }

    #[test]
    fn intersection_by_merge_and_by_search_agree() {
        let long: Vec<u64> = (0..1000).map(|i| i * 3).collect();
        let close: Vec<u64> = (0..900).map(|i| i * 2).collect();
        let sparse: Vec<u64> = vec![3, 4, 300, 2997, 5000];
        let want = |a: &[u64], b: &[u64]| -> Vec<u64> {
            a.iter().copied().filter(|x| b.contains(x)).collect()
        };
        assert_eq!(intersect(&close, &long), want(&close, &long));
        assert_eq!(intersect(&long, &sparse), want(&sparse, &long));
    }
}
