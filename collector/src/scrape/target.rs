//! Targets: a discovered address and labels turned, through `relabel_configs`, into the URL to
//! scrape and the labels every series from it carries.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{Config, ScrapeConfig, StaticConfig};
use crate::labels::Labels;

use super::relabel::{LabelMap, Relabel, relabel};

/// A target ready to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The job it belongs to.
    pub job: String,
    /// The URL scraped.
    pub url: String,
    /// Labels added to every series (job, instance and the group's labels), no `__` labels.
    pub labels: Labels,
    /// Labels before relabelling, as `/api/v1/targets` shows them.
    pub discovered: LabelMap,
    /// How often it is scraped.
    pub interval: Duration,
    /// How long one scrape may take.
    pub timeout: Duration,
}

/// The targets of `job` from its target groups (static and file-discovered); targets dropped
/// by relabelling are left out.
pub fn targets_of(
    config: &Config,
    job: &ScrapeConfig,
    steps: &[Relabel],
    groups: &[StaticConfig],
) -> Vec<Target> {
    let interval = config.interval_of(job);
    let timeout = config.timeout_of(job);
    let mut targets = Vec::new();
    for group in groups {
        for address in &group.targets {
            let mut discovered: LabelMap = group.labels.clone();
            discovered.insert("__address__".into(), address.clone());
            discovered.insert("__scheme__".into(), job.scheme.as_str().into());
            discovered.insert("__metrics_path__".into(), job.metrics_path.clone());
            discovered.insert("__scrape_interval__".into(), interval.to_string());
            discovered.insert("__scrape_timeout__".into(), timeout.to_string());
            discovered.insert("job".into(), job.job_name.value.clone());
            for (name, values) in &job.params {
                if let Some(first) = values.first() {
                    discovered.insert(format!("__param_{name}"), first.clone());
                }
            }
            let Some(target) = build(job, discovered, steps, interval.0, timeout.0) else {
                continue;
            };
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    targets
}

fn build(
    job: &ScrapeConfig,
    discovered: LabelMap,
    steps: &[Relabel],
    interval: Duration,
    timeout: Duration,
) -> Option<Target> {
    let mut labels = relabel(steps, discovered.clone())?;
    let address = labels.get("__address__")?.clone();
    labels
        .entry("instance".into())
        .or_insert_with(|| address.clone());
    let scheme = labels.get("__scheme__").cloned().unwrap_or_default();
    let path = labels.get("__metrics_path__").cloned().unwrap_or_default();
    let url = format!("{scheme}://{address}{path}{}", query(job, &labels));
    let kept = labels
        .into_iter()
        .filter(|(name, _)| !name.starts_with("__"));
    Some(Target {
        job: job.job_name.value.clone(),
        url,
        labels: Labels::from_pairs(kept),
        discovered,
        interval,
        timeout,
    })
}

/// The query string: the job's params, with a `__param_<name>` label overriding the first
/// value of `<name>`.
fn query(job: &ScrapeConfig, labels: &LabelMap) -> String {
    let mut params: BTreeMap<&str, Vec<&str>> = job
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    for (name, value) in labels {
        if let Some(param) = name.strip_prefix("__param_") {
            let values = params.entry(param).or_default();
            match values.first_mut() {
                Some(first) => *first = value,
                None => values.push(value),
            }
        }
    }
    let pairs: Vec<String> = params
        .iter()
        .flat_map(|(k, vs)| {
            vs.iter()
                .map(move |v| format!("{}={}", encode(k), encode(v)))
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn targets_get_job_instance_url_and_relabelled_labels() {
        let text = r#"
scrape_configs:
  - job_name: node
    scrape_interval: 5s
    params:
      collect[]: [cpu]
    static_configs:
      - targets: ["a:9100", "b:9100"]
        labels: {env: prod}
    relabel_configs:
      - source_labels: [__address__]
        regex: "b:.*"
        action: drop
      - source_labels: [__address__]
        regex: "([^:]+):.*"
        target_label: host
"#;
        let config = Config::parse(text, Path::new("t.yml")).unwrap();
        let job = &config.scrape_configs[0];
        let steps = Relabel::compile_all(&job.relabel_configs).unwrap();
        let targets = targets_of(&config, job, &steps, &job.static_configs);
        assert_eq!(targets.len(), 1);
        let t = &targets[0];
        assert_eq!(t.url, "http://a:9100/metrics?collect%5B%5D=cpu");
        assert_eq!(
            t.labels,
            Labels::from_pairs([
                ("env", "prod"),
                ("host", "a"),
                ("instance", "a:9100"),
                ("job", "node")
            ])
        );
        assert_eq!(t.discovered["__address__"], "a:9100");
        assert_eq!(t.discovered["__scrape_interval__"], "5s");
        assert_eq!(t.interval, Duration::from_secs(5));
    }
}
