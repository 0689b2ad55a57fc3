//! Discovers containers through the Docker Engine API: one full listing, then Docker's event
//! stream keeps the inventory current; when Docker goes away, retries with backoff.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::errors::Error as BollardError;
use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::{
    EventsOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder, ListImagesOptions,
};
use bollard::{API_DEFAULT_VERSION, Docker};
use futures_util::StreamExt as _;

use super::inspect::{container_info, image_info};
use super::inventory::Inventory;
use super::writable_layer::LayerUsages;

/// Seconds a single API request may take.
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why a session with Docker ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum DockerError {
    /// The socket is missing, forbidden or nobody listens on it.
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket path.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An API call failed.
    #[error("Docker API error: {0}")]
    Api(#[from] BollardError),
    /// Docker closed the event stream (it is stopping).
    #[error("Docker closed the event stream")]
    StreamEnded,
}

/// The task that keeps an [`Inventory`] in step with Docker.
#[derive(Debug)]
pub struct Discovery {
    socket: PathBuf,
    inventory: Inventory,
    /// Where to keep the writable layers' measurements and how often to measure, when on.
    layers: Option<(LayerUsages, Duration)>,
}

impl Discovery {
    /// Discovery through the Docker socket at `socket`, feeding `inventory` (and, when given,
    /// the writable layers' measurements).
    pub(crate) fn new(
        socket: PathBuf,
        inventory: Inventory,
        layers: Option<(LayerUsages, Duration)>,
    ) -> Self {
        Discovery {
            socket,
            inventory,
            layers,
        }
    }

    /// Runs forever: connects, lists, follows events; on failure logs one line per outage,
    /// marks Docker down and retries with backoff. Measures the writable layers beside.
    pub async fn run(mut self) {
        if let Some((layers, interval)) = self.layers.take() {
            tokio::spawn(layers.run(self.inventory.clone(), interval));
        }
        let mut backoff = MIN_BACKOFF;
        let mut outage_reported = false;
        loop {
            let error = match self.connect_and_sync().await {
                Ok((docker, since)) => {
                    backoff = MIN_BACKOFF;
                    outage_reported = false;
                    self.follow_events(&docker, &since).await
                }
                Err(error) => error,
            };
            self.inventory.set_docker_up(false);
            if outage_reported {
                tracing::debug!(socket = %self.socket.display(), %error, "Docker still unavailable");
            } else {
                tracing::warn!(
                    socket = %self.socket.display(),
                    %error,
                    "Docker unavailable: container metrics are off (osprey_docker_up 0) until it answers; host metrics go on"
                );
                outage_reported = true;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Connects, negotiates the API version, loads every container and image, and returns the
    /// client with the moment to follow events from (taken before listing, so no event between
    /// the listing and the subscription is lost).
    async fn connect_and_sync(&self) -> Result<(Docker, String), DockerError> {
        let path = self.socket.display().to_string();
        // A plain connect first: its error says plainly whether the socket is missing,
        // forbidden or dead, where the HTTP client's error would not.
        tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|source| DockerError::Connect {
                path: path.clone(),
                source,
            })?;
        // bollard's default API version is newer than Docker 20.10's 1.41: negotiate down.
        let docker = Docker::connect_with_unix(&path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)?
            .negotiate_version()
            .await?;
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs().saturating_sub(1))
            .to_string();
        let listed = docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
            .await?;
        let mut containers = Vec::with_capacity(listed.len());
        for id in listed.into_iter().filter_map(|summary| summary.id) {
            if let Some(info) = inspect(&docker, &id).await? {
                containers.push(info);
            }
        }
        let count = containers.len();
        self.inventory.replace_containers(containers);
        self.refresh_images(&docker).await?;
        self.inventory.set_docker_up(true);
        let version = docker.client_version();
        tracing::info!(
            socket = %path,
            api_version = %format!("{}.{}", version.major_version, version.minor_version),
            containers = count,
            "connected to Docker"
        );
        Ok((docker, since))
    }

    /// Applies Docker's container and image events to the inventory until the stream fails.
    async fn follow_events(&self, docker: &Docker, since: &str) -> DockerError {
        let filters = HashMap::from([("type", vec!["container", "image"])]);
        let options = EventsOptionsBuilder::new()
            .since(since)
            .filters(&filters)
            .build();
        let mut events = docker.events(Some(options));
        while let Some(event) = events.next().await {
            let applied = match event {
                Ok(event) => self.apply(docker, event).await,
                Err(error) => Err(error.into()),
            };
            if let Err(error) = applied {
                return error;
            }
        }
        DockerError::StreamEnded
    }

    async fn apply(&self, docker: &Docker, event: EventMessage) -> Result<(), DockerError> {
        let action = event.action.as_deref().unwrap_or_default();
        match event.typ {
            Some(EventMessageTypeEnum::CONTAINER) => {
                let Some(id) = event.actor.and_then(|actor| actor.id) else {
                    return Ok(());
                };
                if action == "destroy" {
                    self.inventory.remove_container(&id);
                } else if changes_container(action) {
                    match inspect(docker, &id).await? {
                        Some(info) => self.inventory.upsert_container(info),
                        None => self.inventory.remove_container(&id),
                    }
                }
            }
            Some(EventMessageTypeEnum::IMAGE) => self.refresh_images(docker).await?,
            _ => {}
        }
        Ok(())
    }

    async fn refresh_images(&self, docker: &Docker) -> Result<(), DockerError> {
        let images = docker.list_images(None::<ListImagesOptions>).await?;
        self.inventory
            .replace_images(images.into_iter().map(image_info).collect());
        Ok(())
    }
}

/// Whether a container event can change what the inventory holds (exec, attach, resize and
/// similar events cannot).
fn changes_container(action: &str) -> bool {
    matches!(
        action,
        "create"
            | "start"
            | "restart"
            | "die"
            | "stop"
            | "pause"
            | "unpause"
            | "update"
            | "rename"
            | "oom"
    ) || action.starts_with("health_status")
}

/// Inspects one container; `None` when it is already gone.
async fn inspect(
    docker: &Docker,
    id: &str,
) -> Result<Option<super::inventory::ContainerInfo>, DockerError> {
    match docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
    {
        Ok(response) => Ok(container_info(response)),
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lifecycle_events_trigger_an_inspect() {
        for action in [
            "start",
            "die",
            "restart",
            "health_status: healthy",
            "update",
        ] {
            assert!(changes_container(action), "{action}");
        }
        for action in [
            "exec_start: sh",
            "exec_die",
            "attach",
            "resize",
            "top",
            "kill",
        ] {
            assert!(!changes_container(action), "{action}");
        }
    }
}
