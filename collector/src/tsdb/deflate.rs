//! Deflate for the values the database file stores compressed (write-ahead records, series
//! batches): small values compress in one call, and a stored value that does not inflate is
//! reported, never trusted.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use super::block::BlockError;

/// Compresses `bytes` as a raw deflate stream at the fast level: these values are written
/// once per durability tick, on the thread that appenders wait for, and the fast level keeps
/// most of the gain of the default one (labels and sample deltas repeat a lot).
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .expect("writing to a Vec cannot fail")
}

/// The inverse of [`compress`]; an error for bytes that are not a whole deflate stream.
pub fn decompress(bytes: &[u8]) -> Result<Vec<u8>, BlockError> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    DeflateDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| BlockError::new(format!("deflate: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_bytes_decompress_to_the_original_and_damage_is_an_error() {
        let original: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let stored = compress(&original);
        assert!(stored.len() < original.len() / 4, "{} bytes", stored.len());
        assert_eq!(decompress(&stored).unwrap(), original);
        assert!(decompress(&stored[..stored.len() / 2]).is_err());
        assert!(decompress(&[0xff; 16]).is_err());
    }
}
