//! YAML read with serde-saphyr into a tree that remembers where every value stands, then into
//! typed values, with every problem of a document reported at once as
//! `line:column: field.path: message`.

mod de;
mod located;
mod message;
mod path;
mod tree;

use std::collections::HashSet;
use std::fmt;

use serde::de::DeserializeOwned;

pub use located::Located;
pub use path::{Segment, YamlPath};

use de::{DeError, NodeDeserializer, Trail};
use tree::{Node, Removed};

/// Most problems reported for one document: past it, the first ones are worth fixing first.
const MAX_ERRORS: usize = 100;

/// One problem of a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct YamlError {
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// The field at fault; empty for the document as a whole.
    pub path: YamlPath,
    /// What is wrong, on one line.
    pub message: String,
}

impl YamlError {
    /// The field and the message: `scrape_configs[0].scrape_interval: message`.
    pub fn described(&self) -> String {
        match self.path.is_root() {
            true => self.message.clone(),
            false => format!("{}: {}", self.path, self.message),
        }
    }
}

impl fmt::Display for YamlError {
    /// `line:column: path: message`; the position is left out when unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.column)?;
        }
        f.write_str(&self.described())
    }
}

/// A YAML document read into a tree of positioned values.
#[derive(Debug, Clone)]
pub struct Document {
    root: Node,
}

/// A typed value read from a [`Document`], with every problem met on the way. The value is
/// what remained readable once the faulty entries were left out; `None` when even the
/// document's root was at fault.
#[derive(Debug)]
pub struct Read<T> {
    /// The value, without the entries that had problems.
    pub value: Option<T>,
    /// Every problem, in the order of the document.
    pub errors: Vec<YamlError>,
}

impl Document {
    /// Reads `text` as YAML (or JSON); an empty text is an empty document. Fails on bad
    /// syntax or on a document beyond the reader's limits (too many nodes, an alias bomb).
    pub fn parse(text: &str) -> Result<Document, YamlError> {
        let root = Node::parse(text).map_err(|error| {
            let (line, column) = error
                .location()
                .map_or((0, 0), |at| (at.line(), at.column()));
            YamlError {
                line,
                column,
                path: YamlPath::default(),
                message: message::plain_message(&error),
            }
        })?;
        Ok(Document { root })
    }

    /// Reads the document as a `T`, going on past every faulty entry: an unknown field, a
    /// value of the wrong type or a missing field is reported, its entry left out, and the
    /// rest read again. Repeated keys are errors as well.
    pub fn read<T: DeserializeOwned>(&self) -> Read<T> {
        let mut tree = self.root.clone();
        let mut errors = Vec::new();
        for (key, first) in self.root.repeated_keys() {
            let message = format!(
                "repeats the key first written at {}:{}",
                first.line, first.column
            );
            errors.push(self.error_at(key.id, message));
            tree.remove(key.id);
        }
        // Entries left out, by the mapping they were in: a field they leave missing is not
        // a second problem.
        let mut left_out: HashSet<(usize, String)> = HashSet::new();
        while errors.len() < MAX_ERRORS {
            let error: DeError = match T::deserialize(NodeDeserializer {
                node: &tree,
                trail: &Trail::Root,
            }) {
                Ok(value) => {
                    return Read {
                        value: Some(value),
                        errors,
                    };
                }
                Err(error) => error,
            };
            let at = error.node.unwrap_or(tree.id);
            let follows_from_earlier = error
                .missing_field
                .is_some_and(|field| left_out.contains(&(at, field.to_owned())));
            if !follows_from_earlier {
                errors.push(self.error_at(at, error.message));
            }
            match tree.remove(at) {
                Some(Removed {
                    parent,
                    key: Some(key),
                }) => {
                    left_out.insert((parent, key));
                }
                Some(Removed { key: None, .. }) => {}
                None => {
                    return Read {
                        value: None,
                        errors,
                    };
                }
            }
        }
        errors.push(YamlError {
            message: format!("more than {MAX_ERRORS} problems; fix these first"),
            ..errors
                .last()
                .cloned()
                .unwrap_or_else(|| self.error_at(tree.id, String::new()))
        });
        Read {
            value: None,
            errors,
        }
    }

    /// Where the value at `path` is written, or the nearest enclosing value when it is not
    /// (a field left out is reported at its mapping), as `(line, column)`.
    pub fn position(&self, path: &YamlPath) -> (u64, u64) {
        let (_, node) = self.root.walk(path);
        (node.line, node.column)
    }

    /// The text of the scalar at exactly `path`, if there is one.
    pub fn text(&self, path: &YamlPath) -> Option<&str> {
        match self.root.walk(path) {
            (followed, node) if followed == path.0.len() => node.text(),
            _ => None,
        }
    }

    fn error_at(&self, id: usize, message: String) -> YamlError {
        let (path, node) = self
            .root
            .find(id)
            .unwrap_or((YamlPath::default(), &self.root));
        YamlError {
            line: node.line,
            column: node.column,
            path,
            message,
        }
    }
}

/// Reads YAML (or JSON) `text` as a `T`, with every problem found.
pub fn from_yaml_str<T: DeserializeOwned>(text: &str) -> Result<T, Vec<YamlError>> {
    let document = Document::parse(text).map_err(|error| vec![error])?;
    let Read { value, errors } = document.read();
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests;
