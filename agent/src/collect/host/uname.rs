//! The kernel's uname(2) facts and the distribution's os-release, as node_exporter's `uname`
//! and `os` collectors (community dashboards key their host variables on `node_uname_info`).

use std::path::PathBuf;

use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// The os-release keys node_exporter puts on `node_os_info`, in its order.
const OS_INFO_KEYS: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

/// `node_uname_info`, `node_os_info` and `node_os_version`.
pub(super) struct Uname {
    /// os-release(5): the first file that exists is used.
    os_release: [PathBuf; 2],
}

impl Uname {
    pub(super) fn new() -> Self {
        Uname {
            os_release: ["/etc/os-release".into(), "/usr/lib/os-release".into()],
        }
    }
}

/// Parses os-release(5): `KEY=value` lines, values optionally in single or double quotes.
fn parse_os_release(text: &str) -> Vec<(&str, String)> {
    let mut pairs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        let value = value
            .replace("\\\"", "\"")
            .replace("\\$", "$")
            .replace("\\`", "`")
            .replace("\\\\", "\\");
        pairs.push((key, value));
    }
    pairs
}

/// node_exporter's `node_os_version`: the major.minor part of VERSION_ID as a number.
fn os_version(version_id: &str) -> Option<f64> {
    let mut parts = version_id.split('.');
    let major = parts.next()?;
    let number = match parts.next() {
        Some(minor) => format!("{major}.{minor}"),
        None => major.to_owned(),
    };
    number.parse().ok()
}

fn write_os(out: &mut Exposition, pairs: &[(&str, String)]) {
    let get = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| v.as_str())
    };
    let labels: Vec<(&str, &str)> = OS_INFO_KEYS
        .iter()
        .map(|(label, key)| (*label, get(key)))
        .collect();
    out.family(
        "node_os_info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, \
         image_version, name, pretty_name, variant, variant_id, version, version_codename, \
         version_id.",
        MetricType::Gauge,
    )
    .sample(&labels, 1.0);
    if let Some(version) = os_version(get("VERSION_ID")) {
        out.family(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            MetricType::Gauge,
        )
        .sample(
            &[
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("name", get("NAME")),
            ],
            version,
        );
    }
}

impl Collector for Uname {
    fn name(&self) -> &'static str {
        "uname"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let uname = rustix::system::uname();
        let text = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
        let fields = [
            ("domainname", text(uname.domainname())),
            ("machine", text(uname.machine())),
            ("nodename", text(uname.nodename())),
            ("release", text(uname.release())),
            ("sysname", text(uname.sysname())),
            ("version", text(uname.version())),
        ];
        let labels: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.family(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            MetricType::Gauge,
        )
        .sample(&labels, 1.0);
        // A container image or a minimal system may have no os-release: uname is still valid.
        if let Some(release) = self
            .os_release
            .iter()
            .find_map(|path| std::fs::read_to_string(path).ok())
        {
            write_os(out, &parse_os_release(&release));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn os_release_quotes_are_removed_and_missing_keys_are_empty() {
        let mut uname = Uname::new();
        uname.os_release = [fixture("etc/os-release"), fixture("etc/os-release")];
        let text = scrape_one(&uname);
        assert!(text.contains(
            "node_os_info{build_id=\"\",id=\"debian\",id_like=\"\",image_id=\"\",\
             image_version=\"\",name=\"Debian GNU/Linux\",\
             pretty_name=\"Debian GNU/Linux 12 (bookworm)\",variant=\"\",variant_id=\"\",\
             version=\"12 (bookworm)\",version_codename=\"bookworm\",version_id=\"12\"} 1\n"
        ));
        assert!(text.contains(
            "node_os_version{id=\"debian\",id_like=\"\",name=\"Debian GNU/Linux\"} 12\n"
        ));
    }

    #[test]
    fn uname_info_has_the_kernel_release() {
        let text = scrape_one(&Uname::new());
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert!(text.contains(&format!("release=\"{}\"", release.trim())));
        assert!(text.contains("sysname=\"Linux\""));
    }

    #[test]
    fn version_id_keeps_major_and_minor() {
        assert_eq!(os_version("22.04.3"), Some(22.04));
        assert_eq!(os_version("12"), Some(12.0));
        assert_eq!(os_version("rolling"), None);
    }
}
