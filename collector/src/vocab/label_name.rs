//! Prometheus's classic names: which strings may name a label or a metric.

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_the_classic_charset() {
        for good in ["a", "_", "job", "__name__", "A9_b"] {
            assert!(is_label_name(good), "{good}");
        }
        for bad in ["", "9a", "a-b", "a:b", "é", "a b"] {
            assert!(!is_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn metric_names_also_take_colons() {
        assert!(is_metric_name("job:up:sum"));
        assert!(is_metric_name(":a"));
        assert!(!is_metric_name("1a"));
        assert!(!is_metric_name("a-b"));
        assert!(!is_metric_name(""));
    }
}
