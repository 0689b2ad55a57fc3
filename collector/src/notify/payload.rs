//! What a notification says: Alertmanager's template data, its webhook version-4 JSON and its
//! default email subject, plus Osprey's text and HTML email bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::labels::Labels;
use crate::vocab::rfc3339;

/// An alert as the notifier holds it (times in Unix ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmAlert {
    /// Labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started firing.
    pub starts_at: i64,
    /// When it resolved, or until when it is valid.
    pub ends_at: i64,
    /// Link to the expression.
    pub generator_url: String,
}

impl AmAlert {
    /// Whether the alert has ended by `now`.
    pub fn resolved_at(&self, now: i64) -> bool {
        self.ends_at != 0 && self.ends_at <= now
    }

    /// Alertmanager's fingerprint of the labels.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }
}

/// Alertmanager's label-set fingerprint: FNV-1a 64 over the sorted names and values, each
/// followed by the byte 0xff.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let mut hash = OFFSET;
    let mut add = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[0xff]);
        add(value.as_bytes());
        add(&[0xff]);
    }
    hash
}

/// Converts the rules' label type.
pub fn label_map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.to_owned(), l.value.to_owned()))
        .collect()
}

/// Alertmanager's sort order for alerts in a notification: by `job`, then `instance`, then
/// the whole label set.
pub fn sort_alerts(alerts: &mut [AmAlert]) {
    alerts.sort_by(|a, b| {
        for key in ["job", "instance"] {
            match (a.labels.get(key), b.labels.get(key)) {
                (None, None) => continue,
                (None, Some(_)) => return std::cmp::Ordering::Greater,
                (Some(_), None) => return std::cmp::Ordering::Less,
                (Some(x), Some(y)) if x != y => return x.cmp(y),
                _ => {}
            }
        }
        a.labels.cmp(&b.labels)
    });
}

/// Alertmanager's webhook message, version 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    /// Always `"4"`.
    pub version: String,
    /// The group's key.
    pub group_key: String,
    /// Alerts left out because of `max_alerts`.
    pub truncated_alerts: usize,
    /// `firing` if any alert fires, else `resolved`.
    pub status: String,
    /// Receiver name.
    pub receiver: String,
    /// The labels the group is formed by.
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert shares.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert shares.
    pub common_annotations: BTreeMap<String, String>,
    /// The collector's URL.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<WebhookAlert>,
}

/// One alert in a webhook message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 start.
    pub starts_at: String,
    /// RFC 3339 end; Go's zero time while firing.
    pub ends_at: String,
    /// Link to the expression.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// 16 hex digits.
    pub fingerprint: String,
}

/// Everything a notification about one group says, independent of how it is delivered.
#[derive(Debug, Clone)]
pub struct GroupNotice<'a> {
    /// Receiver name.
    pub receiver: &'a str,
    /// Group key.
    pub group_key: &'a str,
    /// Group labels.
    pub group_labels: &'a BTreeMap<String, String>,
    /// Alerts, sorted.
    pub alerts: &'a [AmAlert],
    /// The collector's URL.
    pub external_url: &'a str,
    /// Current time (Unix ms), deciding which alerts are resolved.
    pub now: i64,
}

