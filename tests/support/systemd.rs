//! A real systemd for the end-to-end tests: a Debian bookworm container whose PID 1 is systemd,
//! from an image built on this machine with debootstrap (images cannot be pulled).
//!
//! The image is built once per machine and kept, tagged by a hash of its recipe, so a change
//! of the recipe builds a new one. Building takes about a minute and needs root, debootstrap
//! and access to the Debian mirror.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::docker::docker;
use crate::process::wait_for;
use crate::skip_outside_ci;

/// The Debian release of the image.
const SUITE: &str = "bookworm";

/// Where debootstrap downloads the packages from.
const MIRROR: &str = "http://deb.debian.org/debian";

/// Packages added to debootstrap's minimal base: systemd as PID 1, D-Bus for `systemctl`, and
/// curl so tests can ask the services inside over HTTP.
const PACKAGES: &str = "systemd,systemd-sysv,dbus,curl";

/// The image repository; the tag is [`recipe_hash`].
const IMAGE_REPOSITORY: &str = "osprey-test-systemd";

/// Held while the image is built, so test binaries running at once build it once.
const BUILD_LOCK: &str = "/tmp/osprey-test-systemd-image.lock";

/// How long systemd may take to reach `running` after the container starts.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// A detached container running systemd as PID 1, removed when dropped.
#[derive(Debug)]
pub struct SystemdContainer {
    /// Its name: the name given to [`SystemdContainer::start`] and the test's process id.
    pub name: String,
}

impl SystemdContainer {
    /// Starts a container named `<name>-<test process id>` from the systemd image (built first
    /// when this machine has none), with each `(host path, path inside)` of `binds` mounted
    /// read-only, and waits until `systemctl is-system-running` says `running` (or `degraded`,
    /// whose failed units are printed). `None` after a message on a machine that cannot run
    /// it (no Docker, no debootstrap, not root); a panic in CI, which must.
    pub fn start(name: &str, binds: &[(&Path, &str)]) -> Option<SystemdContainer> {
        let docker = docker()?;
        let image = match image() {
            Ok(image) => image,
            Err(problem) => {
                skip_outside_ci(&format!("no systemd image: {problem}"));
                return None;
            }
        };
        let name = format!("{name}-{}", std::process::id());
        // A container left over from an interrupted run of this process id would clash.
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        let volumes: Vec<String> = binds
            .iter()
            .map(|(host, inside)| format!("{}:{inside}:ro", host.display()))
            .collect();
        // What systemd needs to run as PID 1 here (cgroup v1): mounts of its own (SYS_ADMIN),
        // the cgroup tree writable, and /run a tmpfs. `--privileged` fails on this engine.
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--cap-add",
            "SYS_ADMIN",
            "--env",
            "container=docker",
            "--volume",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
        ];
        for volume in &volumes {
            args.extend(["--volume", volume]);
        }
        args.extend([image.as_str(), "/lib/systemd/systemd"]);
        docker.run(&args);
        let container = SystemdContainer { name };
        container.wait_until_booted();
        Some(container)
    }

    /// Runs `command` inside the container (`docker exec`) and returns its output.
    pub fn exec(&self, command: &[&str]) -> Output {
        Command::new("docker")
            .arg("exec")
            .arg(&self.name)
            .args(command)
            .stdin(Stdio::null())
            .output()
            .expect("run docker exec")
    }

    /// Runs `command` inside the container and returns its standard output; panics with its
    /// standard error when it fails.
    pub fn exec_ok(&self, command: &[&str]) -> String {
        let output = self.exec(command);
        assert!(
            output.status.success(),
            "`{}` in {} failed with {}:\n{}{}",
            command.join(" "),
            self.name,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Copies the host file or directory `host` to `inside` in the container (`docker cp`).
    pub fn copy_in(&self, host: &Path, inside: &str) {
        let status = Command::new("docker")
            .arg("cp")
            .arg(host)
            .arg(format!("{}:{inside}", self.name))
            .status()
            .expect("run docker cp");
        assert!(status.success(), "docker cp {} failed", host.display());
    }

    /// The container's address on Docker's bridge network, reachable from this machine.
    pub fn ip(&self) -> String {
        let output = Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                &self.name,
            ])
            .output()
            .expect("run docker inspect");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn wait_until_booted(&self) {
        let state = wait_for(
            &format!("systemd in {} to finish booting", self.name),
            BOOT_TIMEOUT,
            || {
                let output = self.exec(&["systemctl", "is-system-running"]);
                let state = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                matches!(state.as_str(), "running" | "degraded").then_some(state)
            },
        );
        if state == "degraded" {
            let failed = self.exec(&["systemctl", "--failed", "--no-pager"]);
            eprintln!(
                "systemd in {} is degraded:\n{}",
                self.name,
                String::from_utf8_lossy(&failed.stdout)
            );
        }
    }
}

