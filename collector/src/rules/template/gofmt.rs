//! Go's `fmt` formatting as templates use it: `printf` verbs and Go's float printing, which
//! differs from Rust's (`1e+06` for a million, `%g` switching to exponents, `+Inf`).

use super::value::Value;

/// A float's decimal digits (no trailing zeros; empty for zero) and the position of the
/// decimal point: the value is `0.DIGITS * 10^point`.
struct Digits {
    digits: Vec<u8>,
    point: i32,
}

/// Correctly rounded digits: the shortest that round-trip, or `precision` significant ones.
fn digits(x: f64, significant: Option<usize>) -> Digits {
    let text = match significant {
        None => format!("{:e}", x.abs()),
        Some(p) => format!("{:.*e}", p.saturating_sub(1), x.abs()),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return Digits { digits, point: 0 };
    }
    Digits {
        digits,
        point: exponent + 1,
    }
}

fn exponent_form(d: &Digits, precision: usize, upper: bool) -> String {
    let mut out = String::new();
    out.push(d.digits.first().map_or('0', |&b| b as char));
    if precision > 0 {
        out.push('.');
        for i in 1..=precision {
            out.push(d.digits.get(i).map_or('0', |&b| b as char));
        }
    }
    let exponent = if d.digits.is_empty() { 0 } else { d.point - 1 };
    let sign = if exponent < 0 { '-' } else { '+' };
    out.push(if upper { 'E' } else { 'e' });
    out.push_str(&format!("{sign}{:02}", exponent.abs()));
    out
}

fn fixed_form(d: &Digits, precision: usize) -> String {
    let mut out = String::new();
    if d.point > 0 {
        for i in 0..d.point as usize {
            out.push(d.digits.get(i).map_or('0', |&b| b as char));
        }
    } else {
        out.push('0');
    }
    if precision > 0 {
        out.push('.');
        for i in 1..=precision as i32 {
            let index = d.point + i - 1;
            let digit = usize::try_from(index).ok().and_then(|i| d.digits.get(i));
            out.push(digit.map_or('0', |&b| b as char));
        }
    }
    out
}

/// Formats `x` as Go's `strconv.FormatFloat` with verb `e`, `E`, `f`, `g` or `G` and an
/// optional precision (shortest round-trip when absent); infinities print as `+Inf`/`-Inf`.
pub fn format_float(x: f64, verb: char, precision: Option<usize>) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let sign = if x.is_sign_negative() && x != 0.0 {
        "-"
    } else {
        ""
    };
    let body = match verb {
        'e' | 'E' => {
            let p = precision.unwrap_or(6);
            let d = digits(x, precision.map(|p| p + 1));
            let p = if precision.is_none() {
                d.digits.len().saturating_sub(1)
            } else {
                p
            };
            exponent_form(&d, p, verb == 'E')
        }
        'f' | 'F' => match precision {
            Some(p) => format!("{:.*}", p, x.abs()),
            None => {
                let d = digits(x, None);
                fixed_form(&d, (d.digits.len() as i32 - d.point).max(0) as usize)
            }
        },
        _ => {
            let shortest = precision.is_none();
            let d = digits(x, precision.map(|p| p.max(1)));
            let nd = d.digits.len() as i32;
            let mut p = precision.map_or(nd, |p| p.max(1) as i32);
            let mut eprec = p;
            if eprec > nd && nd >= d.point {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exponent = d.point - 1;
            if exponent < -4 || exponent >= eprec {
                p = p.min(nd);
                exponent_form(&d, (p - 1).max(0) as usize, verb == 'G')
            } else {
                if p > d.point {
                    p = nd;
                }
                fixed_form(&d, (p - d.point).max(0) as usize)
            }
        }
    };
    format!("{sign}{body}")
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Go's `fmt.Sprintf`: verbs `v s d f F e E g G q x X t c %` with flags, width and precision;
/// mismatches print as Go does (`%!d(float64=1.5)`, `%!s(MISSING)`, `%!(EXTRA ...)`).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args_iter = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = take_number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(take_number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args_iter.next() {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(arg) => out.push_str(&format_one(&spec, verb, arg)),
        }
    }
    let extra: Vec<String> = args_iter
        .map(|a| format!("{}={}", a.type_name(), a))
        .collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn take_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut number = None;
    while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
        number = Some(number.unwrap_or(0) * 10 + digit as usize);
        chars.next();
    }
    number
}

