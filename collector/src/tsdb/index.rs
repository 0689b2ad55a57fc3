//! The postings index: for every label pair, the sorted ids of the series carrying it, so that
//! `=`, `!=`, `=~` and `!~` matchers resolve without looking at every series.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use crate::labels::{Labels, MatchOp, Matcher};

/// Label name -> label value -> ascending series ids (hash maps: values are looked up or
/// scanned, never walked in order, and a label like `id` may have a million of them).
#[derive(Debug, Default)]
pub struct Postings {
    by_name: FxHashMap<Box<str>, FxHashMap<Box<str>, Vec<u64>>>,
}

impl Postings {
    /// Records a series; ids must be added in ascending order for the lists to stay sorted
    /// (new series get increasing ids; loading sorts first).
    pub fn add(&mut self, id: u64, labels: &Labels) {
        for label in labels.iter() {
            // Look up before inserting: most names and values exist already, and building the
            // boxed keys for `entry` would allocate for every label of every series.
            let values = match self.by_name.get_mut(label.name.as_str()) {
                Some(values) => values,
                None => self.by_name.entry(label.name.as_str().into()).or_default(),
            };
            let list = match values.get_mut(label.value.as_str()) {
                Some(list) => list,
                None => values.entry(label.value.as_str().into()).or_default(),
            };
            match list.last() {
                Some(&last) if last > id => {
                    let at = list.partition_point(|&x| x < id);
                    list.insert(at, id);
                }
                _ => list.push(id),
            }
        }
    }

    /// Forgets a series.
    pub fn remove(&mut self, id: u64, labels: &Labels) {
        for label in labels.iter() {
            let Some(values) = self.by_name.get_mut(label.name.as_str()) else {
                continue;
            };
            if let Some(list) = values.get_mut(label.value.as_str()) {
                if let Ok(at) = list.binary_search(&id) {
                    list.remove(at);
                }
                if list.is_empty() {
                    values.remove(label.value.as_str());
                }
            }
            if values.is_empty() {
                self.by_name.remove(label.name.as_str());
            }
        }
    }

    /// Ids of series that may satisfy every matcher: exact for matchers that need a label to be
    /// present; `None` when no matcher narrows the set (the caller then scans all series).
    /// Callers still check each candidate against all matchers.
    pub fn candidates(&self, matchers: &[Matcher]) -> Option<Vec<u64>> {
        let mut lists: Vec<Cow<'_, [u64]>> = matchers
            .iter()
            .filter(|m| !m.matches_empty())
            .map(|m| self.matching_present(m))
            .collect();
        lists.sort_by_key(|l| l.len());
        let mut lists = lists.into_iter();
        let mut result = lists.next()?.into_owned();
        for list in lists {
            if result.is_empty() {
                break;
            }
            result = intersect(&result, &list);
        }
        Some(result)
    }

    /// Ids of series that carry label `m.name` with a value `m` accepts.
    /// Borrowed where one postings list answers, so large lists are not copied.
    fn matching_present(&self, m: &Matcher) -> Cow<'_, [u64]> {
        let Some(values) = self.by_name.get(m.name.as_str()) else {
            return Cow::Borrowed(&[]);
        };
        if m.op == MatchOp::Equal {
            return Cow::Borrowed(values.get(m.value.as_str()).map_or(&[], Vec::as_slice));
        }
        let mut lists: Vec<&Vec<u64>> = values
            .iter()
            .filter(|(value, _)| m.matches(value))
            .map(|(_, list)| list)
            .collect();
        match lists.len() {
            0 => Cow::Borrowed(&[]),
            1 => Cow::Borrowed(lists.pop().map_or(&[], Vec::as_slice)),
            _ => {
                let mut all: Vec<u64> = lists.into_iter().flatten().copied().collect();
                all.sort_unstable();
                all.dedup();
                Cow::Owned(all)
            }
        }
    }
}

/// Ids present in both sorted lists; probes the longer list by binary search.
fn intersect(short: &[u64], long: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(short.len().min(long.len()));
    let mut rest = long;
    for &id in short {
        let at = rest.partition_point(|&x| x < id);
        rest = &rest[at..];
        if rest.first() == Some(&id) {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Postings {
        let mut p = Postings::default();
        for id in 0..100u64 {
            let labels = Labels::from_pairs([
                ("__name__", format!("m{}", id % 10)),
                ("instance", format!("host{}", id % 7)),
                (
                    "odd",
                    if id % 2 == 1 {
                        "yes".into()
                    } else {
                        String::new()
                    },
                ),
            ]);
            p.add(id, &labels);
        }
        p
    }

    fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
        Matcher::new(op, name, value).unwrap()
    }

    #[test]
    fn equal_and_regex_matchers_intersect() {
        let p = index();
        let got = p
            .candidates(&[
                m(MatchOp::Equal, "__name__", "m3"),
                m(MatchOp::Regex, "instance", "host[01]"),
            ])
            .unwrap();
        let want: Vec<u64> = (0..100).filter(|i| i % 10 == 3 && i % 7 < 2).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn matchers_accepting_empty_do_not_narrow() {
        let p = index();
        assert_eq!(p.candidates(&[m(MatchOp::NotEqual, "odd", "yes")]), None);
        let odd = p.candidates(&[m(MatchOp::NotRegex, "odd", "")]).unwrap();
        assert_eq!(odd, (0..100).filter(|i| i % 2 == 1).collect::<Vec<_>>());
    }

    #[test]
    fn removed_series_leave_no_postings() {
        let mut p = index();
        for id in 0..100u64 {
            let labels = Labels::from_pairs([
                ("__name__", format!("m{}", id % 10)),
                ("instance", format!("host{}", id % 7)),
            ]);
            p.remove(id, &labels);
        }
        assert_eq!(p.by_name.keys().map(|k| &**k).collect::<Vec<_>>(), ["odd"]);
    }
}
