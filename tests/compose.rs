//! End-to-end test of the Compose deployment in `packaging/docker/`: images built by its script
//! from the binaries under test, `docker-compose up` on the real Docker engine, and `down`
//! leaving nothing of the project behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use osprey::net::{free_port, get, instant_query};

/// How long the whole stack may take from `up` to answering with metrics.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// How long one docker-compose or build call may take before it is killed (through
/// timeout(1)), so a hung Docker fails the test instead of blocking the run.
const CALL_TIMEOUT_SECS: &str = "120";

/// Runs `program args` under timeout(1) and returns its output, or panics when it cannot run.
fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("timeout")
        .arg(CALL_TIMEOUT_SECS)
        .arg(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

/// Panics with `what` and the output of `output` unless it succeeded; its standard output.
fn succeeded(what: &str, output: Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `docker ARGS`, which must succeed; its standard output.
fn docker(args: &[&str]) -> String {
    succeeded(
        &format!("docker {}", args.join(" ")),
        run(Path::new("docker"), args, &[]),
    )
}

/// The images `osprey-agent:TAG` and `osprey-collector:TAG`, built by build-images.sh from
/// the binaries under test; removed on drop.
struct Images {
    tag: String,
}

impl Images {
    /// Builds both images tagged `tag`, writing the host's settings into `settings`.
    fn build(tag: &str, settings: &Path) -> Images {
        let binaries = osprey::binary("osprey-agent");
        // The script takes both binaries from one folder; this fails early if one is missing.
        osprey::binary("osprey-collector");
        let script = osprey::workspace_root().join("packaging/docker/build-images.sh");
        let args = [
            "--binaries",
            &binaries.parent().expect("a folder").display().to_string(),
            "--tag",
            tag,
            "--settings",
            &settings.display().to_string(),
        ];
        let images = Images {
            tag: tag.to_owned(),
        };
        succeeded("build-images.sh", run(&script, &args, &[]));
        images
    }

    fn names(&self) -> [String; 2] {
        ["osprey-agent", "osprey-collector"].map(|name| format!("{name}:{}", self.tag))
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        let [agent, collector] = self.names();
        let _ = run(Path::new("docker"), &["rmi", &agent, &collector], &[]);
    }
}

/// A Compose project of `packaging/docker/compose.yml`, with the collector published on `port`;
/// taken down (volumes included) on drop if the test has not done so.
struct Stack {
    project: String,
    env_file: PathBuf,
    port: u16,
}

impl Stack {
    /// `docker-compose ARGS` on this project; its output.
    fn compose(&self, args: &[&str]) -> Output {
        let compose_file = osprey::workspace_root().join("packaging/docker/compose.yml");
        let (env_file, compose_file) = (self.env_file.display(), compose_file.display());
        let (env_file, compose_file) = (env_file.to_string(), compose_file.to_string());
        let mut all = vec![
            "--env-file",
            &env_file,
            "--file",
            &compose_file,
            "--project-name",
            &self.project,
        ];
        all.extend_from_slice(args);
        let port = self.port.to_string();
        run(Path::new("docker-compose"), &all, &[("OSPREY_PORT", &port)])
    }

    /// The `docker` objects (`ps -a`, `network ls`, `volume ls`) carrying this project's label.
    fn remaining(&self, list: &[&str]) -> String {
        let filter = format!("label=com.docker.compose.project={}", self.project);
        let mut args = list.to_vec();
        args.extend(["--quiet", "--filter", &filter]);
        docker(&args)
    }

    /// What `docker-compose logs` says, for failure messages.
    fn logs(&self) -> String {
        let output = self.compose(&["logs", "--no-color"]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Polls `check` every 250 ms until it gives a value; panics naming `what`, with the
    /// stack's logs, once `deadline` has passed.
    fn wait_for<T>(&self, what: &str, deadline: Instant, check: impl Fn() -> Option<T>) -> T {
        loop {
            if let Some(value) = check() {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "--volumes"]);
    }
}

/// The single value of an instant query's answer, when there is one.
fn single_value(port: u16, query: &str) -> Option<f64> {
    let result = instant_query(port, query)?;
    result.first()?["value"][1].as_str()?.parse().ok()
}

/// The user id a container's main process runs as, from the host's `/proc/<pid>/status`.
fn process_uid(container: &str) -> String {
    let pid = docker(&["inspect", "--format", "{{.State.Pid}}", container]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read the status of {container}'s process {pid}: {e}"));
    let uids = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .expect("a Uid line");
    uids.split_whitespace()
        .next()
        .expect("a real uid")
        .to_owned()
}

#[test]
fn compose_up_serves_node_and_container_metrics_and_down_leaves_nothing() {
    if osprey::docker::docker().is_none() || !osprey::peers_present(&["docker-compose"]) {
        return;
    }
    // The branch's prefix and the process id keep images and project apart from other tests.
    let project = format!("docker-compose-test-{}", std::process::id());
    let settings = tempfile::tempdir().expect("a temporary folder");
    let build_started = Instant::now();
    let images = Images::build(&project, settings.path());
    let [agent_image, collector_image] = images.names();
    for image in [&agent_image, &collector_image] {
        let size = docker(&["image", "inspect", "--format", "{{.Size}}", image]);
        eprintln!("{image}: {size} bytes");
    }
    eprintln!("images built in {:.1?}", build_started.elapsed());

    let stack = Stack {
        project,
        env_file: settings.path().join(".env"),
        port: free_port(),
    };
    let started = Instant::now();
    succeeded("docker-compose up", stack.compose(&["up", "--detach"]));
    let collector = format!("{}_collector_1", stack.project);
    let agent = format!("{}_agent_1", stack.project);

    let deadline = started + READY_WITHIN;
    stack.wait_for("the collector to be ready", deadline, || {
        get(stack.port, "/-/ready").filter(|(status, _)| *status == 200)
    });
    // The agent reaches Docker as its unprivileged user (through the socket's group) when it
    // reports this stack's own collector container.
    let own_container = format!("count(container_last_seen{{name=\"{collector}\"}})");
    for query in [
        "count(node_cpu_seconds_total)",
        "count(container_last_seen)",
        own_container.as_str(),
    ] {
        let value = stack.wait_for(&format!("{query} above 0"), deadline, || {
            single_value(stack.port, query).filter(|v| *v > 0.0)
        });
        eprintln!("{query} = {value} after {:.1?}", started.elapsed());
    }
    eprintln!(
        "ready with node and container metrics {:.1?} after `up`",
        started.elapsed()
    );

    let host = succeeded("uname -n", run(Path::new("uname"), &["-n"], &[]));
    let instances = instant_query(stack.port, "up{job=\"node\"}").unwrap_or_default();
    assert!(
        instances
            .iter()
            .any(|s| s["metric"]["instance"] == host.as_str() && s["value"][1] == "1"),
        "no up{{job=\"node\", instance=\"{host}\"}} 1 in {instances:?}; logs:\n{}",
        stack.logs()
    );
    for container in [&agent, &collector] {
        assert_eq!(
            process_uid(container),
            "10001",
            "{container} must run as the unprivileged osprey user"
        );
    }

    succeeded("docker-compose down", stack.compose(&["down", "--volumes"]));
    for list in [&["ps", "--all"][..], &["network", "ls"], &["volume", "ls"]] {
        let left = stack.remaining(list);
        assert!(
            left.is_empty(),
            "`docker {}` still lists objects of {} after down: {left}",
            list.join(" "),
            stack.project
        );
    }
}
