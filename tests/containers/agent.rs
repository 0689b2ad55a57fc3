//! The real `osprey-agent` binary as a child process, and its `/metrics` parsed into samples.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A running agent, killed on drop, scraped into [`Samples`].
pub struct Agent(osprey::agent::Agent);

impl Agent {
    /// Starts the agent on a free loopback port with `args`, and waits until it is ready.
    pub fn start(args: &[&str]) -> Agent {
        Agent::start_via(&[], args)
    }

    /// Like [`Agent::start`], with the agent run by a wrapper command (`setpriv ...`).
    pub fn start_via(wrapper: &[&str], args: &[&str]) -> Agent {
        Agent(osprey::agent::start_agent_via(wrapper, args))
    }

    /// Everything the agent logged so far.
    pub fn log(&self) -> String {
        self.0.log()
    }

    /// The lines of its log that contain `text`.
    pub fn log_lines_with(&self, text: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains(text))
            .map(str::to_owned)
            .collect()
    }

    /// One scrape of `/metrics`.
    pub fn scrape(&self) -> Samples {
        Samples::parse(&osprey::net::metrics(self.0.port))
    }

    /// Scrapes until `done` holds (then returns that scrape) or `timeout` passes (then panics
    /// saying what was awaited, with the agent's log).
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Samples) -> bool,
    ) -> Samples {
        let deadline = Instant::now() + timeout;
        loop {
            let samples = self.scrape();
            if done(&samples) {
                return samples;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; agent log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// One sample of an exposition.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of one scrape.
#[derive(Debug)]
pub struct Samples(pub Vec<Sample>);

impl Samples {
    /// Parses the Prometheus text format (comments skipped; label values unescaped).
    pub fn parse(text: &str) -> Samples {
        let samples = text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| parse_line(line).unwrap_or_else(|| panic!("bad exposition line {line:?}")))
            .collect();
        Samples(samples)
    }

    /// The samples named `name` carrying every label pair in `labels`.
    pub fn matching(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.0
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample named `name` with `labels`; `None` when there is none,
    /// a panic when several match.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.matching(name, labels);
        assert!(
            found.len() <= 1,
            "several samples match {name} {labels:?}: {found:?}"
        );
        found.first().map(|s| s.value)
    }

    /// The sum over the samples named `name` with `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).iter().map(|s| s.value).sum()
    }

    /// Whether any sample carries `name="<container>"`.
    pub fn mentions_container(&self, container: &str) -> bool {
        self.0
            .iter()
            .any(|s| s.labels.get("name").map(String::as_str) == Some(container))
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let (name, rest) = match line.find('{') {
        Some(open) => (&line[..open], &line[open + 1..]),
        None => {
            let (name, value) = line.split_once(' ')?;
            return Some(Sample {
                name: name.to_owned(),
                labels: BTreeMap::new(),
                value: parse_value(value)?,
            });
        }
    };
    let mut labels = BTreeMap::new();
    let mut chars = rest.char_indices().peekable();
    loop {
        let start = chars.peek()?.0;
        if rest[start..].starts_with('}') {
            let value = rest[start + 1..].trim();
            return Some(Sample {
                name: name.to_owned(),
                labels,
                value: parse_value(value)?,
            });
        }
        let eq = start + rest[start..].find("=\"")?;
        let key = rest[start..eq].to_owned();
        while chars.peek()?.0 < eq + 2 {
            chars.next();
        }
        let mut value = String::new();
        loop {
            let (_, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        if chars.peek()?.1 == ',' {
            chars.next();
        }
        labels.insert(key, value);
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        text => text.parse().ok(),
    }
}