fn format_one(spec: &Spec, verb: char, arg: &Value) -> String {
    let (body, numeric) = match (verb, arg) {
        ('v', Value::Float(x)) | ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Value::Float(x)) => {
            let precision = match verb {
                'e' | 'E' | 'f' | 'F' => spec.precision.or(Some(6)),
                _ => spec.precision,
            };
            let verb = if verb == 'v' { 'g' } else { verb };
            (format_float(*x, verb, precision), x.is_finite())
        }
        ('d' | 'v', Value::Int(i)) => (i.to_string(), true),
        ('x', Value::Int(i)) => (format!("{i:x}"), true),
        ('X', Value::Int(i)) => (format!("{i:X}"), true),
        ('c', Value::Int(i)) => {
            let c = u32::try_from(*i).ok().and_then(char::from_u32);
            (c.unwrap_or('\u{FFFD}').to_string(), false)
        }
        ('s' | 'v', Value::Str(s)) => {
            let s = match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            (s, false)
        }
        ('q', Value::Str(s)) => (go_quote(s), false),
        ('x', Value::Str(s)) => (s.bytes().map(|b| format!("{b:02x}")).collect(), false),
        ('X', Value::Str(s)) => (s.bytes().map(|b| format!("{b:02X}")).collect(), false),
        ('t' | 'v', Value::Bool(b)) => (b.to_string(), false),
        ('v', other) => (other.to_string(), false),
        (verb, other) => return format!("%!{verb}({}={other})", other.type_name()),
    };
    let body = if numeric && !body.starts_with('-') && (spec.plus || spec.space) {
        format!("{}{body}", if spec.plus { '+' } else { ' ' })
    } else {
        body
    };
    pad(spec, body, numeric)
}

fn pad(spec: &Spec, body: String, numeric: bool) -> String {
    let width = spec.width.unwrap_or(0);
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if spec.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('+' | '-' | ' ')) => (c.to_string(), body[1..].to_owned()),
            _ => (String::new(), body),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

/// Go's `strconv.Quote`: double quotes, backslash escapes for quotes, backslashes and controls.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings are Go's documented outputs (fmt and strconv package docs and tests).
    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(format_float(1.0, 'g', None), "1");
        assert_eq!(format_float(0.1, 'g', None), "0.1");
        assert_eq!(format_float(1e6, 'g', None), "1e+06");
        assert_eq!(format_float(123456.0, 'g', None), "123456");
        assert_eq!(format_float(1234567.0, 'g', None), "1.234567e+06");
        assert_eq!(format_float(0.0001, 'g', None), "0.0001");
        assert_eq!(format_float(0.00001, 'g', None), "1e-05");
        assert_eq!(format_float(-2.5, 'g', None), "-2.5");
        assert_eq!(format_float(0.0, 'g', None), "0");
        assert_eq!(format_float(1234567.0, 'g', Some(4)), "1.235e+06");
        assert_eq!(format_float(100.0, 'g', Some(4)), "100");
        assert_eq!(format_float(12.345, 'g', Some(4)), "12.35");
        assert_eq!(format_float(3.0, 'e', Some(2)), "3.00e+00");
        assert_eq!(format_float(f64::INFINITY, 'g', None), "+Inf");
        assert_eq!(format_float(f64::NAN, 'f', Some(2)), "NaN");
    }

    #[test]
    fn printf_verbs_flags_and_mismatches() {
        let f = Value::Float(83.4567);
        assert_eq!(sprintf("%.2f", std::slice::from_ref(&f)), "83.46");
        assert_eq!(sprintf("%.0f", &[Value::Float(2.5)]), "2");
        assert_eq!(
            sprintf("%v|%s", &[f.clone(), Value::Str("x".into())]),
            "83.4567|x"
        );
        assert_eq!(
            sprintf(
                "%5d|%-5d|%05d",
                &[Value::Int(42), Value::Int(42), Value::Int(-42)]
            ),
            "   42|42   |-0042"
        );
        assert_eq!(sprintf("%d", &[Value::Float(1.5)]), "%!d(float64=1.5)");
        assert_eq!(
            sprintf("%s %s", &[Value::Str("a".into())]),
            "a %!s(MISSING)"
        );
        assert_eq!(
            sprintf("%s", &[Value::Str("a".into()), Value::Int(1)]),
            "a%!(EXTRA int=1)"
        );
        assert_eq!(sprintf("%q", &[Value::Str("a\"b".into())]), "\"a\\\"b\"");
        assert_eq!(sprintf("%+.1f%%", &[Value::Float(12.34)]), "+12.3%");
        assert_eq!(sprintf("%x", &[Value::Int(255)]), "ff");
        assert_eq!(sprintf("%t", &[Value::Bool(true)]), "true");
    }
}