impl Drop for SystemdContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// The image's name, `osprey-test-systemd:<recipe hash>`, after building it if this machine
/// does not have it yet.
fn image() -> Result<String, String> {
    let image = format!("{IMAGE_REPOSITORY}:{:016x}", recipe_hash());
    let present = || {
        Command::new("docker")
            .args(["image", "inspect", &image])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if present() {
        return Ok(image);
    }
    let lock = File::create(BUILD_LOCK).map_err(|e| format!("cannot create {BUILD_LOCK}: {e}"))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {BUILD_LOCK}: {e}"))?;
    // Another test binary may have built it while this one waited for the lock.
    if !present() {
        build_image(&image)?;
    }
    Ok(image)
}

/// A hash of everything that goes into the image (FNV-1a, stable across Rust releases).
fn recipe_hash() -> u64 {
    let recipe = format!("{SUITE} {MIRROR} minbase {PACKAGES}");
    recipe.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Builds a minimal Debian root filesystem with debootstrap and imports it as `image`.
fn build_image(image: &str) -> Result<(), String> {
    if !Path::new("/usr/sbin/debootstrap").exists() {
        return Err("debootstrap is not installed (tests/install-deps.sh installs it)".into());
    }
    if !is_root() {
        return Err("debootstrap needs root".into());
    }
    eprintln!("building the systemd test image {image} with debootstrap (about a minute)");
    let rootfs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let debootstrap = Command::new("debootstrap")
        .args(["--variant=minbase", &format!("--include={PACKAGES}"), SUITE])
        .arg(rootfs.path())
        .arg(MIRROR)
        .output()
        .map_err(|e| format!("cannot run debootstrap: {e}"))?;
    // debootstrap mounts /proc and /sys in the root it builds; one that failed half-way may
    // leave them mounted, and removing the directory must not descend into them.
    unmount_below(rootfs.path());
    if !debootstrap.status.success() {
        let log = std::fs::read_to_string(rootfs.path().join("debootstrap/debootstrap.log"));
        return Err(format!(
            "debootstrap failed: {}\n{}",
            String::from_utf8_lossy(&debootstrap.stderr),
            log.unwrap_or_default()
        ));
    }
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs.path())
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let import = Command::new("docker")
        .args(["import", "-", image])
        .stdin(tar.stdout.take().ok_or("tar has no stdout")?)
        .output()
        .map_err(|e| format!("cannot run docker import: {e}"))?;
    let tarred = tar
        .wait()
        .map_err(|e| format!("cannot wait for tar: {e}"))?;
    if !tarred.success() {
        return Err(format!("tar of the root filesystem failed with {tarred}"));
    }
    if !import.status.success() {
        return Err(format!(
            "docker import failed: {}",
            String::from_utf8_lossy(&import.stderr)
        ));
    }
    Ok(())
}

/// Unmounts every mount point under `root`, deepest first.
fn unmount_below(root: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut below: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .map(PathBuf::from)
        .filter(|point| point.starts_with(root))
        .collect();
    below.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    for point in below {
        let _ = Command::new("umount").arg("--lazy").arg(&point).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
