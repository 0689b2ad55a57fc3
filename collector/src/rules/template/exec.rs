//! Executing a parsed template against its data, with Go's rules for pipelines, fields,
//! variables and control structures.

use std::collections::BTreeMap;

use super::funcs::call;
use super::parse::{Arg, Branch, Command, Node, Pipeline, Pos, Tree};
use super::value::Value;

/// Why executing a template failed, in Go's words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("template: {name}:{line}:{col}: executing \"{name}\" at <{at}>: {message}")]
pub struct ExecError {
    name: String,
    line: usize,
    col: usize,
    at: String,
    message: String,
}

struct Frame {
    variables: Vec<(String, Value)>,
}

/// Runs `tree` with `dot` as `.` and the given predeclared variables (`$labels`, `$value`...).
pub fn execute(tree: &Tree, dot: &Value, variables: &[(&str, Value)]) -> Result<String, ExecError> {
    let mut frame = Frame {
        variables: variables
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .chain([("$".to_owned(), dot.clone())])
            .collect(),
    };
    let mut out = String::new();
    run(tree, &tree.nodes, dot, &mut frame, &mut out)?;
    Ok(out)
}

fn run(
    tree: &Tree,
    nodes: &[Node],
    dot: &Value,
    frame: &mut Frame,
    out: &mut String,
) -> Result<(), ExecError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Action(pipe) => {
                let value = pipeline(tree, pipe, dot, frame)?;
                if pipe.decl.is_empty() {
                    match value {
                        Value::Nil => out.push_str("<no value>"),
                        value => out.push_str(&value.to_string()),
                    }
                }
            }
            Node::If(branch) => {
                let scope = frame.variables.len();
                let test = pipeline(tree, &branch.pipe, dot, frame)?;
                let body = if test.is_true() {
                    &branch.body
                } else {
                    &branch.otherwise
                };
                run(tree, body, dot, frame, out)?;
                frame.variables.truncate(scope);
            }
            Node::With(branch) => {
                let scope = frame.variables.len();
                let test = pipeline(tree, &branch.pipe, dot, frame)?;
                if test.is_true() {
                    run(tree, &branch.body, &test, frame, out)?;
                } else {
                    run(tree, &branch.otherwise, dot, frame, out)?;
                }
                frame.variables.truncate(scope);
            }
            Node::Range(branch) => range(tree, branch, dot, frame, out)?,
        }
    }
    Ok(())
}

fn range(
    tree: &Tree,
    branch: &Branch,
    dot: &Value,
    frame: &mut Frame,
    out: &mut String,
) -> Result<(), ExecError> {
    let scope = frame.variables.len();
    let mut pipe = branch.pipe.clone();
    let decl = std::mem::take(&mut pipe.decl);
    let over = pipeline(tree, &pipe, dot, frame)?;
    let items: Vec<(Value, Value)> = match &over {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Value::Int(i as i64), v.clone()))
            .collect(),
        Value::Map(map) => map
            .iter()
            .map(|(k, v)| (Value::Str(k.clone()), Value::Str(v.clone())))
            .collect(),
        Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
        Value::Nil => Vec::new(),
        other => {
            return Err(error(
                tree,
                pipe.pos,
                "range",
                format!("range can't iterate over {other}"),
            ));
        }
    };
    if items.is_empty() {
        run(tree, &branch.otherwise, dot, frame, out)?;
    }
    for (key, element) in items {
        frame.variables.truncate(scope);
        match decl.as_slice() {
            [value] => frame.variables.push((value.clone(), element.clone())),
            [k, v] => {
                frame.variables.push((k.clone(), key));
                frame.variables.push((v.clone(), element.clone()));
            }
            _ => {}
        }
        run(tree, &branch.body, &element, frame, out)?;
    }
    frame.variables.truncate(scope);
    Ok(())
}

fn pipeline(
    tree: &Tree,
    pipe: &Pipeline,
    dot: &Value,
    frame: &mut Frame,
) -> Result<Value, ExecError> {
    let mut piped = None;
    for command in &pipe.commands {
        piped = Some(command_value(tree, command, dot, frame, piped)?);
    }
    let value = piped.unwrap_or(Value::Nil);
    for name in &pipe.decl {
        if pipe.is_assign
            && let Some(slot) = frame.variables.iter_mut().rev().find(|(n, _)| n == name)
        {
            slot.1 = value.clone();
        } else {
            frame.variables.push((name.clone(), value.clone()));
        }
    }
    Ok(value)
}

