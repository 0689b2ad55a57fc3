//! Turns the Docker Engine API's container and image descriptions into the inventory's types.

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, ImageSummary,
};

use std::path::PathBuf;

use super::inventory::{ContainerInfo, ContainerState, Health, ImageInfo};

/// The inventory's view of an inspected container, or `None` when Docker left out its id.
pub(crate) fn container_info(response: ContainerInspectResponse) -> Option<ContainerInfo> {
    let id = response.id?;
    let state = response.state.unwrap_or_default();
    let status = match state.status {
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::STOPPING) => {
            ContainerState::Running
        }
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited,
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        Some(ContainerStateStatusEnum::CREATED | ContainerStateStatusEnum::EMPTY) | None => {
            ContainerState::Created
        }
    };
    let has_process = matches!(status, ContainerState::Running | ContainerState::Paused);
    let pid = state
        .pid
        .filter(|_| has_process)
        .and_then(|pid| u32::try_from(pid).ok())
        .filter(|pid| *pid > 0);
    let health = match state.health.and_then(|h| h.status) {
        Some(HealthStatusEnum::STARTING) => Some(Health::Starting),
        Some(HealthStatusEnum::HEALTHY) => Some(Health::Healthy),
        Some(HealthStatusEnum::UNHEALTHY) => Some(Health::Unhealthy),
        Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) | None => None,
    };
    let config = response.config.unwrap_or_default();
    let network_mode = response.host_config.and_then(|h| h.network_mode);
    // overlay2 (Docker's default) and fuse-overlayfs name the upper directory; other drivers
    // (btrfs, zfs, vfs) do not, and their containers get no writable-layer figures.
    let writable_layer =
        (response.graph_driver).and_then(|driver| driver.data.get("UpperDir").map(PathBuf::from));
    Some(ContainerInfo {
        name: response
            .name
            .as_deref()
            .unwrap_or(&id)
            .trim_start_matches('/')
            .to_owned(),
        id,
        image: config.image.unwrap_or_default(),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        state: status,
        started_at: state.started_at.as_deref().and_then(parse_timestamp),
        restart_count: response
            .restart_count
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        health,
        pid,
        host_network: network_mode.as_deref() == Some("host"),
        writable_layer,
    })
}

/// The inventory's view of an image.
pub(crate) fn image_info(summary: ImageSummary) -> ImageInfo {
    ImageInfo {
        id: summary.id,
        repo_tags: summary
            .repo_tags
            .into_iter()
            .filter(|tag| tag != "<none>:<none>")
            .collect(),
        size_bytes: u64::try_from(summary.size).unwrap_or(0),
    }
}

/// Parses Docker's UTC timestamps (`2024-05-01T12:34:56.123456789Z`) into seconds since the
/// epoch. Docker writes `0001-01-01T00:00:00Z` for "never", which gives `None`, as does any
/// other text. Hand-written: the one format Docker uses does not justify a date-time crate.
pub(crate) fn parse_timestamp(text: &str) -> Option<f64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut date_fields = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (
        date_fields.next()?.ok()?,
        date_fields.next()?.ok()?,
        date_fields.next()?.ok()?,
    );
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock_fields = clock.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute, second) = (
        clock_fields.next()?.ok()?,
        clock_fields.next()?.ok()?,
        clock_fields.next()?.ok()?,
    );
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..=60).contains(&second)
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    let fraction = if fraction.is_empty() {
        0.0
    } else {
        format!("0.{fraction}").parse::<f64>().ok()?
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    (seconds > 0).then_some(seconds as f64 + fraction)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamps_parse_to_epoch_seconds() {
        // `date -u -d 2024-05-01T12:34:56Z +%s` prints 1714566896.
        assert_eq!(
            parse_timestamp("2024-05-01T12:34:56Z"),
            Some(1_714_566_896.0)
        );
        assert_eq!(
            parse_timestamp("2024-05-01T12:34:56.5Z"),
            Some(1_714_566_896.5)
        );
        // `date -u -d 2000-02-29T00:00:00Z +%s` prints 951782400.
        assert_eq!(
            parse_timestamp("2000-02-29T00:00:00.000000000Z"),
            Some(951_782_400.0)
        );
        assert_eq!(parse_timestamp("0001-01-01T00:00:00Z"), None);
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-05-01T12:34:56+02:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn inspect_response_becomes_container_info() {
        let json = serde_json::json!({
            "Id": "abc123",
            "Name": "/web",
            "RestartCount": 2,
            "State": {
                "Status": "running", "Running": true, "Pid": 4242,
                "StartedAt": "2024-05-01T12:34:56Z",
                "Health": { "Status": "healthy", "FailingStreak": 0 }
            },
            "Config": { "Image": "nginx:1.27", "Labels": { "team": "web" }, "Env": ["SECRET=x"] },
            "HostConfig": { "NetworkMode": "host" }
        });
        let response: ContainerInspectResponse = serde_json::from_value(json).unwrap();
        let info = container_info(response).unwrap();
        assert_eq!(info.name, "web");
        assert_eq!(info.image, "nginx:1.27");
        assert_eq!(info.state, ContainerState::Running);
        assert_eq!(info.pid, Some(4242));
        assert_eq!(info.restart_count, 2);
        assert_eq!(info.health, Some(Health::Healthy));
        assert_eq!(info.started_at, Some(1_714_566_896.0));
        assert!(info.host_network);
        assert_eq!(info.labels.get("team").map(String::as_str), Some("web"));
    }

    #[test]
    fn exited_container_has_no_pid() {
        let json = serde_json::json!({
            "Id": "abc", "Name": "/job",
            "State": { "Status": "exited", "Pid": 0, "StartedAt": "0001-01-01T00:00:00Z" }
        });
        let info = container_info(serde_json::from_value(json).unwrap()).unwrap();
        assert_eq!(info.state, ContainerState::Exited);
        assert_eq!(info.pid, None);
        assert_eq!(info.started_at, None);
    }
}
