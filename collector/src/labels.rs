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
/// Held in one allocation: a header, where each name and value ends, and every name and value
/// back to back. One allocation per label set instead of two per pair, or two per set, is much
/// of a stored series' memory and of the time spent loading a million of them.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels {
    /// Empty for no pairs; otherwise a little-endian `u32` header (the number of ends times
    /// two, plus one if they are four bytes wide), the ends (two bytes each unless the text is
    /// longer than 65,535 bytes) and the text `name0 value0 name1 value1 ...` without
    /// separators. The layout follows from the pairs alone, so equal sets have equal bytes.
    bytes: Box<[u8]>,
}

/// Bytes of [`Labels`]' header.
const HEADER: usize = 4;

impl Labels {
    /// Builds a label set from pairs in any order: for a repeated name the last pair wins, as in
    /// a map, then pairs with empty values are dropped.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut pairs: Vec<(N, V)> = pairs.into_iter().collect();
        if !pairs.is_sorted_by(|a, b| a.0.as_ref() < b.0.as_ref()) {
            pairs.reverse();
            pairs.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
            pairs.dedup_by(|later, earlier| later.0.as_ref() == earlier.0.as_ref());
        }
        pairs.retain(|(_, v)| !v.as_ref().is_empty());
        if pairs.is_empty() {
            return Labels::default();
        }
        let parts = || pairs.iter().flat_map(|(n, v)| [n.as_ref(), v.as_ref()]);
        let text_len: usize = parts().map(str::len).sum();
        let wide = text_len > usize::from(u16::MAX);
        let width = if wide { 4 } else { 2 };
        let ends = pairs.len() * 2;
        let mut bytes = Vec::with_capacity(HEADER + ends * width + text_len);
        let header = u32::try_from(ends * 2 + usize::from(wide)).expect("far below 2^30 pairs");
        bytes.extend_from_slice(&header.to_le_bytes());
        let mut end = 0;
        for part in parts() {
            end += part.len();
            if wide {
                let end = u32::try_from(end).expect("a label set is far below 4 GiB");
                bytes.extend_from_slice(&end.to_le_bytes());
            } else {
                let end = u16::try_from(end).unwrap_or_else(|_| unreachable!("text below 64 KiB"));
                bytes.extend_from_slice(&end.to_le_bytes());
            }
        }
        for part in parts() {
            bytes.extend_from_slice(part.as_bytes());
        }
        Labels {
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// The number of ends (twice the number of pairs) and whether each takes four bytes.
    fn header(&self) -> (usize, bool) {
        match self.bytes.first_chunk::<HEADER>() {
            Some(&header) => {
                let header = u32::from_le_bytes(header) as usize;
                (header / 2, header % 2 == 1)
            }
            None => (0, false),
        }
    }

    /// The ends and the text.
    fn parts(&self) -> (Ends<'_>, &str) {
        let (count, wide) = self.header();
        if count == 0 {
            return (Ends::Narrow(&[]), "");
        }
        let width = if wide { 4 } else { 2 };
        let (ends, text) = self.bytes[HEADER..].split_at(count * width);
        let ends = if wide {
            Ends::Wide(ends)
        } else {
            Ends::Narrow(ends)
        };
        // SAFETY: `from_pairs` wrote the bytes after the ends from `&str`s only, and they are
        // never changed; each name and value is sliced out of it at a part's boundary.
        let text = unsafe { std::str::from_utf8_unchecked(text) };
        (ends, text)
    }

    /// Pair `i` (below `len()`).
    fn label(&self, i: usize) -> Label<'_> {
        let (ends, text) = self.parts();
        let start = if i == 0 { 0 } else { ends.get(2 * i - 1) };
        let middle = ends.get(2 * i);
        let end = ends.get(2 * i + 1);
        Label {
            name: &text[start..middle],
            value: &text[middle..end],
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
        let (ends, text) = self.parts();
        let mut start = 0;
        (0..self.len()).map(move |i| {
            let (middle, end) = (ends.get(2 * i), ends.get(2 * i + 1));
            let label = Label {
                name: &text[start..middle],
                value: &text[middle..end],
            };
            start = end;
            label
        })
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.header().0 / 2
    }

    /// Whether the set has no pairs.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The end offsets stored in a [`Labels`], two or four little-endian bytes each.
#[derive(Clone, Copy)]
enum Ends<'a> {
    Narrow(&'a [u8]),
    Wide(&'a [u8]),
}

impl Ends<'_> {
    /// End `i`.
    fn get(self, i: usize) -> usize {
        match self {
            Ends::Narrow(bytes) => {
                usize::from(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]))
            }
            Ends::Wide(bytes) => {
                let at = 4 * i;
                u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
                    as usize
            }
        }
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
    fn long_label_sets_keep_every_pair() {
        let long = "v".repeat(70_000);
        let labels = Labels::from_pairs([("a", "1"), ("b", long.as_str()), ("c", "3")]);
        let pairs: Vec<_> = labels.iter().map(|l| (l.name, l.value.len())).collect();
        assert_eq!(pairs, [("a", 1), ("b", 70_000), ("c", 1)]);
        assert_eq!(labels.get("c"), Some("3"));
        assert_eq!(labels.len(), 3);
        let short = Labels::from_pairs([("a", "1"), ("c", "3")]);
        assert_eq!(short.get("c"), Some("3"));
        assert!(labels < short && Labels::from_pairs([("a", "")]).is_empty());
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
