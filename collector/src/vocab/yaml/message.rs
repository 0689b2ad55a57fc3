//! serde-saphyr's errors in plain words: no Rust type names, no internal limits in Debug form,
//! no advice about the crate's options.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, Error, MessageFormatter, UserMessageFormatter};

/// What is wrong with a document that could not be read as YAML, on one line.
pub(super) fn plain_message(error: &Error) -> String {
    let message = match error {
        Error::WithSnippet { error, .. } | Error::AliasError { error, .. } => {
            return plain_message(error);
        }
        Error::Budget { breach, .. } => too_big(breach),
        Error::Eof { .. } => "the document ends in the middle of a value".to_owned(),
        Error::MultipleDocuments { .. } => {
            "the file holds more than one YAML document (`---`); put everything in one".to_owned()
        }
        Error::UnknownAnchor { .. } => "an alias (*name) refers to an undefined anchor".to_owned(),
        Error::AliasReplayCounterOverflow { .. }
        | Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. } => {
            "aliases (*name) expand to too much data; is this the right file?".to_owned()
        }
        Error::DuplicateMappingKey { key: Some(key), .. } => format!("duplicate key `{key}`"),
        Error::DuplicateMappingKey { key: None, .. } => "duplicate key".to_owned(),
        Error::IOError { cause } => format!("cannot read: {cause}"),
        other => UserMessageFormatter.format_message(other).into_owned(),
    };
    one_line(&message)
}

fn too_big(breach: &BudgetBreach) -> String {
    let limits = Budget::default();
    let (limit, what) = match breach {
        BudgetBreach::Events { .. } => (limits.max_events, "parser events"),
        BudgetBreach::Aliases { .. } => (limits.max_aliases, "aliases (*name)"),
        BudgetBreach::Anchors { .. } => (limits.max_anchors, "anchors (&name)"),
        BudgetBreach::Depth { .. } => (limits.max_depth, "levels of nesting"),
        BudgetBreach::Documents { .. } => (limits.max_documents, "documents"),
        BudgetBreach::Nodes { .. } => (limits.max_nodes, "YAML nodes"),
        BudgetBreach::ScalarBytes { .. } => (limits.max_total_scalar_bytes, "bytes of values"),
        BudgetBreach::MergeKeys { .. } => (limits.max_merge_keys, "merge keys (<<)"),
        BudgetBreach::AliasAnchorRatio { .. } => {
            return "the document uses far more aliases (*name) than anchors (&name), as an \
                    alias bomb does; is this the right file?"
                .to_owned();
        }
        BudgetBreach::SequenceUnbalanced => {
            return "a list or mapping closes without being opened".to_owned();
        }
        _ => {
            return "the document is too large or too complex; is this the right file?".to_owned();
        }
    };
    format!("the document has more than {limit} {what}; is this the right file?")
}

/// The first line, without the trailing colon a parser leaves before its excerpt.
fn one_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim();
    first
        .trim_end_matches(|c: char| c == ':' || c.is_whitespace())
        .to_owned()
}
