//! PromQL evaluation over the storage's query interface, with Prometheus 3 semantics.

mod aggregate;
mod binary;
mod cleanup;
mod engine;
mod error;
mod eval;
mod functions;
mod parse;
mod value;

pub use engine::{Engine, EngineConfig};
pub use error::{EvalError, EvalResult};
pub use parse::{MAX_POINTS_PER_SERIES, parse, parse_selector};
pub use value::{Point, QueryValue, StepSeries, format_float};
