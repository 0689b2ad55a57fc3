//! Cases from Prometheus's own template tests (template/template_test.go) and the templates the
//! public rule collection uses; expected strings are Prometheus's.

use std::sync::Arc;

use super::*;

fn run_with_dot(text: &str, dot: Value) -> Result<String, String> {
    let tree = parse::parse("test", text).map_err(|e| e.to_string())?;
    exec::execute(&tree, &dot, &[]).map_err(|e| e.to_string())
}

fn run(text: &str) -> String {
    run_with_dot(text, Value::Nil).unwrap()
}

fn floats(values: &[f64]) -> Value {
    Value::List(Arc::new(values.iter().map(|v| Value::Float(*v)).collect()))
}

fn strings(values: &[&str]) -> Value {
    Value::List(Arc::new(
        values.iter().map(|v| Value::Str((*v).to_owned())).collect(),
    ))
}

fn ints(values: &[i64]) -> Value {
    Value::List(Arc::new(values.iter().map(|v| Value::Int(*v)).collect()))
}

#[test]
fn prometheus_basic_cases() {
    assert_eq!(run("plain text"), "plain text");
    assert_eq!(run("{{ 1 }}"), "1");
    assert_eq!(run("{{ \"<b>\" }}"), "<b>");
    assert_eq!(run("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}"), "xa");
    assert_eq!(run("{{ \"aa bb CC\" | title }}"), "Aa Bb CC");
    assert_eq!(run("{{ \"aa bb CC\" | toUpper }}"), "AA BB CC");
    assert_eq!(run("{{ \"aA bB CC\" | toLower }}"), "aa bb cc");
    assert_eq!(
        run("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}"),
        "true false"
    );
    assert_eq!(
        run("{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}"),
        "3720.01"
    );
}

/// Found by the `rules` fuzz target: a name ending in a letter of more than one byte made the
/// lexer slice inside that letter and panic.
#[test]
fn names_ending_in_a_multibyte_letter_lex() {
    assert_eq!(run("{{ $ﻃ := 1 }}{{ $ﻃ }}"), "1");
    assert!(parse::parse("test", "{{ $labels.moﻃ*oint }}").is_err());
}

#[test]
fn prometheus_strip_port_cases() {
    for (input, output) in [
        ("foo.example.com", "foo.example.com"),
        ("foo.example.com:12345", "foo.example.com"),
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:12345", "192.0.2.1"),
        ("2001:0DB8::1", "2001:0DB8::1"),
        ("[2001:0DB8::1]:12345", "2001:0DB8::1"),
        ("[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345"),
    ] {
        assert_eq!(
            run(&format!("{{{{ {input:?} | stripPort }}}}")),
            output,
            "{input}"
        );
    }
}

#[test]
fn prometheus_humanize_cases() {
    let range = |f: &str| format!("{{{{ range . }}}}{{{{ {f} . }}}}:{{{{ end }}}}");
    let h = range("humanize");
    assert_eq!(
        run_with_dot(&h, floats(&[0.0, 1.0, 1234567.0, 0.12])).unwrap(),
        "0:1:1.235M:120m:"
    );
    assert_eq!(
        run_with_dot(&h, strings(&["0.0", "1.0", "1234567.0", ".12"])).unwrap(),
        "0:1:1.235M:120m:"
    );
    assert_eq!(
        run_with_dot(&h, ints(&[0, -1, 1, 1234567, i64::MAX])).unwrap(),
        "0:-1:1:1.235M:9.223E:"
    );
    let h = range("humanize1024");
    assert_eq!(
        run_with_dot(&h, floats(&[0.0, 1.0, 1048576.0, 0.12])).unwrap(),
        "0:1:1Mi:0.12:"
    );
    assert_eq!(
        run_with_dot(&h, ints(&[0, -1, 1, 1234567, i64::MAX])).unwrap(),
        "0:-1:1:1.177Mi:8Ei:"
    );
    let h = range("humanizeDuration");
    let input = [
        0.0,
        1.0,
        60.0,
        3600.0,
        86400.0,
        86400.0 + 3600.0,
        -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
        899.99,
    ];
    assert_eq!(
        run_with_dot(&h, floats(&input)).unwrap(),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"
    );
    let input = [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345];
    assert_eq!(
        run_with_dot(&h, floats(&input)).unwrap(),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    assert_eq!(
        run_with_dot(&h, ints(&[0, -1, 1, 1234567])).unwrap(),
        "0s:-1s:1s:14d 6h 56m 7s:"
    );
    let all = "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}";
    let expected = "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:";
    assert_eq!(
        run_with_dot(all, floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN])).unwrap(),
        expected
    );
    assert_eq!(
        run_with_dot(all, strings(&["+Inf", "-Inf", "NaN"])).unwrap(),
        expected
    );
}

