//! The time-series store on redb.
//!
//! Not built yet: the interface other stages use lives here, with an in-memory implementation
//! for their unit tests.

mod interface;
mod memory;

pub use interface::{
    AppendError, Appendable, Appender, Metadata, Querier, QueryError, STALE_NAN_BITS, Sample,
    Series, SeriesRef, is_stale_nan,
};
pub use memory::MemoryStorage;
