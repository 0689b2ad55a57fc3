//! The Debian packages installed on this machine with `dpkg -i`: the installed binaries run as
//! the installed users with the installed configuration, the collector scrapes the installed
//! agent (`up` 1), `dpkg --remove` keeps the configuration, data and users, and `dpkg --purge`
//! leaves no file of theirs behind.
//!
//! No systemd runs here, so the test starts the binaries as their units would: the units'
//! `ExecStart` lines, as the units' users (setpriv). So that both keep the packaged ports
//! (9717, 9718) and configuration untouched while other tests use ports too, they run in a
//! network namespace of their own (unshare), where the test asks them over HTTP (nsenter and
//! curl). Needs root, as dpkg does: skipped with a message otherwise, a failure in CI.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use osprey::deb::Debs;
use osprey::process::{Running, wait_for};
use osprey::{peer_installed, skip_outside_ci};

/// The packages, in installation order.
const PACKAGES: [&str; 2] = ["osprey-agent", "osprey-collector"];

/// Where the packages install files, walked before installing and after purging. Docker's
/// trees are left out: other tests change them meanwhile.
const WATCHED: [&str; 3] = ["/etc", "/usr", "/var/lib"];
const NOT_WATCHED: [&str; 2] = ["/var/lib/docker", "/var/lib/containerd"];

/// The most an installed binary may weigh, in bytes, when built with the `dist` profile the
/// packages ship (other profiles keep more copies of generic code; see Cargo.toml).
const MAX_AGENT_BYTES: u64 = 10_000_000;
const MAX_COLLECTOR_BYTES: u64 = 30_000_000;

#[test]
fn installed_packages_run_and_purge_leaves_nothing() {
    if !prerequisites_present() {
        return;
    }
    for package in PACKAGES {
        assert!(
            !is_installed(package),
            "{package} is installed on this machine; the test installs and purges it, so \
             purge it first (dpkg --purge {package})"
        );
    }
    let debs = Debs::build();
    let before = files_under_watched();
    let shipped = files_in(&[debs.path(&debs.agent), debs.path(&debs.collector)]);
    let new: Vec<&PathBuf> = shipped.iter().filter(|path| !path.exists()).collect();

    let _purge_on_failure = PurgeOnPanic;
    run_ok(
        Command::new("dpkg")
            .arg("-i")
            .args([debs.path(&debs.agent), debs.path(&debs.collector)]),
    );
    check_installation();
    check_services_run();

    run_ok(Command::new("dpkg").arg("--remove").args(PACKAGES));
    for kept in [
        "/etc/osprey/agent.toml",
        "/etc/osprey/collector.yml",
        "/var/lib/osprey",
    ] {
        assert!(Path::new(kept).exists(), "dpkg --remove removed {kept}");
    }
    for user in ["osprey-agent", "osprey"] {
        assert!(user_exists(user), "dpkg --remove removed the user {user}");
    }

    run_ok(Command::new("dpkg").arg("--purge").args(PACKAGES));
    let after = files_under_watched();
    let left: Vec<_> = after.difference(&before).collect();
    assert!(left.is_empty(), "left after dpkg --purge: {left:?}");
    let still: Vec<_> = new.iter().filter(|path| path.exists()).collect();
    assert!(still.is_empty(), "installed files left: {still:?}");
    for user in ["osprey-agent", "osprey"] {
        assert!(!user_exists(user), "dpkg --purge kept the user {user}");
    }
    let docker_group = stdout_of(Command::new("getent").args(["group", "docker"]));
    assert!(
        !docker_group.contains("osprey-agent"),
        "the docker group still lists osprey-agent: {docker_group}"
    );
}

/// Root and the programs the test drives; a skip (with a message) when one is missing.
fn prerequisites_present() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        skip_outside_ci("installing Debian packages needs root");
        return false;
    }
    [
        "/usr/bin/dpkg",
        "/usr/bin/setpriv",
        "/usr/bin/unshare",
        "/usr/bin/nsenter",
        "/usr/bin/curl",
        "/usr/sbin/ip",
    ]
    .iter()
    .all(|path| peer_installed(path).is_some())
}