#[test]
fn prometheus_percentage_and_timestamp_cases() {
    assert_eq!(
        run(
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}"
        ),
        "-22.22%:0%:12.35%:123.5%"
    );
    let h = "{{ range . }}{{ humanizePercentage . }}:{{ end }}";
    assert_eq!(
        run_with_dot(h, ints(&[0, -1, 1, 1234567, i64::MAX])).unwrap(),
        "0%:-100%:100%:1.235e+08%:9.223e+20%:"
    );
    let h = "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}";
    assert_eq!(
        run_with_dot(h, ints(&[0, -1, 1, 1234567, 9223372036])).unwrap(),
        "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"
    );
    assert_eq!(
        run("{{ 1435065584.128 | humanizeTimestamp }}"),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(
        run("{{ \"1435065584.128\" | humanizeTimestamp }}"),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
}

#[test]
fn prometheus_error_cases() {
    assert_eq!(
        run_with_dot("{{", Value::Nil).unwrap_err(),
        "template: test:1: unclosed action"
    );
    assert_eq!(
        run_with_dot("{{\u{a0}}}", Value::Nil).unwrap_err(),
        "template: test:1: unrecognized character in action: U+00A0"
    );
    assert_eq!(
        run_with_dot("{{ humanize \"one\" }}", Value::Nil).unwrap_err(),
        "template: test:1:3: executing \"test\" at <humanize \"one\">: error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
    assert_eq!(
        run_with_dot("{{ \"one\" | humanizePercentage }}", Value::Nil).unwrap_err(),
        "template: test:1:11: executing \"test\" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
    assert!(
        run_with_dot("{{ nosuchfunc 1 }}", Value::Nil)
            .unwrap_err()
            .contains("function \"nosuchfunc\" not defined")
    );
}

fn data(value: f64) -> AlertTemplateData {
    AlertTemplateData {
        labels: [("instance", "host1:9100"), ("job", "node"), ("name", "web")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        external_labels: [("site".to_owned(), "lab".to_owned())].into(),
        external_url: "http://collector:9718".to_owned(),
        value,
    }
}

#[test]
fn rule_collection_templates() {
    let d = data(83.4567);
    let expand = |text: &str| expand_alert_template("A", text, &d);
    assert_eq!(
        expand("Host out of memory (instance {{ $labels.instance }})"),
        "Host out of memory (instance host1:9100)"
    );
    assert_eq!(
        expand(
            "Node memory is filling up (< 10% left)\n  VALUE = {{ $value }}\n  LABELS = {{ $labels }}"
        ),
        "Node memory is filling up (< 10% left)\n  VALUE = 83.4567\n  LABELS = map[instance:host1:9100 job:node name:web]"
    );
    assert_eq!(
        expand("current: {{ $value | printf \"%.2f\" }}%"),
        "current: 83.46%"
    );
    assert_eq!(
        expand("has had {{ printf \"%.0f\" $value }} errors"),
        "has had 83 errors"
    );
    assert_eq!(
        expand("throttled ({{ $value | humanizePercentage }})"),
        "throttled (8346%)"
    );
    assert_eq!(
        expand("{{ $externalLabels.site }} {{ $labels.missing }}|"),
        "lab |"
    );
    assert_eq!(
        expand("{{ $labels.instance | stripPort | toUpper }}"),
        "HOST1"
    );
    assert_eq!(
        expand("{{ if gt $value 80.0 }}high{{ else }}ok{{ end }}"),
        "high"
    );
    assert_eq!(
        expand("{{ with $labels.name }}container {{ . }}{{ end }}"),
        "container web"
    );
    assert_eq!(
        expand("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}"),
        "instance=host1:9100;job=node;name=web;"
    );
    assert_eq!(expand("{{- \"a\" -}}  \n {{ .Value }}"), "a83.4567");
    assert_eq!(
        expand_alert_template("A", "{{ $value }}", &data(1e6)),
        "1e+06"
    );
}

#[test]
fn failures_expand_to_an_error_text_not_a_dead_rule() {
    let d = data(1.0);
    assert_eq!(
        expand_alert_template("HighCpu", "{{ $labels.instance ", &d),
        "<error expanding template: error parsing template __alert_HighCpu: template: __alert_HighCpu:1: unclosed action>"
    );
    let failed = expand_alert_template("HighCpu", "{{ $labels.instance | humanize }}", &d);
    assert!(failed.starts_with("<error expanding template: error executing template __alert_HighCpu: template: __alert_HighCpu:1:"), "{failed}");
    assert!(
        failed.contains("strconv.ParseFloat: parsing \"host1:9100\": invalid syntax"),
        "{failed}"
    );
}
