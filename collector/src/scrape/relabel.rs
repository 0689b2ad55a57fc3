//! Relabelling: the rewrite steps of `relabel_configs` and `metric_relabel_configs`, applied to
//! a label set in order, as Prometheus applies them.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use regex::Regex;

use crate::config::{RelabelAction, RelabelConfig};
use crate::vocab::is_label_name;

/// Labels being rewritten: name to value, an empty value meaning absent.
pub type LabelMap = BTreeMap<String, String>;

/// One compiled relabelling step.
#[derive(Debug, Clone)]
pub struct Relabel {
    source_labels: Vec<String>,
    separator: String,
    target_label: String,
    regex: Regex,
    modulus: u64,
    replacement: String,
    action: RelabelAction,
}

impl Relabel {
    /// Compiles a validated step; the regex is anchored at both ends.
    pub fn new(config: &RelabelConfig) -> Result<Self, regex::Error> {
        Ok(Relabel {
            source_labels: config.source_labels.clone(),
            separator: config.separator.clone(),
            target_label: config.target_label.clone().unwrap_or_default(),
            regex: Regex::new(&format!("^(?s:{})$", config.regex.value))?,
            modulus: config.modulus.unwrap_or(0),
            replacement: config.replacement.clone(),
            action: config.action,
        })
    }

    /// Compiles every step of a list.
    pub fn compile_all(configs: &[RelabelConfig]) -> Result<Vec<Relabel>, regex::Error> {
        configs.iter().map(Relabel::new).collect()
    }

    /// Applies this step; `false` when the series or target is to be dropped.
    fn apply(&self, labels: &mut LabelMap) -> bool {
        let joined = || {
            self.source_labels
                .iter()
                .map(|n| labels.get(n).map(String::as_str).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(&self.separator)
        };
        match self.action {
            RelabelAction::Keep => self.regex.is_match(&joined()),
            RelabelAction::Drop => !self.regex.is_match(&joined()),
            RelabelAction::Replace => {
                let value = joined();
                if let Some(captures) = self.regex.captures(&value) {
                    let mut target = String::new();
                    captures.expand(&self.target_label, &mut target);
                    let mut result = String::new();
                    captures.expand(&self.replacement, &mut result);
                    if is_label_name(&target) {
                        set(labels, target, result);
                    }
                }
                true
            }
            RelabelAction::Hashmod => {
                let digest = Md5::digest(joined().as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&digest[8..16]);
                let bucket = u64::from_be_bytes(tail) % self.modulus.max(1);
                set(labels, self.target_label.clone(), bucket.to_string());
                true
            }
            RelabelAction::Labelmap => {
                let renamed: Vec<(String, String)> = labels
                    .iter()
                    .filter_map(|(name, value)| {
                        let captures = self.regex.captures(name)?;
                        let mut new_name = String::new();
                        captures.expand(&self.replacement, &mut new_name);
                        Some((new_name, value.clone()))
                    })
                    .collect();
                for (name, value) in renamed {
                    set(labels, name, value);
                }
                true
            }
            RelabelAction::Labeldrop => {
                labels.retain(|name, _| !self.regex.is_match(name));
                true
            }
            RelabelAction::Labelkeep => {
                labels.retain(|name, _| self.regex.is_match(name));
                true
            }
        }
    }
}

fn set(labels: &mut LabelMap, name: String, value: String) {
    if value.is_empty() {
        labels.remove(&name);
    } else {
        labels.insert(name, value);
    }
}

/// Applies `steps` in order; `None` when one of them drops the label set.
pub fn relabel(steps: &[Relabel], mut labels: LabelMap) -> Option<LabelMap> {
    for step in steps {
        if !step.apply(&mut labels) {
            return None;
        }
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn steps(yaml: &str) -> Vec<Relabel> {
        let text = format!("scrape_configs:\n  - job_name: j\n    relabel_configs:\n{yaml}");
        let config = Config::parse(&text, Path::new("t.yml")).unwrap();
        Relabel::compile_all(&config.scrape_configs[0].relabel_configs).unwrap()
    }

    fn map(pairs: &[(&str, &str)]) -> LabelMap {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn replace_expands_groups_and_an_empty_result_removes_the_label() {
        let s = steps(
            "      - source_labels: [a, b]\n        regex: '(.*);(.*)'\n        target_label: c\n        replacement: '${2}-$1'\n      - source_labels: [missing]\n        target_label: a\n",
        );
        let out = relabel(&s, map(&[("a", "x"), ("b", "y")])).unwrap();
        assert_eq!(out, map(&[("b", "y"), ("c", "y-x")]));
    }

    #[test]
    fn keep_and_drop_use_anchored_regexes() {
        let keep =
            steps("      - action: keep\n        source_labels: [job]\n        regex: node\n");
        assert!(relabel(&keep, map(&[("job", "node")])).is_some());
        assert!(relabel(&keep, map(&[("job", "node-exporter")])).is_none());
        let drop = steps(
            "      - action: drop\n        source_labels: [__name__]\n        regex: go_.*\n",
        );
        assert!(relabel(&drop, map(&[("__name__", "go_gc")])).is_none());
        assert!(relabel(&drop, map(&[("__name__", "up")])).is_some());
    }

    #[test]
    fn labelmap_labeldrop_and_labelkeep_work_on_names() {
        let s = steps(
            "      - action: labelmap\n        regex: __meta_(.+)\n      - action: labeldrop\n        regex: __meta_.*\n",
        );
        let out = relabel(&s, map(&[("__meta_zone", "eu"), ("job", "n")])).unwrap();
        assert_eq!(out, map(&[("job", "n"), ("zone", "eu")]));
        let keep = steps("      - action: labelkeep\n        regex: job|instance\n");
        let out = relabel(&keep, map(&[("job", "n"), ("pid", "1")])).unwrap();
        assert_eq!(out, map(&[("job", "n")]));
    }

    #[test]
    fn hashmod_matches_prometheus_shard_assignment() {
        let s = steps(
            "      - action: hashmod\n        source_labels: [__address__]\n        modulus: 1000\n        target_label: shard\n",
        );
        // Prometheus's relabel_test.go: "baz" hashmod 1000 gives 976 (md5, low 8 bytes).
        let out = relabel(&s, map(&[("__address__", "baz")])).unwrap();
        assert_eq!(out["shard"], "976");
    }
}