/// What the packages put in place: binaries within the size limits (`dist` builds), their
/// configuration as conffiles, the users (the agent's in the docker group when that group
/// exists) and the collector's data directory.
fn check_installation() {
    let profile = std::env::var("OSPREY_PROFILE").unwrap_or_default();
    for (binary, max) in [
        ("/usr/bin/osprey-agent", MAX_AGENT_BYTES),
        ("/usr/bin/osprey-collector", MAX_COLLECTOR_BYTES),
    ] {
        let size = std::fs::metadata(binary).unwrap().len();
        println!("{binary}: {size} bytes ({profile:?} profile, limit {max} for dist)");
        if profile == "dist" {
            assert!(size <= max, "{binary} is {size} bytes, more than {max}");
        }
    }
    for (package, conffile) in [
        ("osprey-agent", "/etc/osprey/agent.toml"),
        ("osprey-collector", "/etc/osprey/collector.yml"),
    ] {
        let conffiles =
            stdout_of(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", package]));
        assert!(
            conffiles.contains(conffile),
            "{package} conffiles: {conffiles}"
        );
    }
    let docker_exists = Command::new("getent")
        .args(["group", "docker"])
        .output()
        .unwrap()
        .status
        .success();
    let agent_groups = stdout_of(Command::new("id").args(["-nG", "osprey-agent"]));
    assert_eq!(
        agent_groups.split_whitespace().any(|g| g == "docker"),
        docker_exists,
        "osprey-agent's groups: {agent_groups}"
    );
    // The installed configuration and the example of every key both pass check-config with
    // the shipped rules where the package put them.
    for config in [
        "/etc/osprey/collector.yml",
        "/usr/share/doc/osprey-collector/examples/collector.yml",
    ] {
        let report =
            stdout_of(Command::new("/usr/bin/osprey-collector").args(["check-config", config]));
        let shipped = std::fs::read_dir("/usr/share/osprey/alert-rules")
            .unwrap()
            .count();
        assert!(
            report.contains(&format!("from {shipped} rule files")),
            "{config}: {report}"
        );
    }
    let data = std::fs::metadata("/var/lib/osprey").unwrap();
    let collector_uid = stdout_of(Command::new("id").args(["-u", "osprey"]));
    assert_eq!(data.uid().to_string(), collector_uid.trim());
    assert_eq!(data.mode() & 0o777, 0o750);
}

/// Runs both installed units' commands in a network namespace and checks that the collector
/// scrapes the agent and itself, has loaded the shipped rules, and stops on SIGTERM.
fn check_services_run() {
    let logs = tempfile::tempdir().unwrap();
    let mut holder = Command::new("unshare");
    holder.args(["--net", "sleep", "600"]);
    let namespace = Running::spawn("network namespace", holder, None);
    let ns = namespace.pid().to_string();
    // Until unshare has made the namespace, its process is still in ours: bringing up `lo`
    // then would leave the new namespace's loopback down.
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    wait_for("the new network namespace", Duration::from_secs(10), || {
        let theirs = std::fs::read_link(format!("/proc/{ns}/ns/net")).ok()?;
        (theirs != own).then_some(())
    });
    run_ok(Command::new("nsenter").args(["-t", &ns, "-n", "ip", "link", "set", "lo", "up"]));
    let _logs_on_failure = LogsOnPanic(logs.path().to_owned());
    let agent = start_as_unit("osprey-agent", &ns, &logs.path().join("agent.log"));
    let collector = start_as_unit("osprey-collector", &ns, &logs.path().join("collector.log"));

    let up = wait_for(
        "the collector to scrape jobs node and osprey",
        Duration::from_secs(60),
        || {
            let body = get_in(&ns, "http://127.0.0.1:9718/api/v1/query?query=up")?;
            let up = up_by_job(&body);
            (up.len() == 2).then_some(up)
        },
    );
    assert_eq!(
        up,
        [
            ("node".to_owned(), "1".to_owned()),
            ("osprey".to_owned(), "1".to_owned())
        ],
        "up by job"
    );
    let rules = get_in(&ns, "http://127.0.0.1:9718/api/v1/rules").unwrap();
    assert!(
        rules.contains("\"file\":\"/usr/share/osprey/alert-rules/host.yml\""),
        "the shipped rules are not loaded: {rules}"
    );

    collector.terminate(Duration::from_secs(60));
    agent.terminate(Duration::from_secs(20));
}

/// Purges the packages when the test fails while it is in scope, so that the next run finds
/// the machine as it was.
struct PurgeOnPanic;

impl Drop for PurgeOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new("dpkg").arg("--purge").args(PACKAGES).status();
        }
    }
}

