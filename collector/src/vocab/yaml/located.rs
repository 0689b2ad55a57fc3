//! A value together with where it was written, for checks that run after reading.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use super::path::{Segment, YamlPath};

/// The name under which the node deserializer recognises a [`Located`].
pub(super) const LOCATED: &str = "osprey::Located";

/// A value read from YAML with its line, column and field path. Outside a YAML document
/// (defaults, values built in code) the position is 0:0 and the path empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// Where in the document, e.g. `scrape_configs[0].job_name`.
    pub path: YamlPath,
}

impl<T> Located<T> {
    /// A value that comes from no document.
    pub fn unplaced(value: T) -> Self {
        Located {
            value,
            line: 0,
            column: 0,
            path: YamlPath::default(),
        }
    }

    /// `line:column`.
    pub fn position(&self) -> String {
        format!("{}:{}", self.line, self.column)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(LOCATED, LocatedVisitor(PhantomData))
    }
}

struct LocatedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LocatedVisitor<T> {
    type Value = Located<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    /// From the YAML node deserializer: line, column, path, value.
    fn visit_seq<A: SeqAccess<'de>>(self, mut parts: A) -> Result<Self::Value, A::Error> {
        let missing = || de::Error::custom("incomplete position");
        let line = parts.next_element()?.ok_or_else(missing)?;
        let column = parts.next_element()?.ok_or_else(missing)?;
        let path = parts.next_element()?.ok_or_else(missing)?;
        let value = parts.next_element()?.ok_or_else(missing)?;
        Ok(Located {
            value,
            line,
            column,
            path,
        })
    }

    /// From any other deserializer: the value without a position.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        T::deserialize(d).map(Located::unplaced)
    }
}

impl<'de> Deserialize<'de> for YamlPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Segment>::deserialize(deserializer).map(YamlPath)
    }
}

impl<'de> Deserialize<'de> for Segment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SegmentVisitor;
        impl Visitor<'_> for SegmentVisitor {
            type Value = Segment;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key or an index")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Segment, E> {
                Ok(Segment::Key(key.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, index: u64) -> Result<Segment, E> {
                usize::try_from(index)
                    .map(Segment::Index)
                    .map_err(|_| E::custom("index out of range"))
            }
        }
        deserializer.deserialize_any(SegmentVisitor)
    }
}
