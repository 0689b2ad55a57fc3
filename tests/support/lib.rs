//! Support for the end-to-end tests: finding the built binaries and the shared peer test data,
//! running processes, and the real peers and receivers the tests talk to.

pub mod agent;
pub mod collector;
pub mod docker;
pub mod host;
pub mod net;
pub mod peers;
pub mod process;
pub mod smtp;
pub mod systemd;
pub mod webhook;

use std::path::PathBuf;

/// The workspace root (where the top-level Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the tests run in CI (`CI` is `true` or `1`), where every peer and data set must be
/// present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that something a test needs is missing: a panic naming `problem` in CI, a
/// `skipping:` message elsewhere, after which the caller returns without testing.
pub fn skip_outside_ci(problem: &str) {
    assert!(!in_ci(), "{problem}; CI must have it");
    eprintln!("skipping: {problem}");
}

/// Whether `program` runs with `probe` as its arguments (`--version`, say) and succeeds; a
/// peer missing is a failure in CI and a skip (with a message) elsewhere.
pub fn peer_present(program: &str, probe: &[&str]) -> bool {
    let found = std::process::Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        skip_outside_ci(&format!(
            "{program} is not available (tests/install-deps.sh installs it)"
        ));
    }
    found
}

/// Whether every one of `programs` answers `--version`; see [`peer_present`].
pub fn peers_present(programs: &[&str]) -> bool {
    programs.iter().all(|p| peer_present(p, &["--version"]))
}

/// The path of a peer program installed from Debian (`/usr/bin/...`), or `None` (with a
/// message) on a machine without it; CI must have it.
pub fn peer_installed(path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(path);
    let found = path.exists();
    found_or_skip(
        path,
        found,
        "is not installed (tests/install-deps.sh installs it)",
    )
}

/// The path of a workspace binary built by `cargo build --workspace` in the profile named by
/// `OSPREY_PROFILE` (`debug` when unset; `tests/run.sh` uses `ci`), or a panic saying how to
/// build it.
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let profile = std::env::var("OSPREY_PROFILE").unwrap_or_else(|_| "debug".to_owned());
    let path = target.join(profile).join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins` \
         (or run tests/run.sh, which does)",
        path.display()
    );
    path
}

/// The folder `inside` (`peer-tests/rules`, say) of the `../shared` directory beside the
/// repository, which holds the peer test data, if present. When absent: `None` on a laptop
/// (after a message; the caller skips), a panic in CI.
pub fn shared_dir(inside: &str) -> Option<PathBuf> {
    let dir = workspace_root().join("../shared").join(inside);
    let found = dir.is_dir();
    found_or_skip(dir, found, "is absent (CI has ../shared beside the clone)")
}

/// `path` when it was `found`; otherwise `None` after [`skip_outside_ci`] says it `missing`.
fn found_or_skip(path: PathBuf, found: bool, missing: &str) -> Option<PathBuf> {
    if found {
        return Some(path);
    }
    skip_outside_ci(&format!("{} {missing}", path.display()));
    None
}
