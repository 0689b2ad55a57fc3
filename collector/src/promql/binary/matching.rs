//! Which series of two vectors pair up: `on`, `ignoring` and the match signature.

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use crate::labels::{Labels, METRIC_NAME};

/// How two vectors' series are paired.
pub(crate) struct Matching<'a> {
    pub card: &'a VectorMatchCardinality,
    pub on: Option<&'a [String]>,
    pub ignoring: &'a [String],
}

impl<'a> Matching<'a> {
    pub fn from_expr(b: &'a BinaryExpr) -> Matching<'a> {
        static ONE_TO_ONE: VectorMatchCardinality = VectorMatchCardinality::OneToOne;
        let Some(modifier) = &b.modifier else {
            return Matching {
                card: &ONE_TO_ONE,
                on: None,
                ignoring: &[],
            };
        };
        let (on, ignoring): (Option<&[String]>, &[String]) = match &modifier.matching {
            Some(LabelModifier::Include(l)) => (Some(&l.labels), &[]),
            Some(LabelModifier::Exclude(l)) => (None, &l.labels),
            None => (None, &[]),
        };
        Matching {
            card: &modifier.card,
            on,
            ignoring,
        }
    }

    /// The key two series must share to be paired.
    pub fn signature(&self, labels: &Labels) -> Vec<u8> {
        let mut key = Vec::new();
        let mut push = |name: &str, value: &str| {
            key.extend_from_slice(name.as_bytes());
            key.push(0xfe);
            key.extend_from_slice(value.as_bytes());
            key.push(0xff);
        };
        match self.on {
            Some(on) => {
                for l in labels.iter().filter(|l| on.iter().any(|n| n == l.name)) {
                    push(l.name, l.value);
                }
            }
            None => {
                for l in labels
                    .iter()
                    .filter(|l| l.name != METRIC_NAME && !self.ignoring.iter().any(|n| n == l.name))
                {
                    push(l.name, l.value);
                }
            }
        }
        key
    }
}
