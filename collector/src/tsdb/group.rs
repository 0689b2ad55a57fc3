//! Compacted groups: one day of many series in one value. Values are encoded per series;
//! timestamps per distinct column, shared by every series with the very same timestamps (all
//! series of one scrape target), and groups are kept just under 64 KiB, so reading one series
//! out of a day file reads at most that much.
//!
//! Layout: [`PACKED_TAG`] byte; `n_series` varint; per series `id`, `column`, `values_len`
//! varints; `n_columns` varint; per column `len` varint; then the column blobs ([`ints`]);
//! then the value blobs ([`floats`]), in directory order. Groups written before the tag existed
//! start directly with `n_series` (never 0) and hold pco blobs; they stay readable.

use rustc_hash::FxHashMap;

use super::block::{BlockError, decompress, get_varint, put_varint};
use super::codec::{floats, ints};
use super::interface::Sample;

/// First byte of a group in the bit-packed codecs (a pco group's first byte, its member count,
/// is never 0).
pub const PACKED_TAG: u8 = 0;

/// Bytes a group aims to stay under: 64 KiB less 512 bytes (which fitted a group, its key and a
/// redb leaf header in a 64 KiB page run when groups were redb values; kept so day files read
/// the same amounts).
pub const TARGET_BYTES: usize = 64 * 1024 - 512;

struct Member {
    id: u64,
    column: usize,
    values: Vec<u8>,
}

#[derive(Default)]
struct Draft {
    members: Vec<Member>,
    columns: Vec<Vec<u8>>,
    column_of: FxHashMap<Vec<i64>, usize>,
    bytes: usize,
}

impl Draft {
    fn finish(self) -> (u64, Vec<u8>) {
        let mut out = Vec::with_capacity(self.bytes + 64);
        out.push(PACKED_TAG);
        put_varint(&mut out, self.members.len() as u64);
        for m in &self.members {
            put_varint(&mut out, m.id);
            put_varint(&mut out, m.column as u64);
            put_varint(&mut out, m.values.len() as u64);
        }
        put_varint(&mut out, self.columns.len() as u64);
        for c in &self.columns {
            put_varint(&mut out, c.len() as u64);
        }
        for c in &self.columns {
            out.extend_from_slice(c);
        }
        for m in &self.members {
            out.extend_from_slice(&m.values);
        }
        (self.members.first().map_or(0, |m| m.id), out)
    }
}

/// Packs series (ascending ids, each with ascending timestamps) into groups; returns each
/// group's first series id (its key) and bytes. Empty series are left out.
pub fn build(series: Vec<(u64, Vec<Sample>)>) -> Vec<(u64, Vec<u8>)> {
    let mut groups = Vec::new();
    let mut draft = Draft::default();
    let mut encoded_columns: FxHashMap<Vec<i64>, Vec<u8>> = FxHashMap::default();
    for (id, samples) in series {
        if samples.is_empty() {
            continue;
        }
        let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
        let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
        let mut encoded = Vec::new();
        floats::encode(&values, &mut encoded);
        let values = encoded;
        if !encoded_columns.contains_key(&times) {
            let mut column = Vec::new();
            ints::encode(&times, &mut column);
            encoded_columns.insert(times.clone(), column);
        }
        let column_bytes = encoded_columns[&times].len();
        let fits = |d: &Draft| {
            let new_column = if d.column_of.contains_key(&times) {
                0
            } else {
                column_bytes + 4
            };
            d.bytes + values.len() + 16 + new_column <= TARGET_BYTES
        };
        if !draft.members.is_empty() && !fits(&draft) {
            groups.push(std::mem::take(&mut draft).finish());
        }
        let column = match draft.column_of.get(&times) {
            Some(&c) => c,
            None => {
                let bytes = encoded_columns[&times].clone();
                draft.bytes += bytes.len() + 4;
                draft.columns.push(bytes);
                draft.column_of.insert(times, draft.columns.len() - 1);
                draft.columns.len() - 1
            }
        };
        draft.bytes += values.len() + 16;
        draft.members.push(Member { id, column, values });
    }
    if !draft.members.is_empty() {
        groups.push(draft.finish());
    }
    groups
}

/// The parsed directory of a group: where each member's blobs are.
struct Directory<'a> {
    packed: bool,
    members: Vec<(u64, usize, std::ops::Range<usize>)>,
    columns: Vec<std::ops::Range<usize>>,
    bytes: &'a [u8],
}

fn directory(group: &[u8]) -> Result<Directory<'_>, BlockError> {
    let packed = group.first() == Some(&PACKED_TAG);
    let mut rest = if packed { &group[1..] } else { group };
    let len = |rest: &mut &[u8]| -> Result<usize, BlockError> {
        usize::try_from(get_varint(rest)?).map_err(|_| BlockError::new("length".into()))
    };
    let n = len(&mut rest)?;
    let mut raw = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        raw.push((get_varint(&mut rest)?, len(&mut rest)?, len(&mut rest)?));
    }
    let n_columns = len(&mut rest)?;
    let mut column_lens = Vec::with_capacity(n_columns.min(1 << 16));
    for _ in 0..n_columns {
        column_lens.push(len(&mut rest)?);
    }
    let mut at = group.len() - rest.len();
    let mut columns = Vec::with_capacity(column_lens.len());
    for l in column_lens {
        columns.push(at..at.saturating_add(l));
        at = at.saturating_add(l);
    }
    let mut members = Vec::with_capacity(raw.len());
    for (id, column, l) in raw {
        if column >= columns.len() {
            return Err(BlockError::new("column index past the end".into()));
        }
        members.push((id, column, at..at.saturating_add(l)));
        at = at.saturating_add(l);
    }
    if at > group.len() {
        return Err(BlockError::truncated());
    }
    Ok(Directory {
        packed,
        members,
        columns,
        bytes: group,
    })
}

