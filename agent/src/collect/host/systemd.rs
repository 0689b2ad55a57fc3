//! systemd's unit states over D-Bus, as node_exporter's `systemd` collector (off by default).
//!
//! Each scrape asks systemd's manager for its unit list (`ListUnits`), the `Type` of each
//! included service (the calls pipelined on one connection) and its `Version` and
//! `SystemState`. The connection is kept between scrapes and made again after a failure.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::join_all;
use regex::Regex;
use serde::Deserialize;
use zbus::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// The active states node_exporter reports, in its order.
const STATES: [&str; 5] = ["active", "activating", "deactivating", "inactive", "failed"];

/// How long one scrape may wait for systemd.
const TIMEOUT: Duration = Duration::from_secs(5);

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// The `[host.systemd]` section of the agent's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemdConfig {
    /// Whether unit states are collected (off by default, as in node_exporter).
    pub enabled: bool,
    /// Units whose whole name matches this regular expression are reported...
    pub unit_include: String,
    /// ...unless their whole name matches this one.
    pub unit_exclude: String,
    /// The D-Bus address of the system bus.
    pub bus_address: String,
}

impl Default for SystemdConfig {
    fn default() -> Self {
        SystemdConfig {
            enabled: false,
            unit_include: ".+".to_owned(),
            unit_exclude: r".+\.(automount|device|mount|scope|slice|target)".to_owned(),
            bus_address: "unix:path=/run/dbus/system_bus_socket".to_owned(),
        }
    }
}

impl SystemdConfig {
    /// The include and exclude patterns, anchored to whole unit names as node_exporter does.
    pub fn patterns(&self) -> Result<(Regex, Regex), regex::Error> {
        let anchored = |pattern: &str| Regex::new(&format!("^(?:{pattern})$"));
        Ok((anchored(&self.unit_include)?, anchored(&self.unit_exclude)?))
    }
}

/// One unit as `ListUnits` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unit {
    name: String,
    active_state: String,
    path: OwnedObjectPath,
}

/// What one scrape learnt from systemd.
#[derive(Debug, Default)]
struct Reading {
    /// The `Version` property, e.g. `252.22-1~deb12u1`.
    version: String,
    /// The `SystemState` property: `running`, `degraded`, `starting`, ...
    system_state: String,
    /// Every unit systemd has loaded.
    units: Vec<Unit>,
    /// Which units to report.
    included: Vec<usize>,
    /// The `Type` of each included service (`simple`, `notify`, ...) by unit name.
    service_types: HashMap<String, String>,
}

/// `node_systemd_unit_state{name,state,type}`, `node_systemd_units{state}`,
/// `node_systemd_system_running` and `node_systemd_version{version}`.
pub(super) struct Systemd {
    runtime: tokio::runtime::Handle,
    address: String,
    include: Regex,
    exclude: Regex,
    connection: Mutex<Option<Connection>>,
}

impl Systemd {
    /// The collector for a validated configuration; D-Bus calls run on `runtime`.
    pub(super) fn new(config: &SystemdConfig, runtime: tokio::runtime::Handle) -> Self {
        let (include, exclude) = config.patterns().expect("validated patterns");
        Systemd {
            runtime,
            address: config.bus_address.clone(),
            include,
            exclude,
            connection: Mutex::new(None),
        }
    }

    async fn read(&self, connection: &Connection) -> zbus::Result<Reading> {
        let version = manager_property(connection, "Version").await?;
        let system_state = manager_property(connection, "SystemState").await?;
        let listed = connection
            .call_method(Some(SYSTEMD), MANAGER_PATH, Some(MANAGER), "ListUnits", &())
            .await?;
        type Listed = (
            String,
            String,
            String,
            String,
            String,
            String,
            OwnedObjectPath,
            u32,
            String,
            OwnedObjectPath,
        );
        let listed: Vec<Listed> = listed.body().deserialize()?;
        let units: Vec<Unit> = listed
            .into_iter()
            .map(|(name, _, _, active_state, _, _, path, _, _, _)| Unit {
                name,
                active_state,
                path,
            })
            .collect();
        let included: Vec<usize> = (0..units.len())
            .filter(|&i| self.include.is_match(&units[i].name))
            .filter(|&i| !self.exclude.is_match(&units[i].name))
            .collect();
        let services = included
            .iter()
            .map(|&i| &units[i])
            .filter(|unit| unit.name.ends_with(".service"));
        let types = join_all(services.map(|unit| async move {
            let kind = property(
                connection,
                &unit.path,
                "org.freedesktop.systemd1.Service",
                "Type",
            );
            (unit.name.clone(), kind.await)
        }))
        .await;
        // A service that went away between the listing and the question has no type.
        let service_types = types
            .into_iter()
            .filter_map(|(name, kind)| Some((name, kind.ok()?)))
            .collect();
        Ok(Reading {
            version,
            system_state,
            units,
            included,
            service_types,
        })
    }

    /// The kept connection, or a new one.
    async fn connection(&self) -> zbus::Result<Connection> {
        let kept = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(connection) = kept {
            return Ok(connection);
        }
        let connection = zbus::connection::Builder::address(self.address.as_str())?
            .build()
            .await?;
        *self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
        Ok(connection)
    }

    async fn connect_and_read(&self) -> zbus::Result<Reading> {
        self.read(&self.connection().await?).await
    }
}

/// A string property of systemd's manager.
async fn manager_property(connection: &Connection, name: &str) -> zbus::Result<String> {
    let path = OwnedObjectPath::try_from(MANAGER_PATH)?;
    property(connection, &path, MANAGER, name).await
}

