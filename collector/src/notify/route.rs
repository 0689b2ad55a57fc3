//! The resolved routing tree and how an alert finds its routes.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::labels::{Labels, Matcher};

/// How a route groups alerts.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupBy {
    /// `...`: every label set is its own group.
    All,
    /// These labels (empty: one group for everything).
    Labels(Vec<String>),
}

/// One node of the routing tree with every inherited setting resolved.
#[derive(Debug, Clone)]
pub struct Route {
    /// Receiver name.
    pub receiver: String,
    /// Grouping.
    pub group_by: GroupBy,
    /// All must match.
    pub matchers: Vec<Matcher>,
    /// Go on to siblings after matching.
    pub continue_matching: bool,
    /// Wait before a new group's first notification.
    pub group_wait: Duration,
    /// Wait between notifications about a changed group.
    pub group_interval: Duration,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Duration,
    /// Children.
    pub routes: Vec<Route>,
    /// Position in the tree (`{}/0/1`), part of group keys.
    pub path: String,
}

impl Route {
    /// The routes an alert goes to: the deepest matching ones, as Alertmanager's `Match`.
    pub fn matching<'a>(&'a self, labels: &Labels) -> Vec<&'a Route> {
        if !self.matchers.iter().all(|m| m.matches_labels(labels)) {
            return Vec::new();
        }
        let mut found = Vec::new();
        for child in &self.routes {
            let matched = child.matching(labels);
            if !matched.is_empty() {
                found.extend(matched);
                if !child.continue_matching {
                    break;
                }
            }
        }
        if found.is_empty() {
            found.push(self);
        }
        found
    }

    /// The labels an alert is grouped by on this route.
    pub fn group_labels(&self, labels: &Labels) -> BTreeMap<String, String> {
        labels
            .iter()
            .filter(|l| match &self.group_by {
                GroupBy::All => true,
                GroupBy::Labels(names) => names.iter().any(|n| n == l.name),
            })
            .map(|l| (l.name.to_owned(), l.value.to_owned()))
            .collect()
    }

    /// Alertmanager's group key: `{route path matchers}:{group labels}`.
    pub fn group_key(&self, group_labels: &BTreeMap<String, String>) -> String {
        let labels: Vec<String> = group_labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}:{{{}}}", self.path, labels.join(", "))
    }
}
