//! The series a target exposed, by a 128-bit hash of their series text, kept in the order the
//! target lists them: a scrape listing the same series in the same order as the last one finds
//! each at the position after the previous one instead of missing the processor's cache on a
//! random bucket.
//!
//! The text itself is not kept: at 200,000 series it was most of the cache's memory. Two texts
//! share a 128-bit XXH3 hash with odds of about 2^-128 per pair; among the few million series a
//! collector holds, the odds of any collision stay below 10^-25, far below those of a memory
//! error.

use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_128;

/// Values by series text, in insertion order.
#[derive(Debug)]
pub struct KnownSeries<V> {
    entries: Vec<Entry<V>>,
    /// Entry positions by their key's first half.
    index: HashTable<u32>,
    /// Where the next [`KnownSeries::find`] looks first.
    cursor: usize,
}

/// A series text's hash, in two halves (a `u128` would make every entry 16-byte aligned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key([u64; 2]);

impl Key {
    fn of(text: &[u8]) -> Key {
        let hash = xxh3_128(text);
        Key([hash as u64, (hash >> 64) as u64])
    }

    /// The hash the index files the entry under (XXH3's bits are already well mixed).
    fn bucket(self) -> u64 {
        self.0[0]
    }
}

#[derive(Debug)]
struct Entry<V> {
    key: Key,
    value: V,
}

impl<V> Default for KnownSeries<V> {
    fn default() -> Self {
        KnownSeries {
            entries: Vec::new(),
            index: HashTable::new(),
            cursor: 0,
        }
    }
}

impl<V> KnownSeries<V> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The position of the entry for `text`, trying the one after the last found first.
    pub fn find(&mut self, text: &[u8]) -> Option<usize> {
        let key = Key::of(text);
        let predicted = self.cursor;
        let found = match self.entries.get(predicted) {
            Some(entry) if entry.key == key => Some(predicted),
            _ => {
                let entries = &self.entries;
                self.index
                    .find(key.bucket(), |&i| entries[i as usize].key == key)
                    .map(|&i| i as usize)
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
        self.push_key(Key::of(text), value);
    }

    fn push_key(&mut self, key: Key, value: V) {
        let position = u32::try_from(self.entries.len()).expect("a target exposes < 2^32 series");
        self.entries.push(Entry { key, value });
        let entries = &self.entries;
        self.index.insert_unique(key.bucket(), position, |&i| {
            entries[i as usize].key.bucket()
        });
    }

    /// Forgets the entries from position `len` on (added by a scrape that then failed).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.entries.len() {
            return;
        }
        self.index.retain(|&mut i| (i as usize) < len);
        self.entries.truncate(len);
    }

    /// Removes the entries `keep` refuses, handing each to `removed`; the others keep their
    /// order. Returns how many were removed.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&V) -> bool,
        mut removed: impl FnMut(V),
    ) -> usize {
        if self.entries.iter().all(|e| keep(&e.value)) {
            return 0;
        }
        let before = self.entries.len();
        let mut kept = KnownSeries::default();
        for entry in std::mem::take(&mut self.entries) {
            if keep(&entry.value) {
                kept.push_key(entry.key, entry.value);
            } else {
                removed(entry.value);
            }
        }
        *self = kept;
        before - self.entries.len()
    }

    /// Gives back the room the entries grew into beyond an eighth more than they hold: a
    /// target's series are cached once and then mostly stay, and doubling left up to half of
    /// the memory unused.
    pub fn shrink(&mut self) {
        let len = self.entries.len();
        if self.entries.capacity() > len + len / 4 {
            self.entries.shrink_to(len + len / 8);
        }
    }

    /// Removes every entry, handing each to `removed`.
    pub fn clear(&mut self, mut removed: impl FnMut(V)) {
        self.retain(|_| false, &mut removed);
        *self = KnownSeries::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(known: &mut KnownSeries<u32>) -> Vec<u32> {
        let mut all = Vec::new();
        known.clear(|v| all.push(v));
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
        let removed = known.retain(|v| v % 2 == 0, |v| gone.push(v));
        assert_eq!(removed, 2);
        assert_eq!(gone, [1, 3]);
        assert_eq!(known.find(b"c{x=\"1\"}"), Some(1));
        assert_eq!(known.find(b"d"), None);
        known.push(b"e", 4);
        known.push(b"f", 5);
        known.truncate(3);
        assert_eq!(known.find(b"f"), None);
        assert_eq!(known.find(b"e"), Some(2));
        assert_eq!(known.len(), 3);
        known.shrink();
        assert_eq!(values(&mut known), [0, 12, 4]);
        assert_eq!(known.len(), 0);
    }

    #[test]
    fn shrinking_keeps_every_entry_findable_and_little_spare_room() {
        let mut known = KnownSeries::default();
        let texts: Vec<String> = (0..1000).map(|i| format!("s{{i=\"{i}\"}}")).collect();
        for (i, text) in texts.iter().enumerate() {
            known.push(text.as_bytes(), i);
        }
        known.shrink();
        assert!(known.entries.capacity() <= 1000 + 1000 / 8);
        for (i, text) in texts.iter().enumerate().rev() {
            assert_eq!(known.find(text.as_bytes()), Some(i));
        }
    }
}
