//! PromQL evaluation over the storage's query interface, with Prometheus 3 semantics.
//!
//! Every expression is evaluated for all steps of a query at once: a selector reads storage
//! once for the whole range and slides its windows over the samples, and each node hands its
//! parent series with one point per step, so a range query costs about as much as the data it
//! touches. An instant query is a range query of one step.

mod aggregate;
mod binary;
mod budget;
mod cleanup;
mod engine;
mod error;
mod eval;
mod functions;
mod nesting;
mod parse;
mod value;

pub use engine::{Engine, EngineConfig, Query};
pub use error::{EvalError, EvalResult};
pub use parse::{MAX_POINTS_PER_SERIES, parse, parse_selector};
pub use value::{Point, QueryValue, format_float};
