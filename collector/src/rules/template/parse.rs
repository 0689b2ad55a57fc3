//! Parsing Go text/template source into a tree: text, actions, pipelines and the control
//! structures `if`, `range`, `with` with `else` and `end`.

use super::lex::Token;
use super::value::Value;

/// A parsed template: its name (for messages) and its top-level nodes.
#[derive(Debug, Clone)]
pub struct Tree {
    pub(super) name: String,
    pub(super) nodes: Vec<Node>,
}

/// A position in the template source, for error messages.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Action(Pipeline),
    If(Branch),
    Range(Branch),
    With(Branch),
}

/// A control structure: the pipeline it tests, its body and its `else` part.
#[derive(Debug, Clone)]
pub(super) struct Branch {
    pub pipe: Pipeline,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
}

/// `$x := cmd | cmd` (declaration optional).
#[derive(Debug, Clone)]
pub(super) struct Pipeline {
    pub pos: Pos,
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(super) struct Command {
    pub pos: Pos,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(super) enum Arg {
    /// `.` followed by zero or more field names (`.Labels.x` is `["Labels", "x"]`).
    Field(Vec<String>),
    /// `$name` followed by field names.
    Variable(String, Vec<String>),
    /// A function name.
    Function(String),
    /// A literal.
    Literal(Value),
    /// `( pipeline )` followed by field names.
    Group(Box<Pipeline>, Vec<String>),
}

/// Why a template could not be parsed, in Go's words (`template: name:line: message`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    name: String,
    line: usize,
    message: String,
}

/// Every function Go's templates and Prometheus define, so that rule files valid for
/// promtool parse here too; those Osprey cannot run fail at expansion time.
const KNOWN_FUNCTIONS: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "safeHtml",
    "sortByLabel",
    "pathPrefix",
    "externalURL",
    "toTime",
    "graphLink",
    "tableLink",
    "html",
    "js",
    "call",
    "slice",
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "urlquery",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toUpper",
    "toLower",
    "title",
    "reReplaceAll",
    "stripPort",
    "stripDomain",
    "match",
    "parseDuration",
];

/// The variables Prometheus declares before every alert template.
const PREDECLARED: &[&str] = &["$", "$labels", "$externalLabels", "$externalURL", "$value"];

/// Parses `source`; functions must be among those the template engine provides.
pub fn parse(name: &str, source: &str) -> Result<Tree, ParseError> {
    let mut parser = Parser {
        name,
        source,
        offset: 0,
        declared: PREDECLARED.iter().map(|v| (*v).to_owned()).collect(),
    };
    let (nodes, end) = parser.list()?;
    match end {
        Terminator::Eof => Ok(Tree {
            name: name.to_owned(),
            nodes,
        }),
        Terminator::End(line) => Err(parser.error_at(line, "unexpected {{end}}")),
        Terminator::Else(line, _) => Err(parser.error_at(line, "unexpected {{else}}")),
    }
}

enum Terminator {
    Eof,
    End(usize),
    /// `{{else}}` or `{{else if ...}}` (the tokens after `else`).
    Else(usize, Vec<(Token, Pos)>),
}

pub(super) struct Parser<'a> {
    name: &'a str,
    source: &'a str,
    offset: usize,
    declared: Vec<String>,
}

