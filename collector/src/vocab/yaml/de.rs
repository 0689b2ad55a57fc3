//! Typed values read from a node tree. Every error remembers the node it arose at, so the
//! caller can report it there, take that node out and read on.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, Error as _, IntoDeserializer, Visitor};

use super::located::LOCATED;
use super::path::{Segment, YamlPath};
use super::tree::{Node, Typed, Value};

/// Why a value could not be read, and at which node.
#[derive(Debug)]
pub(super) struct DeError {
    pub message: String,
    /// The field a mapping lacked, for telling a missing field from one taken out.
    pub missing_field: Option<&'static str>,
    /// The innermost node the error arose at; `None` until a node claims it.
    pub node: Option<usize>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DeError {
            message: message.to_string(),
            missing_field: None,
            node: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            missing_field: Some(field),
            ..DeError::custom(format_args!("missing field `{field}`"))
        }
    }

    fn invalid_type(found: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        DeError::custom(format_args!(
            "expected {}, found {}",
            plain_expected(expected),
            plain_found(found)
        ))
    }

    fn invalid_value(found: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        DeError::custom(format_args!(
            "invalid value {}: expected {}",
            plain_found(found),
            plain_expected(expected)
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::custom(format_args!(
            "unknown field `{field}` (known fields: {})",
            expected.join(", ")
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::custom(format_args!(
            "unknown value `{variant}` (expected one of: {})",
            expected.join(", ")
        ))
    }
}

/// What serde expected, in a YAML user's words instead of Rust type names.
fn plain_expected(expected: &dyn de::Expected) -> String {
    let expected = expected.to_string();
    match expected.as_str() {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            "a whole number".to_owned()
        }
        "f32" | "f64" => "a number".to_owned(),
        "a map" => "a mapping".to_owned(),
        "a sequence" => "a list".to_owned(),
        e if e.starts_with("struct ") => "a mapping".to_owned(),
        _ => expected,
    }
}

/// What the document held, in a YAML user's words.
fn plain_found(found: de::Unexpected<'_>) -> String {
    match found {
        de::Unexpected::Str(text) => format!("{text:?}"),
        de::Unexpected::Unit => "nothing (null)".to_owned(),
        de::Unexpected::Seq => "a list".to_owned(),
        de::Unexpected::Map => "a mapping".to_owned(),
        other => other.to_string(),
    }
}

/// The way from the root to the node being read, kept on the stack (no allocation per node).
pub(super) enum Trail<'a> {
    Root,
    Step(&'a Trail<'a>, Segment),
}

impl Trail<'_> {
    fn path(&self) -> YamlPath {
        let mut segments = Vec::new();
        let mut trail = self;
        while let Trail::Step(parent, segment) = trail {
            segments.push(segment.clone());
            trail = parent;
        }
        segments.reverse();
        YamlPath(segments)
    }
}

/// Reads a typed value from one node.
pub(super) struct NodeDeserializer<'a> {
    pub node: &'a Node,
    pub trail: &'a Trail<'a>,
}

