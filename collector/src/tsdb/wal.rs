//! Write-ahead records: the samples appended during one durability tick, in append order.
//!
//! Layout: per sample, `zigzag(series id - previous id)` varint, `zigzag(t - previous t)`
//! varint, value as 8 bytes little-endian; deltas start from zero. A scrape's samples share a
//! timestamp and have neighbouring ids, so most samples take 10 bytes.

use super::block::{BlockError, get_varint, put_varint};
use super::schema::{unzigzag, zigzag};

/// Builds one record.
#[derive(Debug, Default)]
pub struct WalWriter {
    bytes: Vec<u8>,
    prev_id: u64,
    prev_t: i64,
    samples: usize,
}

impl WalWriter {
    /// Appends one sample.
    pub fn push(&mut self, id: u64, t: i64, v: f64) {
        put_varint(
            &mut self.bytes,
            zigzag(id.wrapping_sub(self.prev_id) as i64),
        );
        put_varint(&mut self.bytes, zigzag(t.wrapping_sub(self.prev_t)));
        self.bytes.extend_from_slice(&v.to_bits().to_le_bytes());
        self.prev_id = id;
        self.prev_t = t;
        self.samples += 1;
    }

    /// Number of samples in the record.
    pub fn len(&self) -> usize {
        self.samples
    }

    /// Whether the record holds no sample.
    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    /// The finished record; the writer starts over empty.
    pub fn take(&mut self) -> Vec<u8> {
        let bytes = std::mem::take(&mut self.bytes);
        *self = WalWriter::default();
        bytes
    }
}

/// Calls `each(id, t, v)` for every sample of a record, in order.
pub fn replay(mut record: &[u8], mut each: impl FnMut(u64, i64, f64)) -> Result<(), BlockError> {
    let (mut id, mut t) = (0u64, 0i64);
    let input = &mut record;
    while !input.is_empty() {
        id = id.wrapping_add(unzigzag(get_varint(input)?) as u64);
        t = t.wrapping_add(unzigzag(get_varint(input)?));
        let Some(value) = input.get(..8) else {
            return Err(BlockError::truncated());
        };
        let v = f64::from_bits(u64::from_le_bytes(value.try_into().expect("8 bytes")));
        *input = &input[8..];
        each(id, t, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_replay_in_order_bit_exact() {
        let samples = [
            (7u64, 1000i64, 1.5f64),
            (3, -4, f64::NAN),
            (u64::MAX, i64::MAX, -0.0),
        ];
        let mut writer = WalWriter::default();
        for &(id, t, v) in &samples {
            writer.push(id, t, v);
        }
        let record = writer.take();
        assert!(writer.is_empty());
        let mut back = Vec::new();
        replay(&record, |id, t, v| back.push((id, t, v.to_bits()))).unwrap();
        let expected: Vec<_> = samples
            .iter()
            .map(|&(i, t, v)| (i, t, v.to_bits()))
            .collect();
        assert_eq!(back, expected);
        assert!(replay(&record[..record.len() - 1], |_, _, _| {}).is_err());
    }
}
