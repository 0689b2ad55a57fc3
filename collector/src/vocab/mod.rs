//! The words every stage of the collector shares: durations, times, label names, file globs,
//! YAML read with every problem's position, and logging what repeats once a minute.

mod duration;
mod glob;
mod label_name;
mod throttle;
mod time;
mod yaml;

pub use duration::{DurationError, PromDuration, parse_duration, parse_duration_or_seconds};
pub use glob::expand_glob;
pub use label_name::{is_label_name, is_metric_name};
pub use throttle::{FailureLog, Throttle};
pub use time::{InvalidTime, now_ms, parse_time, rfc3339, rfc3339_millis};
pub use yaml::{Document, Located, Read, Segment, YamlError, YamlPath, from_yaml_str};