/// A string property of the object at `path`.
async fn property(
    connection: &Connection,
    path: &OwnedObjectPath,
    interface: &str,
    name: &str,
) -> zbus::Result<String> {
    let reply = connection
        .call_method(
            Some(SYSTEMD),
            path,
            Some(PROPERTIES),
            "Get",
            &(interface, name),
        )
        .await?;
    let value: OwnedValue = reply.body().deserialize()?;
    Ok(String::try_from(value)?)
}

impl Reading {
    fn write(&self, out: &mut Exposition) {
        out.family(
            "node_systemd_system_running",
            "Whether the system is operational (see 'systemctl is-system-running')",
            MetricType::Gauge,
        )
        .sample(
            &[],
            if self.system_state == "running" {
                1.0
            } else {
                0.0
            },
        );
        let mut family = out.family("node_systemd_unit_state", "Systemd unit", MetricType::Gauge);
        for unit in self.included.iter().map(|&i| &self.units[i]) {
            let kind = self
                .service_types
                .get(&unit.name)
                .map_or("", String::as_str);
            for state in STATES {
                let value = if unit.active_state == state { 1.0 } else { 0.0 };
                family.sample(
                    &[("name", &unit.name), ("state", state), ("type", kind)],
                    value,
                );
            }
        }
        let mut family = out.family(
            "node_systemd_units",
            "Summary of systemd unit states",
            MetricType::Gauge,
        );
        for state in STATES {
            let count = self
                .units
                .iter()
                .filter(|u| u.active_state == state)
                .count();
            family.sample(&[("state", state)], count as f64);
        }
        // `252.22-1~deb12u1` is version 252.22, as node_exporter reads it.
        let number: String = (self.version.chars())
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        out.family(
            "node_systemd_version",
            "Detected systemd version",
            MetricType::Gauge,
        )
        .sample(
            &[("version", &self.version)],
            number.parse().unwrap_or(f64::NAN),
        );
    }
}

impl Collector for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let reading = self
            .runtime
            .block_on(async { tokio::time::timeout(TIMEOUT, self.connect_and_read()).await });
        if !matches!(reading, Ok(Ok(_))) {
            // A failed or silent bus connection is made again on the next scrape.
            *self
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
        let failure = |message: String| CollectError::Read {
            path: self.address.clone(),
            source: std::io::Error::other(message),
        };
        match reading {
            Ok(Ok(reading)) => {
                reading.write(out);
                Ok(())
            }
            Ok(Err(error)) => Err(failure(format!("D-Bus: {error}"))),
            Err(_) => Err(failure(format!("systemd did not answer in {TIMEOUT:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, active_state: &str) -> Unit {
        Unit {
            name: name.to_owned(),
            active_state: active_state.to_owned(),
            path: OwnedObjectPath::try_from("/org/freedesktop/systemd1/unit/x").unwrap(),
        }
    }

    #[test]
    fn states_per_included_unit_summary_over_all_and_version() {
        let reading = Reading {
            version: "252.22-1~deb12u1".to_owned(),
            system_state: "degraded".to_owned(),
            units: vec![
                unit("ssh.service", "active"),
                unit("boom.service", "failed"),
                unit("-.mount", "active"),
            ],
            included: vec![0, 1],
            service_types: HashMap::from([("ssh.service".to_owned(), "notify".to_owned())]),
        };
        let mut out = Exposition::new(crate::expose::Format::Text004);
        reading.write(&mut out);
        let text = out.finish();
        for line in [
            "node_systemd_system_running 0",
            "node_systemd_unit_state{name=\"ssh.service\",state=\"active\",type=\"notify\"} 1",
            "node_systemd_unit_state{name=\"ssh.service\",state=\"failed\",type=\"notify\"} 0",
            "node_systemd_unit_state{name=\"boom.service\",state=\"failed\",type=\"\"} 1",
            "node_systemd_units{state=\"active\"} 2",
            "node_systemd_units{state=\"failed\"} 1",
            "node_systemd_units{state=\"inactive\"} 0",
            "node_systemd_version{version=\"252.22-1~deb12u1\"} 252.22",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert!(!text.contains("-.mount"), "{text}");
        assert_eq!(text.matches("node_systemd_unit_state{").count(), 10);
    }

    #[test]
    fn default_patterns_leave_out_mounts_slices_and_targets_like_node_exporter() {
        let (include, exclude) = SystemdConfig::default().patterns().unwrap();
        let reported = |name: &str| include.is_match(name) && !exclude.is_match(name);
        assert!(reported("ssh.service") && reported("dbus.socket") && reported("apt.timer"));
        assert!(!reported("-.mount") && !reported("user.slice") && !reported("multi-user.target"));
        // Anchored: a unit whose name merely contains ".mount" is still reported.
        assert!(reported("x.mount-helper.service"));
    }

    #[test]
    fn a_bus_nobody_listens_on_is_a_failure_naming_it() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let address = format!("unix:path={}", dir.path().join("bus").display());
        let config = SystemdConfig {
            enabled: true,
            bus_address: address.clone(),
            ..SystemdConfig::default()
        };
        let collector = Systemd::new(&config, runtime.handle().clone());
        let mut out = Exposition::new(crate::expose::Format::Text004);
        let error = collector.collect(&mut out).unwrap_err().to_string();
        assert!(error.contains(&address), "{error}");
    }
}
