//! The shipped Grafana dashboards: what Grafana needs to load them (and the provisioning files
//! that load them), and every query of every panel and variable, with its variables substituted
//! as Grafana substitutes them, run against a collector scraping a real agent that watches real
//! Docker containers: each returns series, with the label sets Debian's Prometheus returns for
//! the same query over the same range while scraping the same targets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use osprey::agent::{Agent, start_agent};
use osprey::collector::Collector;
use osprey::docker::{Container, Docker, docker};
use osprey::grafana::{Dashboard, Query, Scope, Selection, TimeRange, Variable, interpolate};
use osprey::net::{free_port, get, post_form};
use osprey::peers::{PROMETHEUS, Peer, start_prometheus};
use osprey::process::wait_for;
use osprey::webhook::WebhookReceiver;
use serde_json::Value;

/// How often both servers scrape (and the data source's `timeInterval` Grafana would be given).
const SCRAPE_INTERVAL: u64 = 2;

/// The time range the dashboards are queried over, starting once every series exists.
const WINDOW: u64 = 20;

/// Where the provisioned dashboard provider reads the JSON files (dashboards/README.md says to
/// copy them there).
const PROVISIONED_PATH: &str = "/var/lib/grafana/dashboards/osprey";

/// The data source uid the provisioning file gives and the dashboards' `${datasource}` starts at.
const DATASOURCE_UID: &str = "osprey";

/// An alert that always fires, like the "Watchdog" of common rule sets: with it the firing-alert
/// panels and the notification panels show what they show when something is wrong.
const RULES: &str = "groups:\n  - name: watchdog\n    interval: 2s\n    rules:\n\
                     \x20     - alert: TargetUp\n        expr: up == 1\n        labels: {severity: none}\n";

fn dashboards_dir() -> PathBuf {
    osprey::workspace_root().join("dashboards")
}

/// Every shipped dashboard, in file name order.
fn dashboards() -> Vec<Dashboard> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .expect("read dashboards/")
        .map(|entry| entry.expect("list dashboards/").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.iter().map(|file| Dashboard::load(file)).collect()
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn dashboards_and_their_provisioning_have_what_grafana_needs_to_load_them() {
    let dashboards = dashboards();
    assert_eq!(dashboards.len(), 4, "fleet, host, containers, collector");
    let mut uids = BTreeSet::new();
    for dashboard in &dashboards {
        assert_eq!(
            dashboard.problems(),
            Vec::<String>::new(),
            "{}",
            dashboard.file
        );
        assert!(
            uids.insert(dashboard.uid()),
            "uid {} twice",
            dashboard.uid()
        );
    }
    for dashboard in &dashboards {
        for url in dashboard.link_urls() {
            let Some(path) = url.strip_prefix("/d/") else {
                continue;
            };
            let uid = path.split(['/', '?']).next().unwrap_or_default();
            assert!(
                uids.contains(uid),
                "{}: link to unknown {url}",
                dashboard.file
            );
        }
    }

    let provisioning = dashboards_dir().join("provisioning");
    let datasources = yaml(&provisioning.join("datasources/osprey.yml"));
    let [source] = datasources["datasources"].as_array().unwrap().as_slice() else {
        panic!("one data source: {datasources}");
    };
    assert_eq!(source["uid"], DATASOURCE_UID);
    assert_eq!(source["type"], "prometheus");
    assert_eq!(
        source["url"], "http://localhost:9718",
        "the collector's default port"
    );
    let providers = yaml(&provisioning.join("dashboards/osprey.yml"));
    let [provider] = providers["providers"].as_array().unwrap().as_slice() else {
        panic!("one provider: {providers}");
    };
    assert_eq!(provider["type"], "file");
    assert_eq!(provider["options"]["path"], PROVISIONED_PATH);
    let readme = std::fs::read_to_string(dashboards_dir().join("README.md")).unwrap();
    assert!(
        readme.contains(PROVISIONED_PATH),
        "the README says where to copy the dashboards"
    );
}

/// The Prometheus HTTP API of one of the two servers, queried as Grafana queries it.
struct Server {
    name: &'static str,
    port: u16,
}

/// The label sets of a query's series.
type LabelSets = BTreeSet<BTreeMap<String, String>>;

impl Server {
    /// The `data` of a successful answer to `POST path` with `form`, or what went wrong.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, String> {
        let answer = post_form(self.port, path, form, Duration::from_secs(30));
        self.data(answer)
    }

    fn data(&self, answer: Option<(u16, String)>) -> Result<Value, String> {
        let (status, body) = answer.ok_or_else(|| format!("{} did not answer", self.name))?;
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("{} answered {status} with no JSON ({e}): {body}", self.name))?;
        if json["status"] != "success" {
            return Err(format!("{} answered {status}: {body}", self.name));
        }
        Ok(json["data"].clone())
    }

    /// The label sets `expr` gives over `range` (at its end when `instant`), as Grafana's
    /// Prometheus data source sends it.
    fn label_sets(&self, expr: &str, instant: bool, range: TimeRange) -> Result<LabelSets, String> {
        let (start, end) = range.aligned();
        let data = if instant {
            self.post(
                "/api/v1/query",
                &[("query", expr), ("time", &end.to_string())],
            )?
        } else {
            let step = range.interval().to_string();
            let (start, end) = (start.to_string(), end.to_string());
            let form = [
                ("query", expr),
                ("start", &start),
                ("end", &end),
                ("step", &step),
            ];
            self.post("/api/v1/query_range", &form)?
        };
        let series = data["result"].as_array().cloned().unwrap_or_default();
        Ok(series
            .iter()
            .map(|s| serde_json::from_value(s["metric"].clone()).unwrap_or_default())
            .collect())
    }

    /// The values of `label` on the series of `selector` within `range`, as Grafana asks for a
    /// `label_values(selector, label)` variable.
    fn label_values(
        &self,
        selector: Option<&str>,
        label: &str,
        range: TimeRange,
    ) -> Result<Vec<String>, String> {
        let (start, end) = (range.start.to_string(), range.end.to_string());
        let mut parameters = vec![("start", start.as_str()), ("end", end.as_str())];
        parameters.extend(selector.map(|s| ("match[]", s)));
        let query = serde_urlencoded::to_string(&parameters).expect("encode the parameters");
        let data = self.data(get(
            self.port,
            &format!("/api/v1/label/{label}/values?{query}"),
        ))?;
        serde_json::from_value(data).map_err(|e| format!("{}: label values: {e}", self.name))
    }
}

