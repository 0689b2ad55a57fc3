//! Go text/template as Prometheus applies it to alert labels and annotations: `$labels`,
//! `$value`, `$externalLabels`, pipelines, `if`/`range`/`with`, and Prometheus's functions.
//!
//! Hand-written: no maintained Rust crate implements Go's template language and Go's number
//! printing, and rule files written for Prometheus depend on both.

mod exec;
mod funcs;
mod gofmt;
mod lex;
mod parse;
mod value;

use std::collections::BTreeMap;

pub use gofmt::{format_float, sprintf};
pub use parse::ParseError;
pub use value::Value;

/// What an alert's templates may refer to.
#[derive(Debug, Clone, Default)]
pub struct AlertTemplateData {
    /// The alert's labels (`$labels`).
    pub labels: BTreeMap<String, String>,
    /// The server's external labels (`$externalLabels`).
    pub external_labels: BTreeMap<String, String>,
    /// The server's external URL (`$externalURL`).
    pub external_url: String,
    /// The alert's sample value (`$value`).
    pub value: f64,
}

/// The template name Prometheus gives an alert's templates, shown in error messages.
pub fn alert_template_name(alert: &str) -> String {
    format!("__alert_{alert}")
}

/// Checks that `text` parses, as `promtool check rules` does.
pub fn check_alert_template(alert: &str, text: &str) -> Result<(), ParseError> {
    parse::parse(&alert_template_name(alert), text).map(|_| ())
}

/// Expands `text` for an alert; a failure yields `<error expanding template: ...>` instead of
/// text, as Prometheus does, so a broken template never silences an alert.
pub fn expand_alert_template(alert: &str, text: &str, data: &AlertTemplateData) -> String {
    let name = alert_template_name(alert);
    let tree = match parse::parse(&name, text) {
        Ok(tree) => tree,
        Err(e) => return format!("<error expanding template: error parsing template {name}: {e}>"),
    };
    let dot = exec::alert_data(
        &data.labels,
        &data.external_labels,
        &data.external_url,
        data.value,
    );
    let variables = [
        ("$labels", Value::Map(data.labels.clone().into())),
        (
            "$externalLabels",
            Value::Map(data.external_labels.clone().into()),
        ),
        ("$externalURL", Value::Str(data.external_url.clone())),
        ("$value", Value::Float(data.value)),
    ];
    match exec::execute(&tree, &dot, &variables) {
        Ok(text) => text,
        Err(e) => format!("<error expanding template: error executing template {name}: {e}>"),
    }
}

#[cfg(test)]
mod tests;