fn command_value(
    tree: &Tree,
    command: &Command,
    dot: &Value,
    frame: &mut Frame,
    piped: Option<Value>,
) -> Result<Value, ExecError> {
    let (first, rest) = command
        .args
        .split_first()
        .expect("parser never builds empty commands");
    if let Arg::Function(name) = first {
        let mut args = Vec::with_capacity(rest.len() + 1);
        for arg in rest {
            args.push(arg_value(tree, arg, command.pos, dot, frame)?);
        }
        args.extend(piped);
        return call(name, &args).map_err(|message| {
            let at = if rest.is_empty() {
                name.clone()
            } else {
                describe(command)
            };
            error(
                tree,
                command.pos,
                &at,
                format!("error calling {name}: {message}"),
            )
        });
    }
    if !rest.is_empty() || piped.is_some() {
        let message = format!(
            "can't give argument to non-function {}",
            describe_arg(first)
        );
        return Err(error(tree, command.pos, &describe_arg(first), message));
    }
    arg_value(tree, first, command.pos, dot, frame)
}

fn arg_value(
    tree: &Tree,
    arg: &Arg,
    pos: Pos,
    dot: &Value,
    frame: &mut Frame,
) -> Result<Value, ExecError> {
    match arg {
        Arg::Literal(value) => Ok(value.clone()),
        Arg::Field(fields) => fields_of(tree, pos, dot.clone(), fields),
        Arg::Variable(name, fields) => {
            let value = frame
                .variables
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Nil);
            fields_of(tree, pos, value, fields)
        }
        Arg::Function(name) => call(name, &[])
            .map_err(|m| error(tree, pos, name, format!("error calling {name}: {m}"))),
        Arg::Group(pipe, fields) => {
            let value = pipeline(tree, pipe, dot, frame)?;
            fields_of(tree, pos, value, fields)
        }
    }
}

fn fields_of(
    tree: &Tree,
    pos: Pos,
    mut value: Value,
    fields: &[String],
) -> Result<Value, ExecError> {
    for field in fields {
        value = match &value {
            // A label map returns the zero value for a missing key, as Go's map[string]string.
            Value::Map(map) => Value::Str(map.get(field).cloned().unwrap_or_default()),
            Value::Record(record) => record.get(field).cloned().ok_or_else(|| {
                let message = format!("can't evaluate field {field} in type struct");
                error(tree, pos, &format!(".{field}"), message)
            })?,
            Value::Nil => Value::Nil,
            other => {
                let message = format!("can't evaluate field {field} in type {}", other.type_name());
                return Err(error(tree, pos, &format!(".{field}"), message));
            }
        };
    }
    Ok(value)
}

fn describe(command: &Command) -> String {
    command
        .args
        .iter()
        .map(describe_arg)
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe_arg(arg: &Arg) -> String {
    let with_fields = |base: &str, fields: &[String]| {
        let mut s = base.to_owned();
        for f in fields {
            s.push('.');
            s.push_str(f);
        }
        s
    };
    match arg {
        Arg::Field(fields) if fields.is_empty() => ".".to_owned(),
        Arg::Field(fields) => with_fields("", fields),
        Arg::Variable(name, fields) => with_fields(name, fields),
        Arg::Function(name) => name.clone(),
        Arg::Literal(Value::Str(s)) => format!("{s:?}"),
        Arg::Literal(v) => v.to_string(),
        Arg::Group(_, fields) => with_fields("(...)", fields),
    }
}

fn error(tree: &Tree, pos: Pos, at: &str, message: String) -> ExecError {
    ExecError {
        name: tree.name.clone(),
        line: pos.line,
        col: pos.col,
        at: at.to_owned(),
        message,
    }
}

/// The data record Prometheus passes to alert templates.
pub fn alert_data(
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
) -> Value {
    let record = BTreeMap::from([
        ("Labels".to_owned(), Value::Map(labels.clone().into())),
        (
            "ExternalLabels".to_owned(),
            Value::Map(external_labels.clone().into()),
        ),
        (
            "ExternalURL".to_owned(),
            Value::Str(external_url.to_owned()),
        ),
        ("Value".to_owned(), Value::Float(value)),
    ]);
    Value::Record(record.into())
}
