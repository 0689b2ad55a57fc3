//! The series registry on disk: the records of series created together, stored compressed in
//! batches keyed by an id at or below their first member's.
//!
//! A batch before compression holds, per member in ascending id order, the member's id minus
//! the previous member's (the first: minus the key) as a varint, then its [`SeriesRecord`].
//! Members of a batch lie below the next batch's key, so the batch holding a series is the
//! last one keyed at or before its id.

use std::collections::BTreeSet;

use redb::{ReadableTable, Table};

use super::block::{BlockError, get_varint, put_varint};
use super::deflate;
use super::options::{StorageError, db_err};
use super::schema::{SeriesRecord, encode_series_into};
use crate::labels::Labels;

/// Most series per batch. The labels of neighbouring series repeat (names, targets, paths), so
/// a batch compresses to a few bytes per series, and a batch of this many stays within a few
/// pages, which keeps redb from rounding a large value up to a power of two of pages.
pub const SERIES_PER_BATCH: usize = 256;

/// The table's name, for errors.
const TABLE: &str = "series_batches";

/// A series to store: id, source, first timestamp, labels.
pub type Member<'a> = (u64, &'a str, i64, &'a Labels);

/// The stored value of a batch keyed `key` holding `members` (ascending ids, none below the
/// key).
pub fn encode<'a>(key: u64, members: impl IntoIterator<Item = Member<'a>>) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut previous = key;
    for (id, source, first_t, labels) in members {
        put_varint(&mut raw, id - previous);
        encode_series_into(&mut raw, source, first_t, labels);
        previous = id;
    }
    deflate::compress(&raw)
}

/// Stores series (ascending ids, above every stored one) as new batches of up to
/// [`SERIES_PER_BATCH`] each.
pub fn insert<'a>(
    table: &mut Table<u64, &[u8]>,
    series: &[Member<'a>],
) -> Result<(), StorageError> {
    for members in series.chunks(SERIES_PER_BATCH) {
        let key = members[0].0;
        let value = encode(key, members.iter().copied());
        table.insert(key, value.as_slice()).map_err(db_err)?;
    }
    Ok(())
}

/// A stored batch, decompressed.
pub struct Batch {
    key: u64,
    raw: Vec<u8>,
}

impl Batch {
    /// Decompresses the value stored under `key`.
    pub fn open(key: u64, stored: &[u8]) -> Result<Batch, StorageError> {
        let raw = deflate::decompress(stored).map_err(|e| corrupt(key, &e))?;
        Ok(Batch { key, raw })
    }

    /// The members in ascending id order; an error for bytes [`encode`] did not write.
    pub fn members(&self) -> impl Iterator<Item = Result<(u64, SeriesRecord<'_>), StorageError>> {
        let mut input = self.raw.as_slice();
        let mut id = self.key;
        std::iter::from_fn(move || {
            if input.is_empty() {
                return None;
            }
            let member = get_varint(&mut input).ok().and_then(|delta| {
                id = id.checked_add(delta)?;
                Some((id, SeriesRecord::decode_from(&mut input)?))
            });
            if member.is_none() {
                input = &[];
            }
            Some(member.ok_or_else(|| corrupt(self.key, &BlockError::truncated())))
        })
    }
}

