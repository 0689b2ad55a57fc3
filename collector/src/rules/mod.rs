//! Alerting and recording rules: rule files, templates, evaluation and alert state.

mod duration;
mod file;
pub mod template;

pub use duration::{format_duration, parse_duration};
pub use file::{
    Rule, RuleFileErrors, RuleGroup, RuleKind, is_label_name, is_metric_name, load_rule_file,
    parse_rule_file,
};
