//! The Debian packages of the binaries under test, built by `packaging/build-deb.sh`.

use std::path::PathBuf;
use std::process::Command;

/// The four packages of one build, in a temporary directory removed on drop.
#[derive(Debug)]
pub struct Debs {
    /// The directory holding them.
    pub dir: tempfile::TempDir,
    /// The file name of `osprey-agent_VERSION_ARCH.deb`.
    pub agent: String,
    /// The file name of `osprey-collector_VERSION_ARCH.deb`.
    pub collector: String,
}

impl Debs {
    /// Packages the binaries already built in the profile named by `OSPREY_PROFILE` (see
    /// [`crate::binary`]), compressed with zstd to keep the test quick.
    pub fn build() -> Debs {
        let profile = std::env::var("OSPREY_PROFILE").unwrap_or_else(|_| "debug".to_owned());
        // A clear message when they are missing, before the script's.
        crate::binary("osprey-agent");
        crate::binary("osprey-collector");
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let output = Command::new(crate::workspace_root().join("packaging/build-deb.sh"))
            .args(["--no-build", "--compression", "zstd", "--profile", &profile])
            .arg(dir.path())
            .output()
            .expect("run packaging/build-deb.sh");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "packaging/build-deb.sh failed:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        println!("{stdout}");
        let named = |package: &str| -> String {
            let prefix = format!("{package}_");
            std::fs::read_dir(dir.path())
                .expect("list the packages")
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .find(|name| name.starts_with(&prefix) && name.ends_with(".deb"))
                .unwrap_or_else(|| panic!("build-deb.sh made no {package} package:\n{stdout}"))
        };
        Debs {
            agent: named("osprey-agent"),
            collector: named("osprey-collector"),
            dir,
        }
    }

    /// The path of the package file `name` ([`Debs::agent`], say).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