/// Prints the services' logs in a directory when the test fails while it is in scope.
struct LogsOnPanic(PathBuf);

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for log in ["agent.log", "collector.log"] {
            let text = std::fs::read_to_string(self.0.join(log)).unwrap_or_default();
            eprintln!("--- {log} ---\n{text}");
        }
    }
}

/// Starts the `ExecStart` line of the installed unit of `package` as the unit's `User=`, in the
/// network namespace of process `ns`, from `/` as systemd would, logging to `log`.
fn start_as_unit(package: &str, ns: &str, log: &Path) -> Running {
    let unit = std::fs::read_to_string(format!("/lib/systemd/system/{package}.service")).unwrap();
    let setting = |key: &str| {
        unit.lines()
            .find_map(|line| line.strip_prefix(key))
            .unwrap_or_else(|| panic!("{package}.service has no {key}"))
            .to_owned()
    };
    let user = setting("User=");
    let exec_start = setting("ExecStart=");
    let mut command = Command::new("nsenter");
    command
        .args([
            "-t", ns, "-n", "setpriv", "--reuid", &user, "--regid", &user,
        ])
        .args(["--init-groups", "--"])
        .args(exec_start.split_whitespace())
        .current_dir("/");
    Running::spawn(package, command, Some(log))
}

/// The body of `GET url` from inside the network namespace of process `ns`, or `None` while
/// nothing answers there.
fn get_in(ns: &str, url: &str) -> Option<String> {
    let output = Command::new("nsenter")
        .args(["-t", ns, "-n", "curl", "-sf", "--max-time", "5", url])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `(job, value)` of each `up` series in a query answer, sorted by job.
fn up_by_job(body: &str) -> Vec<(String, String)> {
    let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let mut up: Vec<(String, String)> = answer["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|series| {
            let job = series["metric"]["job"].as_str()?;
            let value = series["value"][1].as_str()?;
            Some((job.to_owned(), value.to_owned()))
        })
        .collect();
    up.sort();
    up
}

/// Every path the package files `debs` hold (`dpkg-deb --contents`), directories included.
fn files_in(debs: &[PathBuf]) -> Vec<PathBuf> {
    debs.iter()
        .flat_map(|deb| {
            stdout_of(Command::new("dpkg-deb").arg("--contents").arg(deb))
                .lines()
                .filter_map(|line| line.split_whitespace().nth(5)?.strip_prefix('.'))
                .filter(|path| path.len() > 1)
                .map(|path| PathBuf::from(path.trim_end_matches('/')))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every file, directory and link under [`WATCHED`], except [`NOT_WATCHED`].
fn files_under_watched() -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut pending: Vec<PathBuf> = WATCHED.iter().map(PathBuf::from).collect();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if NOT_WATCHED.iter().any(|skip| path == Path::new(skip)) {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path.clone());
            }
            found.insert(path);
        }
    }
    found
}

fn is_installed(package: &str) -> bool {
    let status = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", package])
        .output()
        .unwrap();
    String::from_utf8_lossy(&status.stdout) != "not-installed" && status.status.success()
}

fn user_exists(user: &str) -> bool {
    Command::new("getent")
        .args(["passwd", user])
        .output()
        .unwrap()
        .status
        .success()
}

/// Runs `command` with dpkg kept from asking questions; panics with its output if it fails.
fn run_ok(command: &mut Command) -> Output {
    let output = command
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout_of(command: &mut Command) -> String {
    String::from_utf8_lossy(&run_ok(command).stdout).into_owned()
}
