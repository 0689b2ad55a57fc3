//! The head's map from series id to series, hashed so that neighbouring ids land in
//! neighbouring buckets: a scrape's series were created together and so have neighbouring ids,
//! and committing its samples then walks the table in order instead of missing the cache once
//! per sample.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Series by id.
pub type SeriesMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// The top seven bits of a hash, which the table compares before a key; a mix of the id, so
/// that neighbouring ids rarely share them.
const TAG_BITS: u64 = 0xFE00_0000_0000_0000;

/// Hashes a series id to itself below the tag bits and to a mix of it in them.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(byte));
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id ^ (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) & TAG_BITS);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn neighbouring_ids_get_neighbouring_buckets_and_mixed_tags() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let hashes: Vec<u64> = (1000..1128u64).map(|id| build.hash_one(id)).collect();
        for (id, hash) in (1000..1128u64).zip(&hashes) {
            assert_eq!(hash & !TAG_BITS, id);
        }
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(tags.len() > 64, "only {} distinct tags", tags.len());
        let map: SeriesMap<u64> = (0..10_000).map(|id| (id, id * 2)).collect();
        assert!((0..10_000).all(|id| map[&id] == id * 2));
    }
}