impl NodeDeserializer<'_> {
    /// Claims errors that no deeper node claimed.
    fn claim<T>(&self, result: Result<T, DeError>) -> Result<T, DeError> {
        result.map_err(|mut error| {
            error.node.get_or_insert(self.node.id);
            error
        })
    }

    fn scalar_text(&self) -> Option<&str> {
        match &self.node.value {
            Value::Scalar {
                typed: Typed::Null, ..
            } => None,
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(
            self.node.value,
            Value::Scalar {
                typed: Typed::Null,
                ..
            }
        )
    }
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.value {
            Value::Scalar { typed, text } => match *typed {
                Typed::Null => visitor.visit_unit(),
                Typed::Bool(b) => visitor.visit_bool(b),
                Typed::Int(i) => visitor.visit_i64(i),
                Typed::UInt(u) => visitor.visit_u64(u),
                Typed::Float(f) => visitor.visit_f64(f),
                Typed::Str => visitor.visit_str(text),
            },
            Value::Seq(items) => visitor.visit_seq(Items {
                items: items.iter(),
                index: 0,
                trail: self.trail,
            }),
            Value::Map(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                value: None,
                trail: self.trail,
            }),
        };
        self.claim(result)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar_text() {
            Some(text) => {
                let result = visitor.visit_str(text);
                self.claim(result)
            }
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            let result = visitor.visit_none();
            return self.claim(result);
        }
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            // An empty value (`static_configs:`) reads as an empty list, as in Prometheus.
            let result =
                visitor.visit_seq(de::value::SeqDeserializer::new(std::iter::empty::<()>()));
            return self.claim(result);
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            let empty = std::iter::empty::<((), ())>();
            let result = visitor.visit_map(de::value::MapDeserializer::new(empty));
            return self.claim(result);
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if let Value::Seq(_) = self.node.value {
            // serde would take a list as the struct's fields in order; YAML means a mapping.
            let error = DeError::invalid_type(de::Unexpected::Seq, &visitor);
            return self.claim(Err(error));
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == LOCATED {
            let parts = LocatedParts {
                node: self.node,
                trail: self.trail,
                next: 0,
            };
            let result = visitor.visit_seq(parts);
            return self.claim(result);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match self.scalar_text() {
            Some(text) => visitor.visit_enum(StrDeserializer::<DeError>::new(text)),
            None => Err(DeError::custom(format_args!(
                "expected one of: {}",
                variants.join(", ")
            ))),
        };
        self.claim(result)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct
    }
}

/// The elements of a list.
struct Items<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
    trail: &'a Trail<'a>,
}

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let trail = Trail::Step(self.trail, Segment::Index(self.index));
        self.index += 1;
        let element = NodeDeserializer {
            node,
            trail: &trail,
        };
        let result = seed.deserialize(NodeDeserializer { ..element });
        element.claim(result).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a mapping.
struct Entries<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a (Node, Node)>,
    trail: &'a Trail<'a>,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        let name = entry.0.text().unwrap_or("?").to_owned();
        let trail = Trail::Step(self.trail, Segment::Key(name));
        let key = NodeDeserializer {
            node: &entry.0,
            trail: &trail,
        };
        let result = seed.deserialize(NodeDeserializer { ..key });
        key.claim(result).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.value.take() else {
            return Err(DeError::custom("a value was read before its key"));
        };
        let trail = Trail::Step(self.trail, Segment::Key(key.text().unwrap_or("?").into()));
        let value = NodeDeserializer {
            node: value,
            trail: &trail,
        };
        let result = seed.deserialize(NodeDeserializer { ..value });
        value.claim(result)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// What a [`super::Located`] is made of: line, column, path, then the value.
struct LocatedParts<'a> {
    node: &'a Node,
    trail: &'a Trail<'a>,
    next: u8,
}

impl<'de> de::SeqAccess<'de> for LocatedParts<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.next += 1;
        let part = match self.next {
            1 => seed.deserialize(self.node.line.into_deserializer())?,
            2 => seed.deserialize(self.node.column.into_deserializer())?,
            3 => seed.deserialize(PathDeserializer(self.trail.path()))?,
            4 => seed.deserialize(NodeDeserializer {
                node: self.node,
                trail: self.trail,
            })?,
            _ => return Ok(None),
        };
        Ok(Some(part))
    }
}

/// Hands a [`YamlPath`] to its `Deserialize` impl as a list of keys (strings) and indexes.
struct PathDeserializer(YamlPath);

impl<'de> de::Deserializer<'de> for PathDeserializer {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let segments = self.0.0.into_iter().map(|segment| match segment {
            Segment::Key(key) => SegmentValue::Key(key),
            Segment::Index(index) => SegmentValue::Index(index as u64),
        });
        visitor.visit_seq(de::value::SeqDeserializer::new(segments))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// One segment of a path on its way through serde.
enum SegmentValue {
    Key(String),
    Index(u64),
}

impl<'de> IntoDeserializer<'de, DeError> for SegmentValue {
    type Deserializer = SegmentValue;

    fn into_deserializer(self) -> SegmentValue {
        self
    }
}

impl<'de> de::Deserializer<'de> for SegmentValue {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            SegmentValue::Key(key) => visitor.visit_string(key),
            SegmentValue::Index(index) => visitor.visit_u64(index),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}