impl GroupNotice<'_> {
    fn firing_count(&self) -> usize {
        self.alerts
            .iter()
            .filter(|a| !a.resolved_at(self.now))
            .count()
    }

    fn status(&self) -> &'static str {
        if self.firing_count() > 0 {
            "firing"
        } else {
            "resolved"
        }
    }

    fn common(
        &self,
        pick: impl Fn(&AmAlert) -> &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let Some((first, rest)) = self.alerts.split_first() else {
            return BTreeMap::new();
        };
        pick(first)
            .iter()
            .filter(|(k, v)| rest.iter().all(|a| pick(a).get(*k) == Some(*v)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The webhook body, keeping at most `max_alerts` alerts (0: all).
    pub fn webhook(&self, max_alerts: usize) -> WebhookMessage {
        let keep = if max_alerts == 0 {
            self.alerts.len()
        } else {
            max_alerts.min(self.alerts.len())
        };
        let alerts = self.alerts[..keep]
            .iter()
            .map(|a| {
                let resolved = a.resolved_at(self.now);
                WebhookAlert {
                    status: if resolved { "resolved" } else { "firing" }.to_owned(),
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: rfc3339(a.starts_at),
                    ends_at: if resolved {
                        rfc3339(a.ends_at)
                    } else {
                        rfc3339(0)
                    },
                    generator_url: a.generator_url.clone(),
                    fingerprint: format!("{:016x}", a.fingerprint()),
                }
            })
            .collect();
        WebhookMessage {
            version: "4".to_owned(),
            group_key: self.group_key.to_owned(),
            truncated_alerts: self.alerts.len() - keep,
            status: self.status().to_owned(),
            receiver: self.receiver.to_owned(),
            group_labels: self.group_labels.clone(),
            common_labels: self.common(|a| &a.labels),
            common_annotations: self.common(|a| &a.annotations),
            external_url: self.external_url.to_owned(),
            alerts,
        }
    }

    /// Alertmanager's default email subject: `[FIRING:2] HighCpu web (warning)`.
    pub fn subject(&self) -> String {
        let status = match self.status() {
            "firing" => format!("FIRING:{}", self.firing_count()),
            _ => "RESOLVED".to_owned(),
        };
        let group_values: Vec<&str> = self.group_labels.values().map(String::as_str).collect();
        let common = self.common(|a| &a.labels);
        let mut subject = format!("[{status}] {} ", group_values.join(" "));
        if common.len() > self.group_labels.len() {
            let extra: Vec<&str> = common
                .iter()
                .filter(|(k, _)| !self.group_labels.contains_key(*k))
                .map(|(_, v)| v.as_str())
                .collect();
            subject.push_str(&format!("({})", extra.join(" ")));
        }
        subject
    }

    /// The plain-text body: each alert's labels, annotations, start time and link.
    pub fn text_body(&self) -> String {
        let mut out = String::new();
        for (title, resolved) in [("Firing", false), ("Resolved", true)] {
            let alerts: Vec<&AmAlert> = self
                .alerts
                .iter()
                .filter(|a| a.resolved_at(self.now) == resolved)
                .collect();
            if alerts.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "{} alert(s) {}\n\n",
                alerts.len(),
                title.to_lowercase()
            ));
            for alert in alerts {
                out.push_str("Labels:\n");
                for (k, v) in &alert.labels {
                    out.push_str(&format!("  {k} = {v}\n"));
                }
                out.push_str("Annotations:\n");
                for (k, v) in &alert.annotations {
                    out.push_str(&format!("  {k} = {v}\n"));
                }
                out.push_str(&format!("Started: {}\n", rfc3339(alert.starts_at)));
                if resolved {
                    out.push_str(&format!("Ended: {}\n", rfc3339(alert.ends_at)));
                }
                out.push_str(&format!("Source: {}\n\n", alert.generator_url));
            }
        }
        out.push_str(&format!("Sent by Osprey: {}\n", self.external_url));
        out
    }

    /// The HTML body: the same content as the text body, as tables.
    pub fn html_body(&self) -> String {
        let mut out = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body>",
            escape(&self.subject())
        );
        for alert in self.alerts {
            let resolved = alert.resolved_at(self.now);
            let color = if resolved { "#2e7d32" } else { "#c62828" };
            out.push_str(&format!(
                "<h3 style=\"color:{color}\">{} {}</h3><table>",
                if resolved { "Resolved" } else { "Firing" },
                escape(alert.labels.get("alertname").map_or("", String::as_str))
            ));
            for (k, v) in alert.labels.iter().chain(&alert.annotations) {
                out.push_str(&format!(
                    "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                    escape(k),
                    escape(v)
                ));
            }
            out.push_str(&format!(
                "<tr><th align=\"left\">Started</th><td>{}</td></tr></table><p><a href=\"{}\">Source</a></p>",
                rfc3339(alert.starts_at),
                escape(&alert.generator_url)
            ));
        }
        out.push_str(&format!(
            "<p>Sent by <a href=\"{0}\">Osprey</a></p></body></html>",
            escape(self.external_url)
        ));
        out
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests;
