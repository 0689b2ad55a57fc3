//! A real Docker engine for the end-to-end tests: `dockerd` is started when no daemon answers,
//! and a busybox image is made locally with `docker import` (images cannot be pulled).

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::skip_outside_ci;

/// The local test image: Debian's static busybox and its applet links, nothing else.
pub const TEST_IMAGE: &str = "osprey-test-busybox";

/// Where a `dockerd` started by the tests writes its log.
const DOCKERD_LOG: &str = "/tmp/osprey-test-dockerd.log";

/// A Docker engine that answers, with [`TEST_IMAGE`] present.
#[derive(Debug)]
pub struct Docker {
    _ready: (),
}

/// The Docker engine, set up once per test binary. `None` (after a message) on a machine
/// without Docker; a panic in CI, where Docker must work.
pub fn docker() -> Option<&'static Docker> {
    static DOCKER: OnceLock<Result<Docker, String>> = OnceLock::new();
    match DOCKER.get_or_init(set_up) {
        Ok(docker) => Some(docker),
        Err(problem) => {
            skip_outside_ci(&format!("Docker does not work: {problem}"));
            None
        }
    }
}

fn set_up() -> Result<Docker, String> {
    if !answers() {
        start_dockerd()?;
    }
    if run_docker(&["image", "inspect", TEST_IMAGE]).is_err() {
        import_busybox_image()?;
    }
    Ok(Docker { _ready: () })
}

fn answers() -> bool {
    run_docker(&["version", "--format", "{{.Server.Version}}"]).is_ok()
}

fn start_dockerd() -> Result<(), String> {
    let log = std::fs::File::create(DOCKERD_LOG)
        .map_err(|e| format!("cannot create {DOCKERD_LOG}: {e}"))?;
    let stderr = log.try_clone().map_err(|e| e.to_string())?;
    // Left running after the tests (later test binaries and runs reuse it), in its own process
    // group so that an interrupted test run does not take it down half-way.
    Command::new("dockerd")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("no Docker daemon answers and dockerd cannot be started: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if answers() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let tail = std::fs::read_to_string(DOCKERD_LOG).unwrap_or_default();
    let tail: Vec<_> = tail.lines().rev().take(15).collect();
    Err(format!(
        "dockerd did not answer within 60 s; the end of {DOCKERD_LOG}:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// Builds a root filesystem of Debian's busybox-static with a link per applet and imports it.
fn import_busybox_image() -> Result<(), String> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or("busybox is missing: install busybox-static (tests/install-deps.sh)")?;
    let rootfs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = rootfs.path();
    for dir in ["bin", "tmp", "www", "etc", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(dir)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(busybox, root.join("bin/busybox")).map_err(|e| e.to_string())?;
    let applets = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", busybox.display()))?;
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
                .map_err(|e| e.to_string())?;
        }
    }
    let tar = Command::new("tar")
        .args(["-C", &root.display().to_string(), "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let import = Command::new("docker")
        .args(["import", "--change", r#"CMD ["/bin/sh"]"#, "-", TEST_IMAGE])
        .stdin(tar.stdout.ok_or("tar has no stdout")?)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run docker import: {e}"))?;
    let import = output_within(import, DOCKER_CALL_TIMEOUT)
        .map_err(|problem| format!("docker import {problem}"))?;
    if !import.status.success() {
        return Err(format!(
            "docker import failed: {}",
            String::from_utf8_lossy(&import.stderr)
        ));
    }
    Ok(())
}

/// How long one docker CLI call may take before it is killed: a hung dockerd fails the test
/// that called it instead of blocking the test run forever.
const DOCKER_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `docker ARGS` and returns its trimmed standard output, or its standard error.
fn run_docker(args: &[&str]) -> Result<String, String> {
    let child = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    let output = output_within(child, DOCKER_CALL_TIMEOUT).map_err(|problem| {
        format!(
            "docker {} {problem} (is dockerd hung? its log: {DOCKERD_LOG} when the tests \
             started it)",
            args.join(" ")
        )
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Waits for `child` and collects its output, killing it when it runs longer than `timeout`.
/// Its standard output and error are drained by threads meanwhile, so a child writing more than
/// a pipe holds does not stall.
fn output_within(mut child: Child, timeout: Duration) -> Result<Output, String> {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not finish within {timeout:?} and was killed"));
            }
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

impl Docker {
    /// Runs `docker ARGS` and returns its trimmed standard output; panics with its error.
    pub fn run(&self, args: &[&str]) -> String {
        run_docker(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a detached container of [`TEST_IMAGE`] named `<name>-<test process id>` with the
    /// extra `docker run` options and command; it is removed when the handle drops.
    pub fn start(&self, name: &str, options: &[&str], command: &[&str]) -> Container {
        let name = format!("{name}-{}", std::process::id());
        // A container left over from an interrupted run of this process id would clash.
        let _ = run_docker(&["rm", "-f", &name]);
        let mut args = vec!["run", "-d", "--name", &name];
        args.extend_from_slice(options);
        args.push(TEST_IMAGE);
        args.extend_from_slice(command);
        let id = self.run(&args);
        Container { name, id }
    }

    /// The socket the Docker CLI talks to.
    pub fn socket(&self) -> PathBuf {
        PathBuf::from("/var/run/docker.sock")
    }
}

/// A container started by [`Docker::start`], removed on drop.
#[derive(Debug)]
pub struct Container {
    /// Its name.
    pub name: String,
    /// Its full id.
    pub id: String,
}

impl Container {
    /// `docker inspect -f FORMAT` of this container.
    pub fn inspect(&self, format: &str) -> String {
        run_docker(&["inspect", "-f", format, &self.id]).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = run_docker(&["rm", "-f", &self.id]);
    }
}
