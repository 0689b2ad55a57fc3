//! Prometheus's label limits: how many labels a stored series may have, and how long their
//! names and values may be (in bytes). A series past one fails its whole scrape.

use crate::labels::Labels;

/// How much of a name or value an error quotes, as Prometheus cuts them.
const QUOTED_CHARS: usize = 50;

/// Limits on a series' labels after relabelling, its name and target labels included; 0 for
/// none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelLimits {
    /// Most labels (`label_limit`).
    pub count: u64,
    /// Longest label name (`label_name_length_limit`).
    pub name_length: u64,
    /// Longest label value (`label_value_length_limit`).
    pub value_length: u64,
}

/// A series past a label limit, in Prometheus's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelLimitError {
    /// Too many labels.
    #[error("label_limit exceeded (metric: {metric}, number of labels: {count}, limit: {limit})")]
    Count {
        /// The metric name, cut at 50 characters.
        metric: String,
        /// How many labels the series has.
        count: usize,
        /// The limit.
        limit: u64,
    },
    /// A label name too long.
    #[error(
        "label_name_length_limit exceeded (metric: {metric}, label name: {name}, length: \
         {length}, limit: {limit})"
    )]
    NameLength {
        /// The metric name, cut at 50 characters.
        metric: String,
        /// The label name, cut at 50 characters.
        name: String,
        /// Its length in bytes.
        length: usize,
        /// The limit.
        limit: u64,
    },
    /// A label value too long.
    #[error(
        "label_value_length_limit exceeded (metric: {metric}, label name: {name}, value: \
         {value:?}, length: {length}, limit: {limit})"
    )]
    ValueLength {
        /// The metric name, cut at 50 characters.
        metric: String,
        /// The label name, cut at 50 characters.
        name: String,
        /// The value, cut at 50 characters.
        value: String,
        /// Its length in bytes.
        length: usize,
        /// The limit.
        limit: u64,
    },
}

impl LabelLimits {
    /// Whether `labels` are within the limits, and if not the first they pass.
    pub fn check(&self, labels: &Labels) -> Result<(), LabelLimitError> {
        let metric = || cut(labels.metric_name().unwrap_or_default());
        let over = |length: usize, limit: u64| limit > 0 && length as u64 > limit;
        if over(labels.len(), self.count) {
            return Err(LabelLimitError::Count {
                metric: metric(),
                count: labels.len(),
                limit: self.count,
            });
        }
        for label in labels.iter() {
            if over(label.name.len(), self.name_length) {
                return Err(LabelLimitError::NameLength {
                    metric: metric(),
                    name: cut(label.name),
                    length: label.name.len(),
                    limit: self.name_length,
                });
            }
            if over(label.value.len(), self.value_length) {
                return Err(LabelLimitError::ValueLength {
                    metric: metric(),
                    name: cut(label.name),
                    value: cut(label.value),
                    length: label.value.len(),
                    limit: self.value_length,
                });
            }
        }
        Ok(())
    }
}

/// The first 50 characters of `text`: what an error quotes of a name or value a target chose.
fn cut(text: &str) -> String {
    text.chars().take(QUOTED_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(value: &str) -> Labels {
        Labels::from_pairs([("__name__", "m"), ("job", "j"), ("long_name", value)])
    }

    #[test]
    fn no_limit_passes_anything_and_each_limit_names_what_passed_it() {
        let long = "é".repeat(60);
        assert_eq!(LabelLimits::default().check(&series(&long)), Ok(()));
        let limits = |count, name_length, value_length| LabelLimits {
            count,
            name_length,
            value_length,
        };
        assert_eq!(limits(3, 9, 120).check(&series(&long)), Ok(()));
        let error = limits(2, 0, 0).check(&series("v")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "label_limit exceeded (metric: m, number of labels: 3, limit: 2)"
        );
        let error = limits(0, 8, 0).check(&series("v")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "label_name_length_limit exceeded (metric: m, label name: long_name, length: 9, \
             limit: 8)"
        );
        let error = limits(0, 0, 100).check(&series(&long)).unwrap_err();
        let quoted = "é".repeat(50);
        assert_eq!(
            error.to_string(),
            format!(
                "label_value_length_limit exceeded (metric: m, label name: long_name, value: \
                 \"{quoted}\", length: 120, limit: 100)"
            )
        );
    }
}
