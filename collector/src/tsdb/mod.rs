//! The time-series store on redb.
//!
//! Not built yet: only the query interface other stages will use lives here so far.

mod query;

pub use query::{Querier, QueryError, STALE_NAN_BITS, Sample, Series, is_stale_nan};
