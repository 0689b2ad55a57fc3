//! Splitting a template action (the text between `{{` and `}}`) into tokens.

use super::parse::{ParseError, Parser, Pos};
use super::value::Value;

/// One token of an action.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Field(String),
    Dot,
    Variable(String),
    Ident(String),
    Literal(Value),
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    Comma,
}

impl Parser<'_> {
    pub(super) fn lex(&self, inner: &str, base: usize) -> Result<Vec<(Token, Pos)>, ParseError> {
        let mut tokens = Vec::new();
        let bytes = inner.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let pos = self.pos_of(base + i);
            let c = inner[i..].chars().next().unwrap_or(' ');
            let start = i;
            let token = match c {
                ' ' | '\t' | '\r' | '\n' => {
                    i += 1;
                    continue;
                }
                '|' => Token::Pipe,
                '(' => Token::LeftParen,
                ')' => Token::RightParen,
                ',' => Token::Comma,
                '=' => Token::Assign,
                ':' if inner[i..].starts_with(":=") => {
                    i += 1;
                    Token::Declare
                }
                '"' | '`' => {
                    let (value, len) = lex_string(&inner[i..])
                        .ok_or_else(|| self.error_at(pos.line, "unterminated quoted string"))?;
                    i += len - 1;
                    Token::Literal(Value::Str(value))
                }
                '.' | '$' => {
                    let len = 1 + ident_len(&inner[i + 1..]);
                    if c == '.'
                        && len == 1
                        && inner[i + 1..].starts_with(|d: char| d.is_ascii_digit())
                    {
                        i += number_len(&inner[i..]) - 1;
                        Token::Literal(parse_number(&inner[start..=i], pos.line, self)?)
                    } else {
                        i += len - 1;
                        match (c, len) {
                            ('.', 1) => Token::Dot,
                            ('.', _) => Token::Field(inner[start + 1..=i].to_owned()),
                            _ => Token::Variable(inner[start..=i].to_owned()),
                        }
                    }
                }
                '-' | '+' | '0'..='9' => {
                    i += number_len(&inner[i..]) - 1;
                    Token::Literal(parse_number(&inner[start..=i], pos.line, self)?)
                }
                c if c.is_alphabetic() || c == '_' => {
                    i += ident_len(&inner[i..]) - 1;
                    Token::Ident(inner[start..=i].to_owned())
                }
                other => {
                    let message =
                        format!("unrecognized character in action: U+{:04X}", other as u32);
                    return Err(self.error_at(pos.line, &message));
                }
            };
            tokens.push((token, pos));
            // `i` is on the token's last byte, which is inside its last character when that
            // character is not ASCII (`$ﻃ`): the next token starts at the next boundary.
            i += 1;
            while !inner.is_char_boundary(i) {
                i += 1;
            }
        }
        Ok(tokens)
    }
}

fn ident_len(text: &str) -> usize {
    text.char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(text.len(), |(i, _)| i)
}

fn number_len(text: &str) -> usize {
    let mut len = 0;
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        let sign_ok = (c == '-' || c == '+') && (i == 0 || matches!(previous, 'e' | 'E'));
        if !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || sign_ok) {
            break;
        }
        previous = c;
        len = i + c.len_utf8();
    }
    len
}

fn parse_number(text: &str, line: usize, parser: &Parser<'_>) -> Result<Value, ParseError> {
    let clean = text.replace('_', "");
    if let Ok(int) = clean.parse::<i64>() {
        return Ok(Value::Int(int));
    }
    if let Some(hex) = clean.strip_prefix("0x")
        && let Ok(int) = i64::from_str_radix(hex, 16)
    {
        return Ok(Value::Int(int));
    }
    match clean.parse::<f64>() {
        Ok(float) if !clean.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') => {
            Ok(Value::Float(float))
        }
        _ => Err(parser.error_at(line, &format!("bad number syntax: \"{text}\""))),
    }
}

/// A Go interpreted ("...") or raw (`...`) string literal at the start of `text`: its value and
/// its length in bytes.
fn lex_string(text: &str) -> Option<(String, usize)> {
    let quote = text.chars().next()?;
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((value, i + 1)),
            '\n' if quote == '"' => return None,
            '\\' if quote == '"' => {
                let (_, escaped) = chars.next()?;
                value.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    other => other,
                });
            }
            c => value.push(c),
        }
    }
    None
}
