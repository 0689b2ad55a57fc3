//! The values a template computes with, and how Go's `fmt.Print` shows them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::gofmt::format_float;

/// A template value; the kinds of Go value alert templates meet.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Go's nil (also a missing value).
    Nil,
    /// bool
    Bool(bool),
    /// int (integer literals and lengths)
    Int(i64),
    /// float64 (sample values)
    Float(f64),
    /// string
    Str(String),
    /// map[string]string (label sets)
    Map(Arc<BTreeMap<String, String>>),
    /// A struct with named fields (the template's data: Labels, Value, ...).
    Record(Arc<BTreeMap<String, Value>>),
    /// A slice.
    List(Arc<Vec<Value>>),
}

impl Value {
    /// Go's name of the value's type, as in `%!d(float64=1.5)`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Map(_) => "map[string]string",
            Value::Record(_) => "struct",
            Value::List(_) => "[]interface {}",
        }
    }

    /// Whether `if` takes the value as true: Go's non-zero, non-empty.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Record(_) => true,
            Value::List(l) => !l.is_empty(),
        }
    }
}

impl fmt::Display for Value {
    /// As Go's `fmt.Print` (the `%v` verb) shows the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&format_float(*x, 'g', None)),
            Value::Str(s) => f.write_str(s),
            Value::Map(map) => {
                f.write_str("map[")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
            Value::Record(fields) => {
                f.write_str("{")?;
                for (i, v) in fields.values().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("}")
            }
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}
