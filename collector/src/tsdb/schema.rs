//! The redb tables, their key layout and the format version (written down in FORMAT.md).

use redb::TableDefinition;

use super::block::{get_varint, put_varint};
use super::interface::Metadata;
use crate::labels::Labels;

/// Bumped whenever a table's layout changes; a store refuses to open another version than
/// this one and the two it upgrades.
pub const FORMAT_VERSION: u64 = 3;

/// The version before day files: compacted groups lived in [`LEGACY_BLOCKS`]. Opening such a
/// store moves them into day files, then upgrades it as a format-2 store.
pub const FORMAT_BEFORE_DAY_FILES: u64 = 1;

/// The version before series batches and compressed write-ahead records: one entry per series
/// in [`LEGACY_SERIES`], records stored raw. Opening such a store rewrites both.
pub const FORMAT_BEFORE_BATCHES: u64 = 2;

/// Width of a raw-chunk window in milliseconds: chunks are keyed by the window their first
/// sample falls in, and no chunk spans more than one window's width.
pub const WINDOW_MS: i64 = 3_600_000;

/// Width of a compacted day (one day file) in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Store-wide counters and settings: `format_version`, `next_series_id`, `next_wal_seq`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Series registry: key -> compressed records of series created together (`series_batch.rs`).
pub const SERIES_BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("series_batches");

/// Format 2's series registry: id -> [`SeriesRecord`]; read once, by the upgrade to batches,
/// which then deletes the table.
pub const LEGACY_SERIES: TableDefinition<u64, &[u8]> = TableDefinition::new("series");

/// Per series, the newest timestamp already held in `chunks` or `blocks`.
pub const PERSISTED: TableDefinition<u64, i64> = TableDefinition::new("persisted");

/// Raw chunks: (window start, series id, first timestamp) -> XOR chunk.
pub const CHUNKS: TableDefinition<(i64, u64, i64), &[u8]> = TableDefinition::new("chunks");

/// Format 1's compacted groups: (day start, first member's series id) -> group bytes; read
/// once, by the upgrade to day files, which then deletes the table.
pub const LEGACY_BLOCKS: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("blocks");

/// Groups never mix series from different aligned runs of this many ids, so the group holding
/// a series is the last key at or before it within its run.
pub const GROUP_ID_SPAN: u64 = 4096;

/// Write-ahead records: sequence -> a compressed piece of the samples appended in one tick.
pub const WAL: TableDefinition<u64, &[u8]> = TableDefinition::new("wal");

/// HELP/TYPE/UNIT per metric family name.
pub const METADATA: TableDefinition<&str, &[u8]> = TableDefinition::new("metadata");

/// Small key/value state other modules keep next to the samples.
pub const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");

/// The start of the window holding timestamp `t`.
pub fn window_of(t: i64) -> i64 {
    t.div_euclid(WINDOW_MS).saturating_mul(WINDOW_MS)
}

/// The start of the day holding timestamp `t`.
pub fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY_MS).saturating_mul(DAY_MS)
}

/// A series as stored in a series batch; the source is borrowed (few distinct sources are shared
/// by many series, so readers intern it rather than allocate it per series).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRecord<'a> {
    /// The source that created it (counted for per-source limits).
    pub source: &'a str,
    /// The first timestamp ever appended (a lower bound once old data is deleted).
    pub first_t: i64,
    /// The series' identity.
    pub labels: Labels,
}

impl<'a> SeriesRecord<'a> {
    /// The inverse of [`encode_series_into`], reading one record from the front of `input`
    /// and advancing past it; `None` for bytes it did not write.
    pub fn decode_from(input: &mut &'a [u8]) -> Option<Self> {
        let source = get_str(input)?;
        let first_t = unzigzag(get_varint(input).ok()?);
        let count = get_varint(input).ok()?;
        let mut pairs = Vec::with_capacity(count.min(64) as usize);
        for _ in 0..count {
            pairs.push((get_str(input)?, get_str(input)?));
        }
        Some(SeriesRecord {
            source,
            first_t,
            labels: Labels::from_pairs(pairs),
        })
    }
}

/// Appends a [`SeriesRecord`]'s bytes to `out`: `source, first_t (zigzag), pair count, name,
/// value, ...`, strings as varint length + UTF-8. It takes borrowed parts, so a series held in
/// memory is encoded without copying its labels first.
pub fn encode_series_into(out: &mut Vec<u8>, source: &str, first_t: i64, labels: &Labels) {
    put_str(out, source);
    put_varint(out, zigzag(first_t));
    put_varint(out, labels.len() as u64);
    for label in labels.iter() {
        put_str(out, label.name);
        put_str(out, label.value);
    }
}

/// Metadata as stored in [`METADATA`]: kind, help, unit as length-prefixed strings.
pub fn encode_metadata(metadata: &Metadata) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [&metadata.kind, &metadata.help, &metadata.unit] {
        put_str(&mut out, field);
    }
    out
}

/// The inverse of [`encode_metadata`].
pub fn decode_metadata(mut bytes: &[u8]) -> Option<Metadata> {
    let input = &mut bytes;
    Some(Metadata {
        kind: get_str(input)?.to_owned(),
        help: get_str(input)?.to_owned(),
        unit: get_str(input)?.to_owned(),
    })
}

/// Maps signed to unsigned so small magnitudes stay small varints.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn get_str<'a>(input: &mut &'a [u8]) -> Option<&'a str> {
    let len = usize::try_from(get_varint(input).ok()?).ok()?;
    let bytes = input.get(..len)?;
    *input = &input[len..];
    std::str::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_records_round_trip() {
        let record = SeriesRecord {
            source: "node:9717",
            first_t: -5,
            labels: Labels::from_pairs([("__name__", "up"), ("job", "ñode")]),
        };
        let mut bytes = Vec::new();
        encode_series_into(&mut bytes, record.source, record.first_t, &record.labels);
        bytes.push(42);
        let mut input = bytes.as_slice();
        assert_eq!(SeriesRecord::decode_from(&mut input), Some(record));
        assert_eq!(input, [42], "the next record starts where this one ends");
        assert_eq!(SeriesRecord::decode_from(&mut &[9, 1][..]), None);
    }

    #[test]
    fn windows_align_down_for_negative_times() {
        assert_eq!(window_of(-1), -WINDOW_MS);
        assert_eq!(window_of(WINDOW_MS + 1), WINDOW_MS);
        assert_eq!(day_of(DAY_MS - 1), 0);
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
