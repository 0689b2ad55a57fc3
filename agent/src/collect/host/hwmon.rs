//! Temperatures and fan speeds from `/sys/class/hwmon`, as node_exporter's `hwmon` collector.

use std::path::{Path, PathBuf};

use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// Sensor file kinds exposed: file prefix, file suffix, family, help, divisor to the unit.
const SENSORS: [(&str, &str, &str, &str, f64); 4] = [
    (
        "temp",
        "_input",
        "node_hwmon_temp_celsius",
        "Hardware monitor for temperature (input)",
        1000.0,
    ),
    (
        "temp",
        "_max",
        "node_hwmon_temp_max_celsius",
        "Hardware monitor for temperature (max)",
        1000.0,
    ),
    (
        "temp",
        "_crit",
        "node_hwmon_temp_crit_celsius",
        "Hardware monitor for temperature (crit)",
        1000.0,
    ),
    (
        "fan",
        "_input",
        "node_hwmon_fan_rpm",
        "Hardware monitor for fan revolutions per minute (input)",
        1.0,
    ),
];

/// One reading: which of [`SENSORS`], the chip and sensor labels, and the value.
struct Reading {
    kind: usize,
    chip: String,
    sensor: String,
    value: f64,
}

/// `node_hwmon_*{chip,sensor}` for every chip, plus the chip and sensor name annotations.
pub(super) struct Hwmon {
    class_hwmon: PathBuf,
}

impl Hwmon {
    pub(super) fn new(sys_root: &Path) -> Self {
        Hwmon {
            class_hwmon: sys_root.join("class/hwmon"),
        }
    }
}

/// node_exporter's `cleanMetricName`: lower case, anything else than `[a-z0-9:_]` becomes `_`.
fn clean(name: &str) -> String {
    let cleaned: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | ':' | '_' => c,
            _ => '_',
        })
        .collect();
    cleaned.trim_matches('_').to_owned()
}

/// node_exporter's stable chip name: `<bus>_<device>` from the `device` link (sensor numbering
/// changes with module load order; device paths do not), else the `name` file, else `hwmonN`.
fn chip_name(dir: &Path) -> String {
    if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
        let name = device.file_name().map(|n| clean(&n.to_string_lossy()));
        let bus = device
            .parent()
            .and_then(Path::file_name)
            .map(|n| clean(&n.to_string_lossy()));
        match (bus, name) {
            (Some(bus), Some(name)) if !bus.is_empty() && !name.is_empty() => {
                return format!("{bus}_{name}");
            }
            (_, Some(name)) if !name.is_empty() => return name,
            _ => {}
        }
    }
    if let Ok(name) = std::fs::read_to_string(dir.join("name")) {
        let name = clean(&name);
        if !name.is_empty() {
            return name;
        }
    }
    clean(&dir.file_name().unwrap_or_default().to_string_lossy())
}

/// Reads the sensor files of one chip directory (and of its `device/`, where old drivers put
/// them) into `readings` and `labels`.
fn read_chip(dir: &Path, chip: &str, readings: &mut Vec<Reading>, labels: &mut Vec<[String; 3]>) {
    for sensor_dir in [dir.to_owned(), dir.join("device")] {
        let Ok(entries) = std::fs::read_dir(&sensor_dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            let read = || std::fs::read_to_string(entry.path()).ok();
            if let Some(sensor) = file.strip_suffix("_label") {
                if let Some(label) = read() {
                    labels.push([chip.to_owned(), label.trim().to_owned(), sensor.to_owned()]);
                }
                continue;
            }
            for (kind, (prefix, suffix, ..)) in SENSORS.iter().enumerate() {
                let Some(sensor) = file.strip_suffix(suffix) else {
                    continue;
                };
                let is_numbered = sensor
                    .strip_prefix(prefix)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if !is_numbered {
                    continue;
                }
                if let Some(value) = read().and_then(|t| t.trim().parse::<f64>().ok()) {
                    let value = value / SENSORS[kind].4;
                    let (chip, sensor) = (chip.to_owned(), sensor.to_owned());
                    readings.push(Reading {
                        kind,
                        chip,
                        sensor,
                        value,
                    });
                }
            }
        }
    }
}

impl Collector for Hwmon {
    fn name(&self) -> &'static str {
        "hwmon"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // Virtual machines and containers often have no hwmon class at all.
        let Ok(entries) = std::fs::read_dir(&self.class_hwmon) else {
            return Ok(());
        };
        let mut chips = Vec::new();
        let mut readings = Vec::new();
        let mut labels = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let dir = entry.path();
            let chip = chip_name(&dir);
            read_chip(&dir, &chip, &mut readings, &mut labels);
            let name = std::fs::read_to_string(dir.join("name")).unwrap_or_default();
            chips.push((chip, name.trim().to_owned()));
        }
        chips.sort();
        readings.sort_by(|a, b| (a.kind, &a.chip, &a.sensor).cmp(&(b.kind, &b.chip, &b.sensor)));
        labels.sort();
        let mut family = out.family(
            "node_hwmon_chip_names",
            "Annotation metric for human-readable chip names",
            MetricType::Gauge,
        );
        for (chip, name) in &chips {
            family.sample(&[("chip", chip), ("chip_name", name)], 1.0);
        }
        if !labels.is_empty() {
            let mut family = out.family(
                "node_hwmon_sensor_label",
                "Label for given chip and sensor",
                MetricType::Gauge,
            );
            for [chip, label, sensor] in &labels {
                family.sample(&[("chip", chip), ("label", label), ("sensor", sensor)], 1.0);
            }
        }
        for (kind, (_, _, name, help, _)) in SENSORS.iter().enumerate() {
            let mut of_kind = readings.iter().filter(|r| r.kind == kind).peekable();
            if of_kind.peek().is_none() {
                continue;
            }
            let mut family = out.family(name, help, MetricType::Gauge);
            for reading in of_kind {
                family.sample(
                    &[("chip", &reading.chip), ("sensor", &reading.sensor)],
                    reading.value,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn chips_are_named_by_device_path_then_name_file() {
        let text = scrape_one(&Hwmon::new(&fixture("sys")));
        assert!(
            text.contains(
                "node_hwmon_chip_names{chip=\"platform_coretemp_0\",chip_name=\"coretemp\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("node_hwmon_chip_names{chip=\"acpitz\",chip_name=\"acpitz\"} 1\n"));
        assert!(text.contains(
            "node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 45\n"
        ));
        assert!(text.contains("node_hwmon_temp_celsius{chip=\"acpitz\",sensor=\"temp1\"} 27.8\n"));
        assert!(text.contains(
            "node_hwmon_temp_crit_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 100\n"
        ));
        assert!(text.contains(
            "node_hwmon_sensor_label{chip=\"platform_coretemp_0\",label=\"Package id 0\",sensor=\"temp1\"} 1\n"
        ));
        assert!(
            text.contains(
                "node_hwmon_fan_rpm{chip=\"platform_coretemp_0\",sensor=\"fan1\"} 1200\n"
            )
        );
    }

    #[test]
    fn no_hwmon_class_is_not_an_error() {
        assert_eq!(scrape_one(&Hwmon::new(Path::new("/nonexistent"))), "");
    }
}
