//! Alerting and recording rules: rule files, templates, evaluation and alert state.

mod alert;
mod duration;
mod evaluate;
mod file;
mod group;
mod manager;
mod state_store;
pub mod template;

pub use alert::{Alert, AlertState, NotifierAlert, rfc3339};
pub use duration::{format_duration, parse_duration};
pub use evaluate::{EvalContext, QueryFn, RESOLVED_RETENTION, RuleState};
pub use file::{
    Rule, RuleFileErrors, RuleGroup, RuleKind, is_label_name, is_metric_name, load_rule_file,
    parse_rule_file, yaml_error_line,
};
pub use group::{GroupState, Notify, RuleDeps, RuleHealth, generator_url};
pub use manager::RuleManager;
pub use state_store::{AlertStateStore, StateStoreError, StoredAlertState};

#[cfg(test)]
mod tests;
