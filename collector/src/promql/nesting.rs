//! A bound on how deep a query's syntax tree can get, checked on the text before it is parsed.
//!
//! Parsing, evaluating, formatting and dropping an expression all recurse once per level of its
//! tree, and promql-parser builds `up + up + ... + up` as a chain as deep as it has operators.
//! A 20 KB query of 4,000 such terms overflowed a worker thread's stack and took the whole
//! process down, and the parser's time grows faster than the query's length. The tree's depth is
//! at most the number of binary operators plus the deepest bracket nesting, which one pass over
//! the text counts without building anything, so a query over the bound is refused before any
//! of that work starts.

/// Most bytes a query may have.
pub const MAX_QUERY_BYTES: usize = 256 * 1024;

/// Most levels of operators and brackets a query may nest: far beyond what a person or a
/// dashboard writes, and a small fraction of what a worker thread's stack holds.
pub const MAX_QUERY_DEPTH: usize = 1000;

/// Why a query was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NestingError {
    /// The text is longer than [`MAX_QUERY_BYTES`].
    #[error("query is {bytes} bytes long; at most {MAX_QUERY_BYTES} are accepted")]
    TooLong {
        /// The query's length.
        bytes: usize,
    },
    /// The operators and brackets could nest deeper than [`MAX_QUERY_DEPTH`].
    #[error(
        "query nests too deeply: {operators} binary operators and brackets {depth} deep; \
         at most {MAX_QUERY_DEPTH} levels in all are accepted"
    )]
    TooDeep {
        /// Binary operators outside strings and comments.
        operators: usize,
        /// The deepest nesting of `(`, `[` and `{`.
        depth: usize,
    },
}

/// Refuses a query whose syntax tree could be deeper than [`MAX_QUERY_DEPTH`] or whose text is
/// longer than [`MAX_QUERY_BYTES`]. It over-counts (a `-` of a negative number or a `<` of a
/// label matcher count as operators) and never under-counts, so what it lets through parses and
/// evaluates within the stack.
pub fn check(query: &str) -> Result<(), NestingError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(NestingError::TooLong { bytes: query.len() });
    }
    let counts = count(query.as_bytes());
    if counts.operators + counts.depth > MAX_QUERY_DEPTH {
        return Err(NestingError::TooDeep {
            operators: counts.operators,
            depth: counts.depth,
        });
    }
    Ok(())
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    operators: usize,
    depth: usize,
}

/// Counts operators and the deepest bracket nesting, skipping strings, comments and what
/// stands between the braces of a selector (its matchers' `=`, `!=`, `=~` and label names are
/// not operators, and a selector is a leaf of the tree however many matchers it has).
fn count(text: &[u8]) -> Counts {
    let mut counts = Counts::default();
    let mut open = 0usize;
    let mut in_braces = false;
    let mut i = 0;
    while i < text.len() {
        let byte = text[i];
        match byte {
            b'"' | b'\'' | b'`' => i = skip_string(text, i),
            b'#' => i = skip_line(text, i),
            b'}' => in_braces = false,
            _ if in_braces => {}
            b'{' => {
                in_braces = true;
                counts.depth = counts.depth.max(open + 1);
            }
            b'(' | b'[' => {
                open += 1;
                counts.depth = counts.depth.max(open);
            }
            b')' | b']' => open = open.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'!' => counts.operators += 1,
            b'=' if text.get(i + 1) == Some(&b'=') => {
                counts.operators += 1;
                i += 1;
            }
            _ if byte.is_ascii_alphabetic() || byte == b'_' => {
                let end = word_end(text, i);
                if is_operator_word(&text[i..end]) {
                    counts.operators += 1;
                }
                i = end - 1;
            }
            _ => {}
        }
        i += 1;
    }
    counts
}

/// The index of the closing quote of the string opening at `start` (the end of the text when
/// it is not closed; the parser reports that).
fn skip_string(text: &[u8], start: usize) -> usize {
    let quote = text[start];
    let mut i = start + 1;
    while i < text.len() && text[i] != quote {
        // Backquoted strings are raw; the others escape with a backslash.
        i += if text[i] == b'\\' && quote != b'`' {
            2
        } else {
            1
        };
    }
    i
}

fn skip_line(text: &[u8], start: usize) -> usize {
    text[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |n| start + n)
}

fn word_end(text: &[u8], start: usize) -> usize {
    text[start..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b':'))
        .map_or(text.len(), |n| start + n)
}

fn is_operator_word(word: &[u8]) -> bool {
    [&b"and"[..], b"or", b"unless", b"atan2"]
        .iter()
        .any(|op| word.eq_ignore_ascii_case(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(text: &str) -> (usize, usize) {
        let c = count(text.as_bytes());
        (c.operators, c.depth)
    }

    #[test]
    fn counts_operators_and_the_deepest_bracket() {
        assert_eq!(counted("up"), (0, 0));
        assert_eq!(counted("sum(rate(x[5m])) by (job)"), (0, 3));
        assert_eq!(counted("a + b * c / d"), (3, 0));
        assert_eq!(counted("a == b or c AND d unless e"), (4, 0));
        assert_eq!(counted("atan2(a, b) ^ 2"), (2, 1));
    }

    #[test]
    fn strings_comments_and_names_hold_no_operators() {
        assert_eq!(counted(r#"{job="a+b(", path=~"x\"(y"}"#), (0, 1));
        assert_eq!(counted("up # a + b ((\n"), (0, 0));
        // A backslash does not escape inside backquotes: the string ends at the second quote.
        assert_eq!(counted("`raw\\` + `(`"), (1, 0));
        assert_eq!(counted("orders_total + original"), (1, 0));
    }

    #[test]
    fn matchers_are_not_operators_however_many() {
        let matchers = [r#"job!="x""#, r#"le=~"1|2""#, "or=\"y\""].repeat(2_000);
        assert_eq!(
            counted(&format!("up{{{}}} + 1", matchers.join(","))),
            (1, 1)
        );
        assert_eq!(counted("sum(x{a!~\"b\"}) / y{c=\"d\"}"), (1, 2));
    }

    #[test]
    fn long_chains_and_deep_nesting_are_refused_before_parsing() {
        let chain = vec!["up"; 4000].join(" or ");
        assert!(matches!(
            check(&chain),
            Err(NestingError::TooDeep {
                operators: 3999,
                ..
            })
        ));
        let nested = format!("{}up{}", "(".repeat(50_000), ")".repeat(50_000));
        assert!(matches!(
            check(&nested),
            Err(NestingError::TooDeep { depth: 50_000, .. })
        ));
        let long = format!("up{{job=\"{}\"}}", "x".repeat(MAX_QUERY_BYTES));
        assert!(matches!(check(&long), Err(NestingError::TooLong { .. })));
    }

    #[test]
    fn queries_people_write_pass() {
        let chain = vec!["up"; 500].join(" + ");
        assert_eq!(check(&chain), Ok(()));
        let panel =
            r#"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))"#;
        assert_eq!(check(panel), Ok(()));
    }
}