/// Everything the dashboards watch, running: Docker containers, an agent watching them, a
/// collector scraping the agent and itself and sending its alerts to a webhook, and Prometheus
/// scraping the same two targets under the same job names.
struct Monitored {
    _containers: Vec<Container>,
    _agent: Agent,
    _webhook: WebhookReceiver,
    collector: Collector,
    prometheus: Peer,
    _dir: tempfile::TempDir,
}

impl Monitored {
    fn start(docker: &Docker) -> Monitored {
        let dir = tempfile::tempdir().unwrap();
        let containers = start_containers(docker);
        let agent = start_watching_agent(docker, &containers, dir.path());
        let webhook = WebhookReceiver::start(free_port());
        let collector_port = free_port();
        let scrape_configs = scrape_configs(agent.port, collector_port);
        let rules = dir.path().join("rules.yml");
        std::fs::write(&rules, RULES).unwrap();
        let collector_dir = dir.path().join("collector");
        std::fs::create_dir(&collector_dir).unwrap();
        let alerting = format!(
            "rule_files: ['{}']\nalertmanager:\n  route:\n    receiver: ops\n    group_wait: 0s\n\
             \x20 receivers:\n  - name: ops\n    webhook_configs:\n      - url: http://127.0.0.1:{}/\n",
            rules.display(),
            webhook.port
        );
        let global = format!(
            "global:\n  scrape_interval: {SCRAPE_INTERVAL}s\n  evaluation_interval: {SCRAPE_INTERVAL}s\n"
        );
        std::fs::write(
            collector_dir.join("osprey.yml"),
            format!("{global}{alerting}scrape_configs:\n{scrape_configs}"),
        )
        .unwrap();
        let collector = Collector::start(&collector_dir, collector_port);
        let prometheus_dir = dir.path().join("prometheus");
        std::fs::create_dir(&prometheus_dir).unwrap();
        // The scrape configurations are the file's last key, so the rule file can follow them.
        let prometheus = start_prometheus(
            &prometheus_dir,
            &format!("{scrape_configs}rule_files: ['{}']\n", rules.display()),
        );
        Monitored {
            _containers: containers,
            _agent: agent,
            _webhook: webhook,
            collector,
            prometheus,
            _dir: dir,
        }
    }

