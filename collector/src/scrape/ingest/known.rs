//! The series a target exposed, by series text, kept in the order the target lists them: a
//! scrape listing the same series in the same order as the last one finds each at the position
//! after the previous one, reading the texts front to back instead of hashing each and missing
//! the processor's cache on a random bucket and key.

use std::hash::BuildHasher;
use std::ops::Range;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Series texts with a value each, in insertion order.
#[derive(Debug)]
pub struct KnownSeries<V> {
    /// Every entry's series text, back to back in entry order.
    texts: Vec<u8>,
    entries: Vec<Entry<V>>,
    /// Entry positions by the hash of their text.
    index: HashTable<usize>,
    /// Where the next [`KnownSeries::find`] looks first.
    cursor: usize,
}

#[derive(Debug)]
struct Entry<V> {
    text: Range<usize>,
    value: V,
}

impl<V> Default for KnownSeries<V> {
    fn default() -> Self {
        KnownSeries {
            texts: Vec::new(),
            entries: Vec::new(),
            index: HashTable::new(),
            cursor: 0,
        }
    }
}

fn hash(text: &[u8]) -> u64 {
    FxBuildHasher.hash_one(text)
}

impl<V> KnownSeries<V> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The position of the entry for `text`, trying the one after the last found first.
    pub fn find(&mut self, text: &[u8]) -> Option<usize> {
        let predicted = self.cursor;
        let found = match self.entries.get(predicted) {
            Some(entry) if &self.texts[entry.text.clone()] == text => Some(predicted),
            _ => {
                let (texts, entries) = (&self.texts, &self.entries);
                self.index
                    .find(hash(text), |&i| texts[entries[i].text.clone()] == *text)
                    .copied()
            }
        };
        if let Some(position) = found {
            self.cursor = position + 1;
        }
        found
    }

    /// The value of the entry at `position`.
    pub fn value_mut(&mut self, position: usize) -> &mut V {
        &mut self.entries[position].value
    }

    /// Adds an entry for `text`, which has none yet, after all others.
    pub fn push(&mut self, text: &[u8], value: V) {
        let start = self.texts.len();
        self.texts.extend_from_slice(text);
        let position = self.entries.len();
        self.entries.push(Entry {
            text: start..self.texts.len(),
            value,
        });
        let (texts, entries) = (&self.texts, &self.entries);
        self.index.insert_unique(hash(text), position, |&i| {
            hash(&texts[entries[i].text.clone()])
        });
    }

    /// Forgets the entries from position `len` on (added by a scrape that then failed).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.entries.len() {
            return;
        }
        self.index.retain(|&mut i| i < len);
        self.entries.truncate(len);
        self.texts
            .truncate(self.entries.last().map_or(0, |e| e.text.end));
    }

    /// Removes the entries `keep` refuses, handing each to `removed` with its text; the others
    /// keep their order. Returns how many were removed.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&V) -> bool,
        mut removed: impl FnMut(&[u8], V),
    ) -> usize {
        if self.entries.iter().all(|e| keep(&e.value)) {
            return 0;
        }
        let old_texts = std::mem::take(&mut self.texts);
        let before = self.entries.len();
        let mut kept = KnownSeries::default();
        for entry in std::mem::take(&mut self.entries) {
            let text = &old_texts[entry.text];
            if keep(&entry.value) {
                kept.push(text, entry.value);
            } else {
                removed(text, entry.value);
            }
        }
        *self = kept;
        before - self.entries.len()
    }

    /// Removes every entry, handing each to `removed` with its text.
    pub fn clear(&mut self, mut removed: impl FnMut(&[u8], V)) {
        self.retain(|_| false, &mut removed);
        *self = KnownSeries::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(known: &mut KnownSeries<u32>) -> Vec<(String, u32)> {
        let mut all = Vec::new();
        known.clear(|text, v| all.push((String::from_utf8_lossy(text).into_owned(), v)));
        all
    }

    #[test]
    fn finds_entries_in_and_out_of_order_and_keeps_order_when_removing() {
        let mut known = KnownSeries::default();
        for (i, text) in ["a", "bb", "c{x=\"1\"}", "d"].iter().enumerate() {
            assert_eq!(known.find(text.as_bytes()), None);
            known.push(text.as_bytes(), i as u32);
        }
        assert_eq!(known.find(b"a"), Some(0));
        assert_eq!(known.find(b"bb"), Some(1));
        assert_eq!(known.find(b"d"), Some(3));
        assert_eq!(known.find(b"c{x=\"1\"}"), Some(2));
        assert_eq!(known.find(b"b"), None);
        *known.value_mut(2) += 10;
        let mut gone = Vec::new();
        let removed = known.retain(|v| v % 2 == 0, |text, v| gone.push((text.to_vec(), v)));
        assert_eq!(removed, 2);
        assert_eq!(gone, [(b"bb".to_vec(), 1), (b"d".to_vec(), 3)]);
        assert_eq!(known.find(b"c{x=\"1\"}"), Some(1));
        assert_eq!(known.find(b"d"), None);
        known.push(b"e", 4);
        known.push(b"f", 5);
        known.truncate(3);
        assert_eq!(known.find(b"f"), None);
        assert_eq!(known.len(), 3);
        assert_eq!(
            texts(&mut known),
            [("a".into(), 0), ("c{x=\"1\"}".into(), 12), ("e".into(), 4)]
        );
        assert_eq!(known.len(), 0);
    }
}