/// Removes series `ids` from the batches holding them: each such batch is rewritten under its
/// key without them, or deleted when none of its members is left.
pub fn remove(table: &mut Table<u64, &[u8]>, ids: &[u64]) -> Result<(), StorageError> {
    let gone: BTreeSet<u64> = ids.iter().copied().collect();
    let mut next = gone.first().copied();
    while let Some(id) = next {
        let found = table
            .range(..=id)
            .map_err(db_err)?
            .next_back()
            .transpose()
            .map_err(db_err)?
            .map(|(key, value)| (key.value(), value.value().to_vec()));
        let end = match id.checked_add(1) {
            Some(after) => table
                .range(after..)
                .map_err(db_err)?
                .next()
                .transpose()
                .map_err(db_err)?
                .map(|(key, _)| key.value()),
            None => None,
        };
        if let Some((key, stored)) = found {
            let batch = Batch::open(key, &stored)?;
            let members: Vec<(u64, SeriesRecord<'_>)> =
                batch.members().collect::<Result<_, _>>()?;
            let kept: Vec<Member<'_>> = members
                .iter()
                .filter(|(id, _)| !gone.contains(id))
                .map(|(id, r)| (*id, r.source, r.first_t, &r.labels))
                .collect();
            if kept.is_empty() {
                table.remove(key).map_err(db_err)?;
            } else if kept.len() < members.len() {
                table
                    .insert(key, encode(key, kept).as_slice())
                    .map_err(db_err)?;
            }
        }
        next = match end {
            Some(end) => gone.range(end..).next().copied(),
            None => None,
        };
    }
    Ok(())
}

fn corrupt(key: u64, e: &BlockError) -> StorageError {
    StorageError::Corrupt {
        table: TABLE,
        detail: format!("batch {key}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{Database, ReadableDatabase};

    use crate::tsdb::schema::SERIES_BATCHES as TABLE_DEF;

    fn labels(id: u64) -> Labels {
        Labels::from_pairs([
            ("__name__", "hc_http_requests_total".to_owned()),
            ("path", format!("/api/v1/items/{}", id / 10)),
        ])
    }

    /// Every member of every stored batch: (key, id, source, first_t, labels).
    fn stored(db: &Database) -> Vec<(u64, u64, String, i64, Labels)> {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(TABLE_DEF).unwrap();
        let mut out = Vec::new();
        for entry in table.iter().unwrap() {
            let (key, value) = entry.unwrap();
            let batch = Batch::open(key.value(), value.value()).unwrap();
            for member in batch.members() {
                let (id, r) = member.unwrap();
                out.push((key.value(), id, r.source.to_owned(), r.first_t, r.labels));
            }
        }
        out
    }

    fn store(ids: impl Iterator<Item = u64>) -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("t.redb")).unwrap();
        let all: Vec<(u64, Labels)> = ids.map(|id| (id, labels(id))).collect();
        let members: Vec<Member<'_>> = all
            .iter()
            .map(|(id, l)| (*id, "target:80", *id as i64 - 5, l))
            .collect();
        let txn = db.begin_write().unwrap();
        insert(&mut txn.open_table(TABLE_DEF).unwrap(), &members).unwrap();
        txn.commit().unwrap();
        (dir, db)
    }

    #[test]
    fn series_come_back_in_batches_of_bounded_size_keyed_by_their_first_id() {
        let ids = (0..600).map(|i| i * 3 + 1);
        let (_dir, db) = store(ids.clone());
        let back = stored(&db);
        assert_eq!(
            back.iter().map(|m| m.1).collect::<Vec<_>>(),
            ids.collect::<Vec<_>>()
        );
        for (key, id, source, first_t, labels) in &back {
            assert!(key <= id);
            assert_eq!(source, "target:80");
            assert_eq!(*first_t, *id as i64 - 5);
            assert_eq!(*labels, super::tests::labels(*id));
        }
        let keys: BTreeSet<u64> = back.iter().map(|m| m.0).collect();
        assert_eq!(keys, BTreeSet::from([1, 1 + 3 * 256, 1 + 3 * 512]));
    }

    #[test]
    fn removing_series_rewrites_their_batches_and_deletes_emptied_ones() {
        let (_dir, db) = store(0..600);
        // The whole first batch, the first member of the second and one of the third.
        let gone: Vec<u64> = (0..256).chain([256, 599]).rev().collect();
        let txn = db.begin_write().unwrap();
        remove(&mut txn.open_table(TABLE_DEF).unwrap(), &gone).unwrap();
        txn.commit().unwrap();
        let back = stored(&db);
        let expected: Vec<u64> = (257..599).collect();
        assert_eq!(back.iter().map(|m| m.1).collect::<Vec<_>>(), expected);
        // A rewritten batch keeps its key, which stays at or below its members.
        let keys: BTreeSet<u64> = back.iter().map(|m| m.0).collect();
        assert_eq!(keys, BTreeSet::from([256, 512]));
        assert!(back.iter().all(|m| m.4 == labels(m.1)));
    }

    #[test]
    fn a_damaged_batch_is_a_corruption_error() {
        let value = encode(9, [(9, "s", 0, &labels(9)), (12, "s", 1, &labels(12))]);
        assert!(matches!(
            Batch::open(9, &value[..value.len() / 2]),
            Err(StorageError::Corrupt { .. })
        ));
        let mut raw = Vec::new();
        put_varint(&mut raw, 0);
        raw.extend_from_slice(&[5, b'a']);
        let batch = Batch::open(9, &deflate::compress(&raw)).unwrap();
        let members: Vec<_> = batch.members().collect();
        assert_eq!(members.len(), 1);
        assert!(matches!(members[0], Err(StorageError::Corrupt { .. })));
    }
}
