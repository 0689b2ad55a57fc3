//! Series id by label set, keyed by a 64-bit hash of the labels rather than the labels
//! themselves: growing the table then moves plain numbers instead of hashing every label set
//! again, and creating a series hashes its labels once. A candidate found by hash is confirmed
//! against the series' own labels; the rare label set whose hash another one already holds is
//! kept, by its labels, in a second map.

use std::hash::BuildHasher;
use std::sync::Arc;

use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::labels::Labels;

/// A label set's hash, computed once per lookup and reused by the insert that may follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelsHash(u64);

impl LabelsHash {
    /// The hash of `labels`.
    pub fn of(labels: &Labels) -> Self {
        LabelsHash(FxBuildHasher.hash_one(labels))
    }
}

/// Series id by label set; the labels of an id are looked up through the `labels_of` argument
/// (the head's series), so they are not held twice.
#[derive(Debug, Default)]
pub struct LabelIds {
    by_hash: FxHashMap<u64, u64>,
    /// Label sets whose hash `by_hash` already holds for another label set (almost always
    /// none).
    colliding: Vec<(LabelsHash, Arc<Labels>, u64)>,
}

impl LabelIds {
    /// Makes room for `additional` more series.
    pub fn reserve(&mut self, additional: usize) {
        self.by_hash.reserve(additional);
    }

    /// The id of the series labelled `labels` (whose hash is `hash`).
    pub fn get<'s>(
        &self,
        hash: LabelsHash,
        labels: &Labels,
        labels_of: impl Fn(u64) -> Option<&'s Labels>,
    ) -> Option<u64> {
        let &id = self.by_hash.get(&hash.0)?;
        if labels_of(id) == Some(labels) {
            return Some(id);
        }
        self.colliding_at(hash, labels)
            .map(|at| self.colliding[at].2)
    }

    /// Records series `id` labelled `labels` (whose hash is `hash`), replacing any id recorded
    /// for the same labels.
    pub fn insert<'s>(
        &mut self,
        hash: LabelsHash,
        labels: &Arc<Labels>,
        id: u64,
        labels_of: impl Fn(u64) -> Option<&'s Labels>,
    ) {
        match self.by_hash.get_mut(&hash.0) {
            None => {
                self.by_hash.insert(hash.0, id);
            }
            Some(held) if labels_of(*held) == Some(&**labels) => *held = id,
            Some(_) => match self.colliding_at(hash, labels) {
                Some(at) => self.colliding[at].2 = id,
                None => self.colliding.push((hash, labels.clone(), id)),
            },
        }
    }

    /// Forgets series `id` labelled `labels` (whose hash is `hash`); a colliding label set
    /// with the same hash takes its place.
    pub fn remove(&mut self, hash: LabelsHash, labels: &Labels, id: u64) {
        if self.by_hash.get(&hash.0) == Some(&id) {
            self.by_hash.remove(&hash.0);
            if let Some(at) = self.colliding.iter().position(|(h, _, _)| *h == hash) {
                let (_, _, heir) = self.colliding.swap_remove(at);
                self.by_hash.insert(hash.0, heir);
            }
        } else if let Some(at) = self.colliding_at(hash, labels) {
            self.colliding.swap_remove(at);
        }
    }

    fn colliding_at(&self, hash: LabelsHash, labels: &Labels) -> Option<usize> {
        self.colliding
            .iter()
            .position(|(h, l, _)| *h == hash && **l == *labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_sharing_a_hash_are_told_apart_and_survive_removals() {
        let labels: Vec<Arc<Labels>> = ["a", "b", "c"]
            .iter()
            .map(|v| Arc::new(Labels::from_pairs([("x", *v)])))
            .collect();
        let labels_of = |id: u64| labels.get(id as usize).map(|l| &**l);
        // Every label set under one hash, as if they all collided.
        let shared = LabelsHash::of(&labels[0]);
        let mut ids = LabelIds::default();
        for (id, l) in labels.iter().enumerate() {
            ids.insert(shared, l, id as u64, labels_of);
        }
        for (id, l) in labels.iter().enumerate() {
            assert_eq!(ids.get(shared, l, labels_of), Some(id as u64));
        }
        let absent = Labels::from_pairs([("x", "d")]);
        assert_eq!(ids.get(shared, &absent, labels_of), None);
        assert_eq!(ids.get(LabelsHash::of(&absent), &absent, labels_of), None);
        // Removing the set held by hash hands its place to a colliding one.
        ids.remove(shared, &labels[0], 0);
        assert_eq!(ids.get(shared, &labels[0], labels_of), None);
        assert_eq!(ids.get(shared, &labels[1], labels_of), Some(1));
        assert_eq!(ids.get(shared, &labels[2], labels_of), Some(2));
        ids.remove(shared, &labels[2], 2);
        ids.remove(shared, &labels[1], 1);
        assert!(ids.by_hash.is_empty() && ids.colliding.is_empty());
    }
}
