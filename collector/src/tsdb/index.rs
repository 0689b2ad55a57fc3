//! The postings index: for every label pair, the sorted ids of the series carrying it, so that
//! matchers resolve (in `lookup`) without looking at every series.

use rustc_hash::FxHashMap;

use crate::labels::Labels;

/// Label name -> label value -> ascending series ids (hash maps: values are looked up or
/// scanned, never walked in order, and a label like `id` may have a million of them).
#[derive(Debug, Default)]
pub struct Postings {
    by_name: FxHashMap<Box<str>, FxHashMap<Box<str>, Ids>>,
}

/// The ascending ids carrying one label pair. Most values of a label like `id` belong to a
/// single series, which is kept inline rather than in a list of its own.
#[derive(Debug)]
enum Ids {
    One(u64),
    Many(Vec<u64>),
}

impl Ids {
    fn as_slice(&self) -> &[u64] {
        match self {
            Ids::One(id) => std::slice::from_ref(id),
            Ids::Many(ids) => ids,
        }
    }

    /// Adds `id`, cheapest when it is the largest so far.
    fn insert(&mut self, id: u64) {
        match self {
            Ids::One(only) if *only == id => {}
            Ids::One(only) => *self = Ids::Many(vec![(*only).min(id), (*only).max(id)]),
            Ids::Many(list) => match list.last() {
                Some(&last) if last > id => {
                    if let Err(at) = list.binary_search(&id) {
                        list.insert(at, id);
                    }
                }
                _ => list.push(id),
            },
        }
    }

    /// Removes `id`; returns whether no id is left.
    fn remove(&mut self, id: u64) -> bool {
        match self {
            Ids::One(only) => *only == id,
            Ids::Many(list) => {
                if let Ok(at) = list.binary_search(&id) {
                    list.remove(at);
                }
                list.is_empty()
            }
        }
    }
}

impl Postings {
    /// Records a series; ids must be added in ascending order for the lists to stay sorted
    /// (new series get increasing ids; loading sorts first).
    pub fn add(&mut self, id: u64, labels: &Labels) {
        for label in labels.iter() {
            // Look up before inserting: most names and values exist already, and building the
            // boxed keys for `entry` would allocate for every label of every series.
            let values = match self.by_name.get_mut(label.name) {
                Some(values) => values,
                None => self.by_name.entry(label.name.into()).or_default(),
            };
            match values.get_mut(label.value) {
                Some(ids) => ids.insert(id),
                None => {
                    values.insert(label.value.into(), Ids::One(id));
                }
            }
        }
    }

    /// Forgets a series.
    pub fn remove(&mut self, id: u64, labels: &Labels) {
        for label in labels.iter() {
            let Some(values) = self.by_name.get_mut(label.name) else {
                continue;
            };
            if let Some(ids) = values.get_mut(label.value)
                && ids.remove(id)
            {
                values.remove(label.value);
            }
            if values.is_empty() {
                self.by_name.remove(label.name);
            }
        }
    }

    /// Ascending ids of the series carrying `name="value"`.
    pub fn list(&self, name: &str, value: &str) -> &[u64] {
        self.by_name
            .get(name)
            .and_then(|values| values.get(value))
            .map_or(&[], Ids::as_slice)
    }

    /// Every value of label `name` with the ascending ids of the series carrying it.
    pub fn values(&self, name: &str) -> impl Iterator<Item = (&str, &[u64])> {
        self.by_name
            .get(name)
            .into_iter()
            .flat_map(|values| values.iter().map(|(v, ids)| (&**v, ids.as_slice())))
    }

    /// How many distinct values label `name` has.
    pub fn value_count(&self, name: &str) -> usize {
        self.by_name.get(name).map_or(0, FxHashMap::len)
    }

    /// Every label name with the postings lists of its values.
    pub fn names(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = &[u64]>)> {
        self.by_name
            .iter()
            .map(|(name, values)| (&**name, values.values().map(Ids::as_slice)))
    }
}

/// Labels of test series `id`: `m{id % 10}` on `host{id % 7}`, odd ids with `odd="yes"`.
#[cfg(test)]
pub(super) fn test_labels(id: u64) -> Labels {
    let odd = if id % 2 == 1 { "yes" } else { "" };
    Labels::from_pairs([
        ("__name__", format!("m{}", id % 10)),
        ("instance", format!("host{}", id % 7)),
        ("odd", odd.to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Postings {
        let mut p = Postings::default();
        for id in 0..100u64 {
            p.add(id, &test_labels(id));
        }
        p
    }

    #[test]
    fn lists_hold_ascending_ids_per_label_pair() {
        let p = index();
        let want: Vec<u64> = (0..100).filter(|i| i % 10 == 3).collect();
        assert_eq!(p.list("__name__", "m3"), want);
        assert_eq!(p.list("__name__", "m10"), [] as [u64; 0]);
        assert_eq!(p.value_count("instance"), 7);
        assert_eq!(p.values("odd").count(), 1);
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
