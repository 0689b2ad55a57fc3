//! Alerting and recording rules: rule files, templates, evaluation and alert state.

mod alert;
mod evaluate;
mod file;
mod group;
mod manager;
mod state_store;
pub mod template;
mod thresholds;

pub use alert::{Alert, AlertState, NotifierAlert};
pub use evaluate::{EvalContext, QueryFn, RESOLVED_RETENTION, RuleError, RuleState};
pub use file::{Rule, RuleFileErrors, RuleGroup, RuleKind, load_rule_file, parse_rule_file};
pub use group::{GroupState, Notify, RuleDeps, RuleHealth, generator_url};
pub use manager::RuleManager;
pub use state_store::{AlertStateStore, StateStoreError, StoredAlertState};
pub use thresholds::ThresholdSeries;

#[cfg(test)]
mod tests;
