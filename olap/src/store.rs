//! The OLAP store as the host runs it: the configured ClickHouse server, or the embedded
//! engine when none is configured, supervised so it is started again when it dies.

use std::path::Path;
use std::sync::Arc;

use super::client::{OlapClient, OlapConfig};
use super::embedded::EmbeddedClickHouse;
use super::error::OlapError;
use super::supervise::{OlapHealth, Supervisor};
use crate::settings::ClickHouseSection;

/// A client of the app's ClickHouse, and the embedded engine behind it when there is one.
#[derive(Debug)]
pub struct OlapStore {
    client: OlapClient,
    health: Arc<OlapHealth>,
    embedded: Option<Supervisor>,
}

impl OlapStore {
    /// Uses `[clickhouse] url` when set (without contacting it), else starts the embedded
    /// engine over `<state_dir>/clickhouse/data` on `embedded_port` with `python`.
    /// Call it inside the tokio runtime that will use the client.
    pub async fn open(section: &ClickHouseSection, state_dir: &Path) -> Result<Self, OlapError> {
        let health = Arc::new(OlapHealth::default());
        match &section.url {
            Some(url) => Ok(Self {
                client: OlapClient::new(OlapConfig::external(section, url))?,
                health,
                embedded: None,
            }),
            None if section.cluster.is_some() => Err(OlapError::Config(
                "[clickhouse] cluster needs [clickhouse] url: the embedded engine is a single server"
                    .into(),
            )),
            None => {
                let engine = EmbeddedClickHouse::start(
                    state_dir,
                    section.python.as_deref(),
                    section.embedded_port,
                )
                .await?;
                let client = OlapClient::new(OlapConfig::embedded(section, engine.url()))?;
                Ok(Self {
                    client,
                    embedded: Some(Supervisor::start(engine, health.clone())?),
                    health,
                })
            }
        }
    }

    /// The client of the app's database.
    pub fn client(&self) -> &OlapClient {
        &self.client
    }

    /// Whether the store is up: the embedded engine runs (a configured server is assumed
    /// up; its failures show in the requests to it).
    pub fn health(&self) -> Arc<OlapHealth> {
        self.health.clone()
    }

    /// Stops the embedded engine, if any.
    pub async fn shutdown(self) -> Result<(), OlapError> {
        match self.embedded {
            Some(supervisor) => tokio::task::spawn_blocking(move || supervisor.stop())
                .await
                .map_err(|e| {
                    OlapError::Engine(format!("stopping the embedded engine failed: {e}"))
                })?,
            None => Ok(()),
        }
    }
}
