//! Label sets and label matchers, the vocabulary shared by scraping, storage and queries.

use std::cmp::Ordering;
use std::fmt;

/// The label holding a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair, borrowed from a [`Labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label<'a> {
    /// Label name.
    pub name: &'a str,
    /// Label value; never empty inside a [`Labels`] (an empty value means the label is absent).
    pub value: &'a str,
}

/// A series' identity: label pairs sorted by name, names unique, no empty values.
///
/// Held as one string with every name and value back to back plus their end offsets: two
/// allocations per label set instead of two per pair, which is most of a stored series' memory
/// and of the time spent loading a million of them.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels {
    /// `name0 value0 name1 value1 ...` without separators.
    text: Box<str>,
    /// Where each name and value ends in `text`, in the same order.
    ends: Box<[u32]>,
}

impl Labels {
    /// Builds a label set from pairs in any order; empty values are dropped, and for a repeated
    /// name the last pair wins.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut pairs: Vec<(N, V)> = pairs
            .into_iter()
            .filter(|(_, v)| !v.as_ref().is_empty())
            .collect();
        if !pairs.is_sorted_by(|a, b| a.0.as_ref() < b.0.as_ref()) {
            pairs.reverse();
            pairs.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
            pairs.dedup_by(|later, earlier| later.0.as_ref() == earlier.0.as_ref());
        }
        let text_len = pairs
            .iter()
            .map(|(n, v)| n.as_ref().len() + v.as_ref().len())
            .sum();
        let mut text = String::with_capacity(text_len);
        let mut ends = Vec::with_capacity(pairs.len() * 2);
        for part in pairs.iter().flat_map(|(n, v)| [n.as_ref(), v.as_ref()]) {
            text.push_str(part);
            ends.push(u32::try_from(text.len()).expect("a label set is far below 4 GiB"));
        }
        Labels {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// Pair `i` (below `len()`).
    fn label(&self, i: usize) -> Label<'_> {
        let start = if i == 0 {
            0
        } else {
            self.ends[2 * i - 1] as usize
        };
        let middle = self.ends[2 * i] as usize;
        let end = self.ends[2 * i + 1] as usize;
        Label {
            name: &self.text[start..middle],
            value: &self.text[middle..end],
        }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            let label = self.label(middle);
            match label.name.cmp(name) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Some(label.value),
            }
        }
        None
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = Label<'_>> {
        let mut start = 0;
        self.ends.chunks_exact(2).map(move |ends| {
            let (middle, end) = (ends[0] as usize, ends[1] as usize);
            let label = Label {
                name: &self.text[start..middle],
                value: &self.text[middle..end],
            };
            start = end;
            label
        })
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    /// Whether the set has no pairs.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl Ord for Labels {
    /// Pair by pair (name, then value), a set that is a prefix of another first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Labels")
            .field(&self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for Labels {
    /// Prometheus's notation: `name{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for label in self.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", label.name, label.value)?;
        }
        f.write_str("}")
    }
}

/// How a matcher compares a label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored)
    Regex,
    /// `!~` (fully anchored)
    NotRegex,
}

/// A label matcher as in PromQL selectors; an absent label matches as the empty string.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// The value or regular expression as written.
    pub value: String,
    regex: Option<regex::Regex>,
}

impl Matcher {
    /// Builds a matcher; a regular expression is anchored at both ends, as in Prometheus.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, regex::Error> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(regex::Regex::new(&format!("^(?s:{value})$"))?)
            }
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name: name.into(),
            op,
            value,
            regex,
        })
    }

    /// Whether `value` (empty for an absent label) satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (MatchOp::Regex | MatchOp::NotRegex, None) => unreachable!("regex built in new()"),
        }
    }

    /// Whether this matcher accepts a series that lacks the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Whether the series with these labels satisfies this matcher.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_deduplicated_and_skip_empty_values() {
        let labels = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        let pairs: Vec<_> = labels.iter().map(|l| (l.name, l.value)).collect();
        assert_eq!(pairs, [("a", "3"), ("b", "2")]);
        assert_eq!(labels.get("c"), None);
    }

    #[test]
    fn lookups_order_and_equality_go_by_pairs() {
        let pairs = [
            ("__name__", "up"),
            ("instance", "h:1"),
            ("job", "node"),
            ("zone", "é"),
        ];
        let labels = Labels::from_pairs(pairs);
        for (name, value) in pairs {
            assert_eq!(labels.get(name), Some(value));
        }
        assert_eq!(labels.get("a"), None);
        assert_eq!(labels.get("j"), None);
        assert_eq!(labels.get("zzz"), None);
        // The same characters split differently are a different set.
        assert_ne!(
            Labels::from_pairs([("ab", "c")]),
            Labels::from_pairs([("a", "bc")])
        );
        let shorter = Labels::from_pairs([("a", "1")]);
        let longer = Labels::from_pairs([("a", "1"), ("b", "0")]);
        let later = Labels::from_pairs([("a", "2")]);
        assert!(Labels::default() < shorter && shorter < longer && longer < later);
        assert_eq!(
            labels.to_string(),
            r#"up{instance="h:1", job="node", zone="é"}"#
        );
    }

    #[test]
    fn regex_matchers_are_anchored_and_absent_labels_match_empty() {
        let labels = Labels::from_pairs([("job", "node-exporter")]);
        let m = Matcher::new(MatchOp::Regex, "job", "node").unwrap();
        assert!(!m.matches_labels(&labels));
        let m = Matcher::new(MatchOp::Regex, "job", "node.*").unwrap();
        assert!(m.matches_labels(&labels));
        let m = Matcher::new(MatchOp::Equal, "instance", "").unwrap();
        assert!(m.matches_labels(&labels));
        let m = Matcher::new(MatchOp::NotRegex, "instance", ".+").unwrap();
        assert!(m.matches_labels(&labels));
    }
}
