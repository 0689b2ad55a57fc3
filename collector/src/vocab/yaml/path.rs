//! Where a value sits in a YAML document, written as its field path: `scrape_configs[1].scrape_interval`.

use std::fmt;

/// One step down a document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// The value of this key in a mapping.
    Key(String),
    /// The element at this 0-based index of a sequence.
    Index(usize),
}

/// The steps from a document's root to one of its values; empty for the root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct YamlPath(pub Vec<Segment>);

impl YamlPath {
    /// This path followed by the mapping key `key`.
    pub fn key(&self, key: &str) -> YamlPath {
        self.with(Segment::Key(key.to_owned()))
    }

    /// This path followed by the sequence index `index`.
    pub fn index(&self, index: usize) -> YamlPath {
        self.with(Segment::Index(index))
    }

    /// The path of the value holding this one; the root is its own parent.
    pub fn parent(&self) -> YamlPath {
        let mut parent = self.clone();
        parent.0.pop();
        parent
    }

    /// Whether this is the root of the document.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    fn with(&self, segment: Segment) -> YamlPath {
        let mut path = self.clone();
        path.0.push(segment);
        path
    }
}

impl fmt::Display for YamlPath {
    /// `global.scrape_interval`, `scrape_configs[0].static_configs[1]`; nothing for the root.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_field_names_and_indexes() {
        let path = YamlPath::default()
            .key("scrape_configs")
            .index(1)
            .key("scrape_interval");
        assert_eq!(path.to_string(), "scrape_configs[1].scrape_interval");
        assert_eq!(path.parent().to_string(), "scrape_configs[1]");
        assert!(YamlPath::default().is_root() && YamlPath::default().parent().is_root());
    }
}
