//! Write-ahead records: the samples appended during one durability tick, in append order, cut
//! into pieces of bounded size that are stored compressed under a sequence number each.
//!
//! Layout of a piece before compression: per sample, `zigzag(series id - previous id)` varint,
//! `zigzag(t - previous t)` varint, value as 8 bytes little-endian; deltas start from zero in
//! every piece. A scrape's samples share a timestamp and have neighbouring ids, so most samples
//! take 10 bytes before compression.

use super::block::{BlockError, get_varint, put_varint};
use super::deflate;
use super::schema::{unzigzag, zigzag};

/// Raw bytes after which a piece is cut. A tick after a large scrape holds megabytes; as one
/// value, redb would store it in the next power-of-two run of pages and keep that run's high
/// water mark in the file after the record is gone. Pieces this small fill ordinary pages.
const PIECE_BYTES: usize = 64 * 1024;

/// Builds the pieces of one tick's record.
#[derive(Debug, Default)]
pub struct WalWriter {
    pieces: Vec<Vec<u8>>,
    bytes: Vec<u8>,
    prev_id: u64,
    prev_t: i64,
    samples: usize,
}

impl WalWriter {
    /// Appends one sample.
    pub fn push(&mut self, id: u64, t: i64, v: f64) {
        if self.bytes.len() >= PIECE_BYTES {
            self.pieces.push(std::mem::take(&mut self.bytes));
            (self.prev_id, self.prev_t) = (0, 0);
        }
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

    /// Number of samples in the tick's record.
    pub fn len(&self) -> usize {
        self.samples
    }

    /// Whether the record holds no sample.
    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    /// The finished pieces in append order, uncompressed; the writer starts over empty.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        let mut pieces = std::mem::take(&mut self.pieces);
        if !self.bytes.is_empty() {
            pieces.push(std::mem::take(&mut self.bytes));
        }
        *self = WalWriter::default();
        pieces
    }
}

/// A piece as stored in the `wal` table.
pub fn compress(piece: &[u8]) -> Vec<u8> {
    deflate::compress(piece)
}

/// Calls `each(id, t, v)` for every sample of a stored piece, in order.
pub fn replay(stored: &[u8], each: impl FnMut(u64, i64, f64)) -> Result<(), BlockError> {
    replay_raw(&deflate::decompress(stored)?, each)
}

/// [`replay`] of a piece before compression.
fn replay_raw(mut piece: &[u8], mut each: impl FnMut(u64, i64, f64)) -> Result<(), BlockError> {
    let (mut id, mut t) = (0u64, 0i64);
    let input = &mut piece;
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

    fn replayed(pieces: &[Vec<u8>]) -> Vec<(u64, i64, u64)> {
        let mut back = Vec::new();
        for piece in pieces {
            replay(&compress(piece), |id, t, v| back.push((id, t, v.to_bits()))).unwrap();
        }
        back
    }

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
        let pieces = writer.take();
        assert!(writer.is_empty());
        let expected: Vec<_> = samples
            .iter()
            .map(|&(i, t, v)| (i, t, v.to_bits()))
            .collect();
        assert_eq!(replayed(&pieces), expected);
        let piece = &pieces[0];
        assert!(replay_raw(&piece[..piece.len() - 1], |_, _, _| {}).is_err());
        assert!(replay(&compress(&piece[..piece.len() - 1]), |_, _, _| {}).is_err());
    }

    #[test]
    fn a_large_tick_is_cut_into_bounded_pieces_that_replay_as_one_record() {
        let mut writer = WalWriter::default();
        let samples: Vec<(u64, i64, f64)> = (0..20_000u64)
            .map(|i| (i * 3 % 7_001, 1_700_000_000_000, i as f64 * 0.5))
            .collect();
        for &(id, t, v) in &samples {
            writer.push(id, t, v);
        }
        assert_eq!(writer.len(), samples.len());
        let pieces = writer.take();
        assert!(pieces.len() > 1, "{} pieces", pieces.len());
        // A piece is cut once it reaches the bound, so it exceeds it by less than one sample.
        assert!(pieces.iter().all(|p| p.len() < PIECE_BYTES + 30));
        let expected: Vec<_> = samples
            .iter()
            .map(|&(i, t, v)| (i, t, v.to_bits()))
            .collect();
        assert_eq!(replayed(&pieces), expected);
    }
}
