//! Reading YAML: every problem of a document at once, each with its position and field path.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shape {
    name: String,
    count: u32,
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Part {
    id: Located<String>,
    #[serde(default)]
    size: u64,
}

fn errors_of(text: &str) -> Vec<String> {
    from_yaml_str::<Shape>(text)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn reads_the_expected_shape() {
    let shape: Shape =
        from_yaml_str("name: a\ncount: 2\nparts:\n  - id: x\n    size: 3\n").unwrap();
    assert_eq!((shape.name.as_str(), shape.count), ("a", 2));
    assert_eq!(
        (shape.parts[0].id.value.as_str(), shape.parts[0].size),
        ("x", 3)
    );
}

#[test]
fn every_problem_is_reported_with_its_position_and_field() {
    let text = "name: a\ncount: many\nparts:\n  - id: x\n    size: big\n  - id: y\n    colour: red\n  - size: 3\nextra: 1\n";
    assert_eq!(
        errors_of(text),
        [
            "2:8: count: expected a whole number, found \"many\"",
            "5:11: parts[0].size: expected a whole number, found \"big\"",
            "7:5: parts[1].colour: unknown field `colour` (known fields: id, size)",
            "8:5: parts[2]: missing field `id`",
            "9:1: extra: unknown field `extra` (known fields: name, count, parts)",
        ]
    );
}

#[test]
fn a_required_field_left_out_for_its_own_error_is_reported_once() {
    let text = "name: [a]\ncount: 1\n";
    assert_eq!(
        errors_of(text),
        ["1:7: name: expected a string, found a list"]
    );
}

#[test]
fn what_parsed_is_kept_beside_the_errors() {
    let document = Document::parse("name: a\ncount: 1\nparts:\n  - id: x\n  - id: [y]\n").unwrap();
    let read: Read<Shape> = document.read();
    assert_eq!(read.errors.len(), 1, "{:?}", read.errors);
    let shape = read.value.unwrap();
    assert_eq!(shape.parts.len(), 1);
    assert_eq!(shape.parts[0].id.value, "x");
}

#[test]
fn a_repeated_key_is_an_error_at_the_repetition() {
    assert_eq!(
        errors_of("name: a\ncount: 1\nname: b\n"),
        ["3:1: name: repeats the key first written at 1:1"]
    );
}

#[test]
fn scalars_keep_their_text_for_string_fields() {
    let map: BTreeMap<String, String> = from_yaml_str("a: 0123\nb: 1.10\nc: true\n").unwrap();
    assert_eq!((map["a"].as_str(), map["b"].as_str()), ("0123", "1.10"));
    assert_eq!(map["c"], "true");
}

#[test]
fn located_values_know_their_line_column_and_path() {
    let shape: Shape = from_yaml_str("name: a\ncount: 1\nparts:\n  - id:   x\n").unwrap();
    let id = &shape.parts[0].id;
    assert_eq!((id.line, id.column), (4, 11));
    assert_eq!(id.path.to_string(), "parts[0].id");
    assert_eq!(id.position(), "4:11");
}

#[test]
fn bad_syntax_is_located() {
    let error = Document::parse("name: a\n\tcount: 1\n").unwrap_err();
    assert!(error.line >= 1 && error.message.contains("tab"), "{error}");
    let error = Document::parse("name: \"a\ncount: 1\n").unwrap_err();
    assert!(error.line >= 1 && error.column >= 1, "{error}");
    assert!(!error.message.contains('\n'), "{error}");
}

#[test]
fn documents_beyond_the_limits_are_refused_in_plain_words() {
    let huge = format!("[{}]", "0,".repeat(250_001));
    let error = Document::parse(&huge).unwrap_err();
    assert_eq!(
        error.message,
        "the document has more than 250000 YAML nodes; is this the right file?"
    );
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let prev = (b'a' + level - 1) as char;
        let name = (b'a' + level) as char;
        bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let error = Document::parse(&bomb).unwrap_err();
    for internal in ["{", "Budget", "budget", "breach", "Options"] {
        assert!(!error.message.contains(internal), "{error}");
    }
    assert!(
        error.message.ends_with("is this the right file?"),
        "{error}"
    );
}

#[test]
fn positions_of_fields_that_are_absent_fall_back_to_their_mapping() {
    let document = Document::parse("a:\n  b: 1\n").unwrap();
    let path = YamlPath::default().key("a").key("b");
    assert_eq!(document.position(&path), (2, 6));
    assert_eq!(document.text(&path), Some("1"));
    let absent = YamlPath::default().key("a").key("c");
    assert_eq!(document.position(&absent), (2, 3));
    assert_eq!(document.text(&absent), None);
}
