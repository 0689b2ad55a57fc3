//! The time-series store on redb.
//!
//! Not built yet: only the interface other stages use lives here so far.

mod interface;

pub use interface::{
    AppendError, Appendable, Appender, Metadata, Querier, QueryError, STALE_NAN_BITS, Sample,
    Series, SeriesRef, is_stale_nan,
};