    fn servers(&self) -> [Server; 2] {
        [
            Server {
                name: "Osprey",
                port: self.collector.port,
            },
            Server {
                name: "Prometheus",
                port: self.prometheus.port,
            },
        ]
    }

    /// Waits until both servers have every kind of series the dashboards show: containers
    /// healthy, block I/O counted, alerts firing, a notification delivered, rules evaluated.
    fn wait_until_settled(&self) {
        let settled = [
            r#"osprey_container_health_status{status="healthy"} == 1"#,
            r#"ALERTS{alertstate="firing"}"#,
            r#"osprey_notifications_total{result="success"}"#,
            "osprey_rule_group_last_duration_seconds",
            "container_fs_writes_bytes_total",
        ];
        let servers = self.servers();
        wait_for(
            "every kind of series on both servers",
            Duration::from_secs(90),
            || {
                let range = at(now());
                settled
                    .iter()
                    .all(|q| {
                        servers
                            .iter()
                            .all(|s| s.label_sets(q, true, range).is_ok_and(|l| !l.is_empty()))
                    })
                    .then_some(())
            },
        );
    }
}

/// The two jobs both servers scrape, as YAML list items: `node` (the agent) and `osprey` (the
/// collector's own `/metrics`).
fn scrape_configs(agent_port: u16, collector_port: u16) -> String {
    [("node", agent_port), ("osprey", collector_port)]
        .map(|(job, port)| {
            format!(
                "  - job_name: {job}\n    scrape_interval: {SCRAPE_INTERVAL}s\n    static_configs:\n\
                 \x20     - targets: ['127.0.0.1:{port}']\n"
            )
        })
        .concat()
}

/// The containers the dashboards show: one with a memory limit, a CPU quota, a block I/O rule
/// and a health check, so that the limit, throttling, block I/O and health panels have data, and
/// one with none of these.
fn start_containers(docker: &Docker) -> Vec<Container> {
    // On cgroup v1 with recent kernels, block I/O is counted only on devices with a throttle
    // rule; one far above any real rate is added on each disk.
    let disks: Vec<String> = std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|disk| disk.path().join("device").exists())
        .map(|disk| format!("/dev/{}:1gb", disk.file_name().to_string_lossy()))
        .collect();
    let mut options = vec![
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
    ];
    for disk in &disks {
        options.extend(["--device-write-bps", disk, "--device-read-bps", disk]);
    }
    vec![
        docker.start("dash-app", &options, &["sleep", "600"]),
        docker.start("dash-idle", &[], &["sleep", "600"]),
    ]
}

/// An agent watching only `containers`, so containers that come and go on the machine do not
/// change the answers between the two servers' scrapes.
fn start_watching_agent(docker: &Docker, containers: &[Container], dir: &Path) -> Agent {
    let names: Vec<String> = containers.iter().map(|c| format!("'{}'", c.name)).collect();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[containers]\ndocker_socket = '{}'\ninclude = [{}]\n",
            docker.socket().display(),
            names.join(", ")
        ),
    )
    .unwrap();
    start_agent(&["--config", &config.display().to_string()])
}

