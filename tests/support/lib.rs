//! Support for the end-to-end tests: finding the built binaries and the shared peer test data,
//! running processes, and the real peers and receivers the tests talk to.

pub mod collector;
pub mod docker;
pub mod net;
pub mod process;
pub mod smtp;
pub mod webhook;

use std::path::PathBuf;

/// The workspace root (where the top-level Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the tests run in CI, where every peer and data set must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `program` runs with `probe` as its arguments (`--version`, say) and succeeds; a
/// peer missing is a failure in CI and a skip (with a message) elsewhere.
pub fn peer_present(program: &str, probe: &[&str]) -> bool {
    let found = std::process::Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found || !in_ci(),
        "{program} is missing (tests/install-deps.sh installs it)"
    );
    if !found {
        eprintln!("skipping: {program} is not available");
    }
    found
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

/// The `../shared` directory beside the repository, holding peer test vectors, if present.
/// When absent: `None` on a laptop (the caller skips with a message), a panic in CI.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !in_ci(),
        "{} is missing; CI must have ../shared beside the clone",
        dir.display()
    );
    eprintln!(
        "skipping: {} is absent (it is present in CI)",
        dir.display()
    );
    None
}
