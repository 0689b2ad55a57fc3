//! The agent beside Debian's node_exporter on this host: every expression of the community
//! *Node Exporter Full* dashboard finds its metrics in the agent's scrape whenever it finds them
//! in node_exporter's, and the families both expose carry the same label names.

use std::collections::{BTreeMap, BTreeSet};

use osprey::agent::start_agent;
use osprey::net::metrics;
use osprey::peers::{NODE_EXPORTER, start_node_exporter};
use osprey::{peer_installed, shared_dir};

/// Families of a scrape: family name to the set of label-name sets of its samples, with the
/// values of each label. Histogram and summary parts count under their sample names, which is
/// what PromQL selects.
#[derive(Debug, Default)]
struct Scrape {
    label_sets: BTreeMap<String, BTreeSet<Vec<String>>>,
    values: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Scrape {
    fn parse(exposition: &str) -> Scrape {
        let mut scrape = Scrape::default();
        for line in exposition
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let name_end = line.find(['{', ' ']).expect("a sample line");
            let name = &line[..name_end];
            let labels = match line[name_end..].strip_prefix('{') {
                Some(rest) => labels(rest),
                None => Vec::new(),
            };
            // node_exporter sorts label names, the agent keeps node_exporter's declared order.
            let mut names: Vec<String> = labels.iter().map(|(n, _)| n.clone()).collect();
            names.sort();
            (scrape.label_sets.entry(name.to_owned()).or_default()).insert(names);
            for (label, value) in labels {
                let key = (name.to_owned(), label);
                scrape.values.entry(key).or_default().insert(value);
            }
        }
        scrape
    }

    fn has(&self, name: &str) -> bool {
        self.label_sets.contains_key(name)
    }
}

/// The label pairs of `a="x",b="y\"z"} 1`.
fn labels(mut text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    while let Some((name, rest)) = text.split_once("=\"") {
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("a closed label value") {
                (_, '\\') => value.push(chars.next().expect("an escaped character").1),
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        pairs.push((name.trim_start_matches(',').to_owned(), value));
        text = &rest[end + 1..];
        if text.starts_with('}') {
            break;
        }
    }
    pairs
}

/// Every `expr` of the dashboard, with Grafana's variables replaced so that PromQL parses.
fn dashboard_expressions() -> Option<Vec<String>> {
    let dir = shared_dir("peer-tests/dashboards")?;
    let text = std::fs::read_to_string(dir.join("node-exporter-full.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut found = Vec::new();
    collect_expressions(&json, &mut found);
    Some(
        found
            .into_iter()
            .map(|e| e.replace("$__rate_interval", "1m"))
            .collect(),
    )
}

fn collect_expressions(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => found.push(expr.clone()),
                    _ => collect_expressions(value, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_expressions(v, found)),
        _ => {}
    }
}

/// The metric names an expression selects.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let ast = promql_parser::parser::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let mut names = BTreeSet::new();
    walk(&ast, &mut names);
    names
}

fn walk(expr: &promql_parser::parser::Expr, names: &mut BTreeSet<String>) {
    use promql_parser::parser::Expr;
    match expr {
        Expr::VectorSelector(selector) => names.extend(selector.name.clone()),
        Expr::MatrixSelector(matrix) => names.extend(matrix.vs.name.clone()),
        Expr::Aggregate(aggregate) => {
            walk(&aggregate.expr, names);
            if let Some(param) = &aggregate.param {
                walk(param, names);
            }
        }
        Expr::Unary(unary) => walk(&unary.expr, names),
        Expr::Binary(binary) => {
            walk(&binary.lhs, names);
            walk(&binary.rhs, names);
        }
        Expr::Paren(paren) => walk(&paren.expr, names),
        Expr::Subquery(subquery) => walk(&subquery.expr, names),
        Expr::Call(call) => call.args.args.iter().for_each(|arg| walk(arg, names)),
        Expr::Extension(_) | Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
    }
}

/// Both scrapes of this host, taken one after the other.
fn scrape_both() -> Option<(Scrape, Scrape)> {
    peer_installed(NODE_EXPORTER)?;
    let node_exporter = start_node_exporter();
    let agent = start_agent(&[]);
    Some((
        Scrape::parse(&metrics(agent.port)),
        Scrape::parse(&metrics(node_exporter.port)),
    ))
}

#[test]
fn every_dashboard_expression_node_exporter_serves_the_agent_serves_too() {
    let Some(expressions) = dashboard_expressions() else {
        return;
    };
    let Some((osprey, node_exporter)) = scrape_both() else {
        return;
    };
    let covered = |scrape: &Scrape| {
        (expressions.iter())
            .filter(|e| metric_names(e).iter().all(|name| scrape.has(name)))
            .count()
    };
    let (ours, theirs) = (covered(&osprey), covered(&node_exporter));
    let lacking: BTreeSet<String> = (expressions.iter())
        .flat_map(|e| metric_names(e))
        .filter(|name| node_exporter.has(name) && !osprey.has(name))
        .collect();
    eprintln!(
        "Node Exporter Full: {ours} of {} expressions find all their metrics with osprey-agent, \
         {theirs} with node_exporter; names node_exporter has and the agent lacks: {lacking:?}",
        expressions.len()
    );
    assert!(ours >= theirs, "agent {ours} < node_exporter {theirs}");
    assert!(lacking.is_empty(), "the agent lacks {lacking:?}");
}

/// Labels whose values name the same things on both sides, per family: every value
/// node_exporter reports the agent reports too, except Docker's `veth*` and `br-*` network
/// devices, which the agent leaves out by default. The agent may report more (agent/README.md
/// says which and why): the loopback device in the netdev families, and the mounts of its own
/// mount namespace where node_exporter reads PID 1's.
const SAME_VALUES: &[(&str, &str)] = &[
    ("node_cpu_seconds_total", "cpu"),
    ("node_cpu_seconds_total", "mode"),
    ("node_disk_reads_completed_total", "device"),
    ("node_filesystem_size_bytes", "mountpoint"),
    ("node_network_receive_bytes_total", "device"),
    ("node_network_receive_nohandler_total", "device"),
    ("node_network_up", "device"),
    ("node_arp_entries", "device"),
    ("node_softnet_processed_total", "cpu"),
    ("node_udp_queues", "ip"),
    ("node_udp_queues", "queue"),
    ("node_systemd_units", "state"),
];

#[test]
fn shared_families_have_the_same_label_sets_and_node_exporters_values() {
    let Some((osprey, node_exporter)) = scrape_both() else {
        return;
    };
    let mut differences = Vec::new();
    for (family, theirs) in &node_exporter.label_sets {
        let Some(ours) = osprey.label_sets.get(family) else {
            continue;
        };
        if ours != theirs {
            differences.push(format!(
                "{family}: agent {ours:?}, node_exporter {theirs:?}"
            ));
        }
    }
    for &(family, label) in SAME_VALUES {
        let key = (family.to_owned(), label.to_owned());
        let Some(theirs) = node_exporter.values.get(&key) else {
            continue;
        };
        let theirs: BTreeSet<&String> = (theirs.iter())
            .filter(|v| !(label == "device" && (v.starts_with("veth") || v.starts_with("br-"))))
            .collect();
        let ours: BTreeSet<&String> = osprey.values.get(&key).into_iter().flatten().collect();
        if !theirs.is_subset(&ours) {
            differences.push(format!(
                "{family} {label}: agent {ours:?}, node_exporter {theirs:?}"
            ));
        }
        let extra: Vec<&&String> = ours.difference(&theirs).collect();
        if !extra.is_empty() {
            eprintln!("{family} {label}: the agent also reports {extra:?}");
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
