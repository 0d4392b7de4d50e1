//! `[clickhouse]` of `moose.config.toml`: which ClickHouse the app uses and how.

use std::path::PathBuf;

use serde::Deserialize;

/// Default of [`ClickHouseSection::insert_interval_ms`].
pub const DEFAULT_INSERT_INTERVAL_MS: u64 = 200;

/// `[clickhouse]`: the OLAP store.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseSection {
    /// HTTP URL of a ClickHouse server; when absent the host runs the embedded engine.
    pub url: Option<String>,
    pub database: String,
    pub user: String,
    pub password: String,
    /// Python interpreter with `chdb-core` for the embedded engine; by default the one
    /// `scripts/setup.sh` installs.
    pub python: Option<PathBuf>,
    /// Port the embedded engine serves the ClickHouse HTTP interface on; 0 picks a free one.
    pub embedded_port: u16,
    /// Cluster of the `url` server (`<remote_servers>` in its config): every DDL statement
    /// runs `ON CLUSTER`, tables are replicated and fronted by `Distributed` tables.
    pub cluster: Option<String>,
    /// Compression of request and response bodies to the `url` server.
    pub compression: ClickHouseCompression,
    /// Shortest time between two inserts into one table while its stream keeps up: under
    /// load, rows gather into fewer, larger inserts (fewer parts to write and merge); 0
    /// inserts as soon as rows arrive. A backlog is inserted without pause.
    pub insert_interval_ms: u64,
}

/// How bodies to and from a ClickHouse server are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClickHouseCompression {
    /// ClickHouse's own LZ4 block format (`compress=1`), what servers support.
    #[default]
    Lz4,
    /// None, for endpoints without ClickHouse's block compression (the embedded engine's
    /// HTTP interface, some proxies).
    None,
}

impl Default for ClickHouseSection {
    fn default() -> Self {
        Self {
            url: None,
            database: "local".into(),
            user: "default".into(),
            password: String::new(),
            python: None,
            embedded_port: 0,
            cluster: None,
            compression: ClickHouseCompression::default(),
            insert_interval_ms: DEFAULT_INSERT_INTERVAL_MS,
        }
    }
}
