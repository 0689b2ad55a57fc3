//! Codecs for compacted series, built for decode speed: integers as frame-of-reference
//! bit-packed blocks of 512 (after a delta or delta-of-delta when that is narrower), floats as
//! decimal-scaled integers when every value of a block is one (`value * 10^k` integral and back
//! bit for bit), otherwise XOR (Gorilla). Every value round-trips bit for bit, NaN payloads,
//! infinities and staleness markers included.

pub mod bitpack;
pub mod bitstream;
pub mod floats;
pub mod ints;
pub mod xor;

/// Values per block: a block's header (order, offset, width) is paid once per this many values.
pub const BLOCK: usize = 512;
