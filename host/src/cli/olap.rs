//! The ClickHouse an offline command (`moose plan`, `moose build`) talks to: the one given
//! or configured, else the app's embedded engine (the running `moose dev`'s, or one
//! started for the command).

use std::path::Path;

use anyhow::Context;

use crate::config::Project;
use moose_olap::view_check::{self, ViewCheck};
use moose_olap::{ClickHouseSection, OlapClient, OlapConfig, OlapStore};

/// A client of the ClickHouse `config` names (at `url`), once it answers.
pub async fn answering(config: OlapConfig, url: &str) -> anyhow::Result<OlapClient> {
    let client = OlapClient::new(config)?;
    client
        .ping()
        .await
        .with_context(|| format!("ClickHouse at {url} does not answer"))?;
    Ok(client)
}

/// A client of a ClickHouse to read from (`moose seed`, `moose init --from-clickhouse`):
/// `database` at `url` as `user`, whose password is in `MOOSE_SEED_PASSWORD`, on one
/// server, compressed unless `uncompressed`.
pub async fn source(
    section: &ClickHouseSection,
    url: &str,
    database: &str,
    user: &str,
    uncompressed: bool,
) -> anyhow::Result<OlapClient> {
    let mut config = OlapConfig::external(section, url);
    config.database = database.to_string();
    config.user = user.to_string();
    config.password = std::env::var("MOOSE_SEED_PASSWORD").unwrap_or_default();
    config.cluster = None;
    config.lz4 = !uncompressed;
    answering(config, url).await
}

/// The client of the server to use, and the embedded engine started for it (shut it
/// down when done). `purpose` ends the line printed when an engine is started.
pub async fn connect(
    project: &Project,
    url: Option<&str>,
    purpose: &str,
) -> anyhow::Result<(OlapClient, Option<OlapStore>)> {
    let section = &project.config.clickhouse;
    if let Some(url) = url.or(section.url.as_deref()) {
        let client = answering(OlapConfig::external(section, url), url).await?;
        return Ok((client, None));
    }
    let state_dir = project.state_dir();
    if let Some(url) = running_engine(&state_dir) {
        let client = OlapClient::new(OlapConfig::embedded(section, &url))?;
        if client.ping().await.is_ok() {
            return Ok((client, None));
        }
    }
    eprintln!(
        "Starting the embedded ClickHouse engine over {} {purpose}...",
        state_dir.join("clickhouse").display()
    );
    crate::toolchain::engine::ensure(section)?;
    let store = OlapStore::open(section, &state_dir)
        .await
        .context("no ClickHouse to compare with (give --clickhouse-url or set [clickhouse] url)")?;
    Ok((store.client().clone(), Some(store)))
}

/// The URL of the app's embedded engine as a running `moose dev` left it.
fn running_engine(state_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(state_dir.join("clickhouse/server.port")).ok()?;
    let port: u16 = text.trim().parse().ok()?;
    Some(format!("http://127.0.0.1:{port}"))
}

/// Refuses `app` when a view or materialized view does not fit the planned tables (see
/// [`view_check::check_views`]); prints a warning when the server would not let it check.
pub async fn check_views(client: &OlapClient, app: &moose_model::app::App) -> anyhow::Result<()> {
    match view_check::check_views(client, app).await? {
        ViewCheck::Passed => {}
        ViewCheck::Skipped { reason } => {
            eprintln!("warning: views not checked against the planned tables: {reason}")
        }
    }
    Ok(())
}
