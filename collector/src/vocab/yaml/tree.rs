//! A YAML document as a tree of nodes, each knowing where it stands in its file, read once by
//! serde-saphyr (which enforces YAML's syntax and its limits on size and aliases).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::path::{Segment, YamlPath};

/// One value of the document.
#[derive(Debug, Clone)]
pub(super) struct Node {
    /// Unique within the document, stable when other nodes are removed.
    pub id: usize,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    pub value: Value,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// A scalar as YAML types it when nothing else is asked for, with its text as written
    /// (`0123` stays `0123` for a string field).
    Scalar {
        typed: Typed,
        text: String,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// How YAML's core schema reads an untyped scalar.
#[derive(Debug, Clone, Copy)]
pub(super) enum Typed {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str,
}

/// An entry taken out of the tree.
pub(super) struct Removed {
    /// The mapping or sequence it was in.
    pub parent: usize,
    /// Its key, when it was a mapping entry.
    pub key: Option<String>,
}

impl Node {
    /// Reads `text` into a tree; serde-saphyr's error when it is not YAML or too big.
    pub fn parse(text: &str) -> Result<Node, serde_saphyr::Error> {
        let options = serde_saphyr::options! {
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
            non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
            with_snippet: false,
        };
        let raw: Spanned<Raw> = serde_saphyr::from_str_with_options(text, options)?;
        let mut next_id = 0;
        Ok(build(raw, text, &mut next_id))
    }

    /// The text of a scalar key or value; `None` for a list or a mapping.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The node `id` and its path (a key stands for its entry), if it is in this tree.
    pub fn find(&self, id: usize) -> Option<(YamlPath, &Node)> {
        if self.id == id {
            return Some((YamlPath::default(), self));
        }
        self.children().find_map(|(segment, key, value)| {
            let (mut path, node) = match key {
                Some(key) if key.id == id => (YamlPath::default(), key),
                _ => value.find(id)?,
            };
            path.0.insert(0, segment);
            Some((path, node))
        })
    }

    /// The node at `path`, or the deepest one on the way when the path goes further than the
    /// document (a field left out stands at its parent), with how many segments were followed.
    pub fn walk(&self, path: &YamlPath) -> (usize, &Node) {
        let mut node = self;
        for (followed, segment) in path.0.iter().enumerate() {
            let next = match (&node.value, segment) {
                (Value::Map(entries), Segment::Key(name)) => entries
                    .iter()
                    .find(|(key, _)| key.text() == Some(name))
                    .map(|(_, value)| value),
                (Value::Seq(items), Segment::Index(index)) => items.get(*index),
                _ => None,
            };
            match next {
                Some(next) => node = next,
                None => return (followed, node),
            }
        }
        (path.0.len(), node)
    }

    /// Takes out the entry whose key or value is the node `id`; `None` when `id` is this node
    /// (the root cannot be taken out) or not in the tree.
    pub fn remove(&mut self, id: usize) -> Option<Removed> {
        let parent = self.id;
        match &mut self.value {
            Value::Scalar { .. } => None,
            Value::Seq(items) => match items.iter().position(|item| item.id == id) {
                Some(at) => {
                    items.remove(at);
                    Some(Removed { parent, key: None })
                }
                None => items.iter_mut().find_map(|item| item.remove(id)),
            },
            Value::Map(entries) => {
                match entries.iter().position(|(k, v)| k.id == id || v.id == id) {
                    Some(at) => {
                        let (key, _) = entries.remove(at);
                        let key = key.text().map(str::to_owned);
                        Some(Removed { parent, key })
                    }
                    None => entries.iter_mut().find_map(|(_, value)| value.remove(id)),
                }
            }
        }
    }

    /// Every key that repeats an earlier key of its mapping, with that earlier key.
    pub fn repeated_keys(&self) -> Vec<(&Node, &Node)> {
        let mut repeated = Vec::new();
        self.collect_repeated_keys(&mut repeated);
        repeated
    }

    fn collect_repeated_keys<'a>(&'a self, out: &mut Vec<(&'a Node, &'a Node)>) {
        if let Value::Map(entries) = &self.value {
            for (at, (key, _)) in entries.iter().enumerate() {
                let earlier = entries[..at]
                    .iter()
                    .find(|(k, _)| k.text().is_some() && k.text() == key.text());
                if let Some((first, _)) = earlier {
                    out.push((key, first));
                }
            }
        }
        for (_, _, value) in self.children() {
            value.collect_repeated_keys(out);
        }
    }

    /// Each child with its path segment and, in a mapping, its key.
    fn children(&self) -> Box<dyn Iterator<Item = (Segment, Option<&Node>, &Node)> + '_> {
        match &self.value {
            Value::Scalar { .. } => Box::new(std::iter::empty()),
            Value::Seq(items) => Box::new(
                (items.iter().enumerate()).map(|(i, item)| (Segment::Index(i), None, item)),
            ),
            Value::Map(entries) => Box::new(entries.iter().map(|(key, value)| {
                let name = key.text().unwrap_or("?").to_owned();
                (Segment::Key(name), Some(key), value)
            })),
        }
    }
}

/// A node as serde-saphyr hands it over, before ids and scalar texts are assigned.
enum Raw {
    Scalar(Typed, Option<String>),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

fn build(raw: Spanned<Raw>, source: &str, next_id: &mut usize) -> Node {
    let id = *next_id;
    *next_id += 1;
    let value = match raw.value {
        Raw::Scalar(typed, string) => {
            let text = string.unwrap_or_else(|| written(&raw.defined, source, typed));
            Value::Scalar { typed, text }
        }
        Raw::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|item| build(item, source, next_id))
                .collect(),
        ),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (build(k, source, next_id), build(v, source, next_id)))
                .collect(),
        ),
    };
    Node {
        id,
        line: raw.referenced.line(),
        column: raw.referenced.column(),
        value,
    }
}

/// The text of a plain scalar as written where it was defined (for an alias, at its anchor).
fn written(at: &serde_saphyr::Location, source: &str, typed: Typed) -> String {
    let span = at.span();
    let slice = span
        .byte_offset()
        .zip(span.byte_len())
        .and_then(|(start, len)| {
            let start = usize::try_from(start).ok()?;
            source.get(start..start.checked_add(usize::try_from(len).ok()?)?)
        });
    match (slice, typed) {
        (Some(text), _) => text.to_owned(),
        (None, Typed::Null | Typed::Str) => String::new(),
        (None, Typed::Bool(b)) => b.to_string(),
        (None, Typed::Int(i)) => i.to_string(),
        (None, Typed::UInt(u)) => u.to_string(),
        (None, Typed::Float(f)) => f.to_string(),
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Scalar(Typed::Bool(v), None))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Scalar(Typed::Int(v), None))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Scalar(Typed::UInt(v), None))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Scalar(Typed::Float(v as f64), None))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(Raw::Scalar(Typed::Float(v as f64), None))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Scalar(Typed::Float(v), None))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Scalar(Typed::Str, Some(v.to_owned())))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        let text = String::from_utf8_lossy(v).into_owned();
        Ok(Raw::Scalar(Typed::Str, Some(text)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Scalar(Typed::Null, None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        Raw::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Raw::Map(entries))
    }
}