impl Directory<'_> {
    fn column(&self, column: usize) -> Result<Vec<i64>, BlockError> {
        let bytes = &self.bytes[self.columns[column].clone()];
        if !self.packed {
            return decompress(bytes);
        }
        let mut times = Vec::new();
        ints::decode(&mut &bytes[..], &mut times)?;
        Ok(times)
    }

    fn samples(&self, member: usize, times: &[i64]) -> Result<Vec<Sample>, BlockError> {
        let bytes = &self.bytes[self.members[member].2.clone()];
        let values: Vec<f64> = if self.packed {
            let mut values = Vec::with_capacity(times.len());
            floats::decode(&mut &bytes[..], &mut values)?;
            values
        } else {
            decompress(bytes)?
        };
        if times.len() != values.len() {
            return Err(BlockError::new("column and values differ in length".into()));
        }
        Ok(times
            .iter()
            .zip(values)
            .map(|(&t, v)| Sample { t, v })
            .collect())
    }
}

/// The samples of series `id` in a group, if it is a member.
pub fn find(group: &[u8], id: u64) -> Result<Option<Vec<Sample>>, BlockError> {
    let dir = directory(group)?;
    match dir.members.iter().position(|m| m.0 == id) {
        Some(at) => {
            let times = dir.column(dir.members[at].1)?;
            dir.samples(at, &times).map(Some)
        }
        None => Ok(None),
    }
}

/// Every member with its samples, in id order; each shared column is decoded once.
pub fn decode_all(group: &[u8]) -> Result<Vec<(u64, Vec<Sample>)>, BlockError> {
    let dir = directory(group)?;
    let mut columns: Vec<Option<Vec<i64>>> = vec![None; dir.columns.len()];
    let mut out = Vec::with_capacity(dir.members.len());
    for at in 0..dir.members.len() {
        let (id, column, _) = dir.members[at];
        if columns[column].is_none() {
            columns[column] = Some(dir.column(column)?);
        }
        let times = columns[column].as_deref().unwrap_or_default();
        out.push((id, dir.samples(at, times)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::block::compress;

    fn series(id: u64, jitter: i64, n: i64) -> (u64, Vec<Sample>) {
        let mut rng = id + 1;
        let samples = (0..n)
            .map(|i| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                Sample {
                    t: i * 15_000 + (i * jitter) % 5,
                    v: (rng >> 44) as f64 * 0.01,
                }
            })
            .collect();
        (id, samples)
    }

    #[test]
    fn groups_round_trip_and_share_identical_timestamps() {
        let input: Vec<_> = (0..40)
            .map(|id| series(id, (id % 2) as i64 + 1, 5760))
            .collect();
        let groups = build(input.clone());
        assert!(groups.len() > 1, "should split at the target size");
        let mut back = Vec::new();
        for (first, bytes) in &groups {
            assert!(bytes.len() <= TARGET_BYTES, "{} bytes", bytes.len());
            let members = decode_all(bytes).unwrap();
            assert_eq!(members[0].0, *first);
            let columns = directory(bytes).unwrap().columns.len();
            assert_eq!(columns, members.len().min(2));
            back.extend(members);
        }
        assert!(back == input);
        let (first, bytes) = &groups[1];
        assert!(find(bytes, *first).unwrap() == Some(input[*first as usize].1.clone()));
        assert!(find(bytes, 999).unwrap().is_none());
    }

    #[test]
    fn groups_of_pco_blobs_stay_readable() {
        let input = [series(3, 1, 300), series(9, 2, 200)];
        let mut legacy = Vec::new();
        put_varint(&mut legacy, 2);
        let mut blobs = Vec::new();
        for (column, (id, samples)) in input.iter().enumerate() {
            let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
            let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
            let (times, values) = (compress(&times).unwrap(), compress(&values).unwrap());
            put_varint(&mut legacy, *id);
            put_varint(&mut legacy, column as u64);
            put_varint(&mut legacy, values.len() as u64);
            blobs.push((times, values));
        }
        put_varint(&mut legacy, 2);
        for (times, _) in &blobs {
            put_varint(&mut legacy, times.len() as u64);
        }
        for (times, _) in &blobs {
            legacy.extend_from_slice(times);
        }
        for (_, values) in &blobs {
            legacy.extend_from_slice(values);
        }
        assert_eq!(decode_all(&legacy).unwrap(), input.to_vec());
        assert_eq!(find(&legacy, 9).unwrap(), Some(input[1].1.clone()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for junk in [
            &[][..],
            &[1, 5, 0, 9][..],
            &[1, 0, 3, 200][..],
            &[2, 1, 0, 0][..],
        ] {
            assert!(decode_all(junk).is_err());
        }
    }
}