/// The zero-length range at `time`, for instant queries.
fn at(time: u64) -> TimeRange {
    TimeRange {
        start: time,
        end: time,
        scrape_interval: SCRAPE_INTERVAL,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// A variable's options and the selection made among them.
struct Resolved {
    variable: Variable,
    options: Vec<String>,
}

/// Resolves the dashboard's variables in order, as Grafana does when it opens it: each query
/// with the earlier variables substituted, its values from both servers (which must agree and
/// not be empty), the selection made by `picking`.
fn resolve(
    dashboard: &Dashboard,
    servers: &[Server],
    range: TimeRange,
    picking: Picking,
) -> Result<(Scope, Vec<Resolved>), String> {
    let mut scope = range.builtins();
    scope.insert("datasource".to_owned(), DATASOURCE_UID.to_owned());
    let mut resolved = Vec::new();
    for variable in dashboard.variables() {
        let query = interpolate(&variable.query, &scope)?;
        let (selector, label) = osprey::grafana::label_values(&query)
            .ok_or_else(|| format!("${}: {query} is not label_values(...)", variable.name))?;
        let answers: Vec<Vec<String>> = servers
            .iter()
            .map(|s| s.label_values(selector, label, range))
            .collect::<Result<_, _>>()?;
        if answers[0].is_empty() || answers.iter().any(|a| a != &answers[0]) {
            return Err(format!("${}: {query} gives {answers:?}", variable.name));
        }
        let entry = Resolved {
            variable,
            options: answers[0].clone(),
        };
        let text = entry
            .variable
            .substitute(&picking.pick(&entry), &entry.options);
        scope.insert(entry.variable.name.clone(), text);
        resolved.push(entry);
    }
    Ok((scope, resolved))
}

/// Runs `query` with `scope` on both servers; what is wrong, if anything: an error, no series on
/// Osprey, label sets that differ from Prometheus's, a legend naming a label the series lack.
fn check(query: &Query, scope: &Scope, servers: &[Server], range: TimeRange) -> Result<(), String> {
    let expr = interpolate(&query.expr, scope)?;
    let answers: Vec<LabelSets> = servers
        .iter()
        .map(|s| s.label_sets(&expr, query.instant, range))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{expr}: {e}"))?;
    let [osprey, prometheus] = answers.as_slice() else {
        unreachable!("two servers")
    };
    if osprey.is_empty() {
        return Err(format!("{expr}: no series"));
    }
    if osprey != prometheus {
        return Err(format!(
            "{expr}: label sets differ\n  Osprey:     {osprey:?}\n  Prometheus: {prometheus:?}"
        ));
    }
    for label in &query.legend_labels {
        if let Some(series) = osprey.iter().find(|s| !s.contains_key(label)) {
            return Err(format!(
                "{expr}: legend names {{{{{label}}}}}, absent from {series:?}"
            ));
        }
    }
    Ok(())
}

/// How the test picks values in the variables' drop-downs.
#[derive(Debug, Clone, Copy)]
enum Picking {
    /// As Grafana selects them when the dashboard opens.
    AsOpened,
    /// Every option of each multi-value variable picked one by one (Grafana's `(a|b)` form).
    EveryValue,
}

impl Picking {
    fn pick(self, resolved: &Resolved) -> Selection {
        let Resolved { variable, options } = resolved;
        match self {
            Picking::EveryValue if variable.multi && options.len() > 1 => {
                Selection::Values(options.clone())
            }
            _ => variable.initial_selection(options),
        }
    }
}

#[test]
fn every_dashboard_query_returns_the_series_prometheus_returns() {
    let Some(docker) = docker() else {
        return;
    };
    if osprey::peer_installed(PROMETHEUS).is_none() {
        return;
    }
    let monitored = Monitored::start(docker);
    monitored.wait_until_settled();
    let start = now() + 1;
    let range = TimeRange {
        start,
        end: start + WINDOW,
        scrape_interval: SCRAPE_INTERVAL,
    };
    // Both servers scrape past the end before it is queried.
    std::thread::sleep(Duration::from_secs(WINDOW + 1 + 2 * SCRAPE_INTERVAL));
    let servers = monitored.servers();
    let mut failures = Vec::new();
    for dashboard in dashboards() {
        let mut scopes: Vec<Scope> = Vec::new();
        for picking in [Picking::AsOpened, Picking::EveryValue] {
            match resolve(&dashboard, &servers, range, picking) {
                Ok((scope, _)) if scopes.contains(&scope) => {}
                Ok((scope, resolved)) => {
                    let picked: Vec<String> = resolved
                        .iter()
                        .map(|r| format!("{}={}", r.variable.name, scope[&r.variable.name]))
                        .collect();
                    eprintln!("{}, {picking:?}: {}", dashboard.file, picked.join(" "));
                    scopes.push(scope);
                }
                Err(e) => failures.push(format!("{} ({picking:?}): {e}", dashboard.file)),
            }
        }
        let queries = dashboard.queries();
        for scope in &scopes {
            for query in &queries {
                if let Err(e) = check(query, scope, &servers, range) {
                    failures.push(format!("{} {}: {e}", dashboard.file, query.place));
                }
            }
        }
        eprintln!(
            "{}: {} expressions checked with {} variable selections",
            dashboard.file,
            queries.len(),
            scopes.len()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
