//! The OLAP store as the host runs it: the configured ClickHouse server, or the embedded
//! engine when none is configured.

use std::path::Path;

use super::client::{OlapClient, OlapConfig};
use super::embedded::EmbeddedClickHouse;
use super::error::OlapError;
use crate::config::ClickHouseSection;

/// A client of the app's ClickHouse, and the embedded engine behind it when there is one.
#[derive(Debug)]
pub struct OlapStore {
    client: OlapClient,
    embedded: Option<EmbeddedClickHouse>,
}

impl OlapStore {
    /// Uses `[clickhouse] url` when set (without contacting it), else starts the embedded
    /// engine over `<state_dir>/clickhouse/data` on `embedded_port` with `python`.
    /// Call it inside the tokio runtime that will use the client.
    pub async fn open(section: &ClickHouseSection, state_dir: &Path) -> Result<Self, OlapError> {
        match &section.url {
            Some(url) => Ok(Self {
                client: OlapClient::new(OlapConfig::external(section, url))?,
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
                    embedded: Some(engine),
                })
            }
        }
    }

    /// The client of the app's database.
    pub fn client(&self) -> &OlapClient {
        &self.client
    }

    /// The embedded engine, when the store runs one.
    pub fn embedded(&self) -> Option<&EmbeddedClickHouse> {
        self.embedded.as_ref()
    }

    /// Stops the embedded engine, if any.
    pub async fn shutdown(self) -> Result<(), OlapError> {
        match self.embedded {
            Some(engine) => engine.shutdown().await,
            None => Ok(()),
        }
    }
}
