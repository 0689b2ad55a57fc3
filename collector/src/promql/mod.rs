//! PromQL evaluation over the storage's query interface, with Prometheus 3 semantics.

mod aggregate;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod value;

pub use engine::{Engine, EngineConfig, MAX_POINTS_PER_SERIES, parse, parse_selector};
pub use error::{EvalError, EvalResult};
pub use value::{Point, QueryValue, StepSeries, format_float};