impl Parser<'_> {
    pub(super) fn error_at(&self, line: usize, message: &str) -> ParseError {
        ParseError {
            name: self.name.to_owned(),
            line,
            message: message.to_owned(),
        }
    }

    pub(super) fn pos_of(&self, offset: usize) -> Pos {
        let before = &self.source[..offset];
        let line = before.matches('\n').count() + 1;
        let col = offset - before.rfind('\n').map_or(0, |i| i + 1);
        Pos { line, col }
    }

    /// Nodes up to the end of input, `{{end}}` or `{{else}}`.
    fn list(&mut self) -> Result<(Vec<Node>, Terminator), ParseError> {
        let mut nodes = Vec::new();
        loop {
            let rest = &self.source[self.offset..];
            let Some(open) = rest.find("{{") else {
                if !rest.is_empty() {
                    nodes.push(Node::Text(rest.to_owned()));
                }
                self.offset = self.source.len();
                return Ok((nodes, Terminator::Eof));
            };
            let mut text = &rest[..open];
            let mut inner_start = self.offset + open + 2;
            if self.source[inner_start..].starts_with("- ")
                || self.source[inner_start..].starts_with("-\t")
                || self.source[inner_start..].starts_with("-\n")
            {
                text = text.trim_end();
                inner_start += 1;
            }
            if !text.is_empty() {
                nodes.push(Node::Text(text.to_owned()));
            }
            let action_line = self.pos_of(inner_start).line;
            let Some(close) = self.source[inner_start..].find("}}") else {
                return Err(self.error_at(action_line, "unclosed action"));
            };
            let mut inner_end = inner_start + close;
            let mut after = inner_end + 2;
            let inner = &self.source[inner_start..inner_end];
            if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
                inner_end -= 1;
                let skipped = self.source[after..].len() - self.source[after..].trim_start().len();
                after += skipped;
            }
            let inner = &self.source[inner_start..inner_end];
            self.offset = after;
            let trimmed = inner.trim();
            if trimmed.starts_with("/*") {
                if !trimmed.ends_with("*/") {
                    return Err(self.error_at(action_line, "unclosed comment"));
                }
                continue;
            }
            let tokens = self.lex(inner, inner_start)?;
            if let Some(node) = self.action(tokens, action_line)? {
                match node {
                    Step::Node(node) => nodes.push(node),
                    Step::Stop(end) => return Ok((nodes, end)),
                }
            }
        }
    }

    fn action(
        &mut self,
        mut tokens: Vec<(Token, Pos)>,
        line: usize,
    ) -> Result<Option<Step>, ParseError> {
        let keyword = match tokens.first() {
            Some((Token::Ident(word), _)) => word.clone(),
            None => return Err(self.error_at(line, "missing value for command")),
            _ => String::new(),
        };
        match keyword.as_str() {
            "end" if tokens.len() == 1 => Ok(Some(Step::Stop(Terminator::End(line)))),
            "else" => {
                tokens.remove(0);
                Ok(Some(Step::Stop(Terminator::Else(line, tokens))))
            }
            "if" | "range" | "with" => {
                tokens.remove(0);
                let node = self.branch(&keyword, tokens, line)?;
                Ok(Some(Step::Node(node)))
            }
            "define" | "template" | "block" | "break" | "continue" => Err(self.error_at(
                line,
                &format!("{{{{{keyword}}}}} is not supported in alert templates"),
            )),
            _ => Ok(Some(Step::Node(Node::Action(self.pipeline(tokens, line)?)))),
        }
    }

    fn branch(
        &mut self,
        keyword: &str,
        tokens: Vec<(Token, Pos)>,
        line: usize,
    ) -> Result<Node, ParseError> {
        let scope = self.declared.len();
        let pipe = self.pipeline(tokens, line)?;
        let (body, end) = self.list()?;
        let otherwise = match end {
            Terminator::Eof => return Err(self.error_at(line, "unexpected EOF")),
            Terminator::End(_) => Vec::new(),
            Terminator::Else(else_line, rest) => match rest.first() {
                None => {
                    let (otherwise, end) = self.list()?;
                    match end {
                        Terminator::End(_) => otherwise,
                        Terminator::Eof => return Err(self.error_at(line, "unexpected EOF")),
                        Terminator::Else(l, _) => {
                            return Err(self.error_at(l, "expected end; found {{else}}"));
                        }
                    }
                }
                // `{{else if x}}` / `{{else with x}}` nest a branch that consumes the `{{end}}`.
                Some((Token::Ident(word), _)) if word == keyword && keyword != "range" => {
                    let nested = self.branch(keyword, rest[1..].to_vec(), else_line)?;
                    vec![nested]
                }
                Some(_) => return Err(self.error_at(else_line, "unexpected token in else")),
            },
        };
        self.declared.truncate(scope);
        let branch = Branch {
            pipe,
            body,
            otherwise,
        };
        Ok(match keyword {
            "if" => Node::If(branch),
            "range" => Node::Range(branch),
            _ => Node::With(branch),
        })
    }

    fn pipeline(&mut self, tokens: Vec<(Token, Pos)>, line: usize) -> Result<Pipeline, ParseError> {
        let pos = tokens.first().map_or(Pos { line, col: 0 }, |(_, p)| *p);
        let mut tokens = tokens.into_iter().peekable();
        let mut decl = Vec::new();
        let mut is_assign = false;
        // A declaration is `$a :=`, `$a =` or `$a, $b :=` at the start.
        let lookahead: Vec<Token> = tokens.clone().take(4).map(|(t, _)| t).collect();
        let declares = match lookahead.as_slice() {
            [Token::Variable(_), Token::Declare | Token::Assign, ..] => 1,
            [
                Token::Variable(_),
                Token::Comma,
                Token::Variable(_),
                Token::Declare,
            ] => 2,
            _ => 0,
        };
        for _ in 0..declares {
            if let Some((Token::Variable(name), _)) = tokens.next() {
                decl.push(name);
            }
            if let Some((Token::Assign, _)) = tokens.next() {
                is_assign = true;
            }
        }
        let mut commands = Vec::new();
        let mut args = Vec::new();
        let mut command_pos = pos;
        while let Some((token, at)) = tokens.next() {
            if args.is_empty() {
                command_pos = at;
            }
            let arg = match token {
                Token::Pipe => {
                    if args.is_empty() {
                        return Err(self.error_at(at.line, "missing value for command"));
                    }
                    commands.push(Command {
                        pos: command_pos,
                        args: std::mem::take(&mut args),
                    });
                    continue;
                }
                Token::Dot => Arg::Field(Self::fields(&mut tokens)),
                Token::Field(name) => {
                    let mut fields = vec![name];
                    fields.extend(Self::fields(&mut tokens));
                    Arg::Field(fields)
                }
                Token::Variable(name) => {
                    if !self.declared.contains(&name) {
                        let message = format!("undefined variable \"{name}\"");
                        return Err(self.error_at(at.line, &message));
                    }
                    Arg::Variable(name, Self::fields(&mut tokens))
                }
                Token::Ident(name) => match name.as_str() {
                    "true" => Arg::Literal(Value::Bool(true)),
                    "false" => Arg::Literal(Value::Bool(false)),
                    "nil" => Arg::Literal(Value::Nil),
                    _ if KNOWN_FUNCTIONS.contains(&name.as_str()) => Arg::Function(name),
                    _ => {
                        let message = format!("function \"{name}\" not defined");
                        return Err(self.error_at(at.line, &message));
                    }
                },
                Token::Literal(value) => Arg::Literal(value),
                Token::LeftParen => {
                    let mut depth = 1;
                    let mut inner = Vec::new();
                    for (t, p) in tokens.by_ref() {
                        match t {
                            Token::LeftParen => depth += 1,
                            Token::RightParen => depth -= 1,
                            _ => {}
                        }
                        if depth == 0 {
                            break;
                        }
                        inner.push((t, p));
                    }
                    if depth != 0 {
                        return Err(self.error_at(at.line, "unclosed left paren"));
                    }
                    let group = self.pipeline(inner, at.line)?;
                    Arg::Group(Box::new(group), Self::fields(&mut tokens))
                }
                Token::RightParen => return Err(self.error_at(at.line, "unexpected right paren")),
                Token::Declare | Token::Assign | Token::Comma => {
                    return Err(self.error_at(at.line, "unexpected declaration in command"));
                }
            };
            args.push(arg);
        }
        if args.is_empty() {
            return Err(self.error_at(line, "missing value for command"));
        }
        commands.push(Command {
            pos: command_pos,
            args,
        });
        self.declared.extend(decl.iter().cloned());
        Ok(Pipeline {
            pos,
            decl,
            is_assign,
            commands,
        })
    }

    fn fields(tokens: &mut std::iter::Peekable<impl Iterator<Item = (Token, Pos)>>) -> Vec<String> {
        let mut fields = Vec::new();
        while let Some((Token::Field(name), _)) = tokens.peek() {
            fields.push(name.clone());
            tokens.next();
        }
        fields
    }
}

enum Step {
    Node(Node),
    Stop(Terminator),
}
