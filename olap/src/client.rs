//! The ClickHouse client: one `clickhouse` crate client per server, for DDL, queries and
//! inserts.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clickhouse::Compression;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

use tokio::sync::OnceCell;

use super::compat::{ServerInfo, ServerVersion, OPTIONAL_SETTINGS};
use super::ddl::{quote_string, Target};
use super::error::OlapError;
use crate::settings::ClickHouseSection;

/// How to reach the OLAP store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OlapConfig {
    /// HTTP URL of the server, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// The app's database; created by [`OlapClient::ensure_database`].
    pub database: String,
    /// User name, sent as `X-ClickHouse-User`.
    pub user: String,
    /// Password, sent as `X-ClickHouse-Key` when not empty.
    pub password: String,
    /// LZ4-compress request and response bodies in ClickHouse's block format. Real
    /// servers support it; the embedded engine does not (it speaks gzip and deflate).
    pub lz4: bool,
    /// Longest a DDL statement, an insert or an internal query may take end to end.
    pub request_timeout: Duration,
    /// The cluster the schema is created on (`ON CLUSTER`, replicated and distributed
    /// tables), or `None` for a single server.
    pub cluster: Option<String>,
}

impl OlapConfig {
    /// Default end-to-end timeout of one request.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

    /// The configured external server (`[clickhouse] url = ...`), with LZ4 compression.
    pub fn external(section: &ClickHouseSection, url: &str) -> Self {
        Self {
            url: url.to_string(),
            database: section.database.clone(),
            user: section.user.clone(),
            password: section.password.clone(),
            lz4: section.compression == crate::settings::ClickHouseCompression::Lz4,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            cluster: section.cluster.clone(),
        }
    }

    /// The embedded engine at `url` (see [`super::EmbeddedClickHouse::url`]): no LZ4.
    pub fn embedded(section: &ClickHouseSection, url: &str) -> Self {
        Self {
            lz4: false,
            cluster: None,
            ..Self::external(section, url)
        }
    }
}

/// A client of one ClickHouse server and the app's database on it. Cheap to clone.
///
/// Create it inside the tokio runtime that uses it: the underlying HTTP connection pool
/// runs its connections on that runtime.
#[derive(Clone)]
pub struct OlapClient {
    config: OlapConfig,
    /// Requests outside any database (`CREATE DATABASE`).
    server: clickhouse::Client,
    /// Requests in the app's database.
    db: clickhouse::Client,
    /// The server's version and features, detected on first use.
    server_info: Arc<OnceCell<ServerInfo>>,
}

impl std::fmt::Debug for OlapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OlapClient")
            .field("url", &self.config.url)
            .field("database", &self.config.database)
            .finish_non_exhaustive()
    }
}

/// The connector under the `clickhouse` client: the crate's defaults plus TCP_NODELAY.
/// Inserts send their body after the request head; with Nagle's algorithm the body waits
/// for the server's delayed ACK (about 40 ms per insert on Linux).
fn connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_keepalive(Some(Duration::from_secs(60)));
    connector
}

impl OlapClient {
    /// A client for `config`; fails only on an unusable configuration (no request is sent).
    pub fn new(config: OlapConfig) -> Result<Self, OlapError> {
        let rest = config.url.strip_prefix("http://").ok_or_else(|| {
            OlapError::Config(format!(
                "ClickHouse URL `{}`: only http:// URLs are supported",
                config.url
            ))
        })?;
        if rest.trim_end_matches('/').is_empty() || rest.contains(char::is_whitespace) {
            return Err(OlapError::Config(format!(
                "invalid ClickHouse URL `{}`",
                config.url
            )));
        }
        if config.database.is_empty() {
            return Err(OlapError::Config(
                "the ClickHouse database name is empty".into(),
            ));
        }
        let http = HyperClient::builder(TokioExecutor::new())
            // Below the idle timeouts of ClickHouse (3-10 s) and of the embedded engine (60 s).
            .pool_idle_timeout(Duration::from_secs(2))
            .build(connector());
        let mut server = clickhouse::Client::with_http_client(http)
            .with_url(config.url.trim_end_matches('/'))
            .with_user(config.user.clone())
            .with_compression(if config.lz4 {
                Compression::Lz4
            } else {
                Compression::None
            })
            .with_validation(false);
        if !config.password.is_empty() {
            server = server.with_password(config.password.clone());
        }
        let db = server.clone().with_database(config.database.clone());
        Ok(Self {
            config,
            server,
            db,
            server_info: Arc::default(),
        })
    }

    /// The same client bound to `database` instead of the app's (same server, same
    /// detected version); statements with unqualified names then resolve in `database`.
    pub fn with_database(&self, database: &str) -> Self {
        Self {
            config: OlapConfig {
                database: database.to_string(),
                ..self.config.clone()
            },
            server: self.server.clone(),
            db: self.server.clone().with_database(database.to_string()),
            server_info: self.server_info.clone(),
        }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// The app's database.
    pub fn database(&self) -> &str {
        &self.config.database
    }

    /// The configuration this client was made from.
    pub fn config(&self) -> &OlapConfig {
        &self.config
    }

    /// The underlying `clickhouse` client, bound to the app's database.
    pub fn inner(&self) -> &clickhouse::Client {
        &self.db
    }

    /// An error of a request made through [`OlapClient::inner`], classified.
    pub fn error(&self, error: clickhouse::error::Error) -> OlapError {
        OlapError::from_client(error, &self.config.url)
    }

    /// Runs `future` within the request timeout.
    pub(crate) async fn timed<T>(
        &self,
        timeout: Duration,
        future: impl std::future::Future<Output = Result<T, clickhouse::error::Error>>,
    ) -> Result<T, OlapError> {
        match tokio::time::timeout(timeout, future).await {
            Ok(result) => result.map_err(|e| self.error(e)),
            Err(_) => Err(OlapError::Unavailable {
                code: None,
                message: format!(
                    "request to {} took longer than {timeout:?}",
                    self.config.url
                ),
            }),
        }
    }

    /// The server's version, `SELECT version()`.
    pub async fn version(&self) -> Result<String, OlapError> {
        let bytes = self
            .fetch(&self.server, "SELECT version()", "TabSeparated", &[])
            .await?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_string())
    }

    /// The server's version and optional features; queried on the first call (two
    /// requests), then cached for the life of the client and its clones.
    pub async fn server_info(&self) -> Result<&ServerInfo, OlapError> {
        self.server_info.get_or_try_init(|| self.detect()).await
    }

    async fn detect(&self) -> Result<ServerInfo, OlapError> {
        #[derive(serde::Deserialize)]
        struct Row {
            version: String,
            settings: Vec<String>,
        }
        let names: Vec<String> = OPTIONAL_SETTINGS.iter().map(|s| quote_string(s)).collect();
        let sql = format!(
            "SELECT version() AS version, \
             (SELECT groupArray(name) FROM system.settings WHERE name IN ({})) AS settings",
            names.join(", ")
        );
        let bytes = self.fetch(&self.server, &sql, "JSONEachRow", &[]).await?;
        let row: Row = serde_json::from_slice(&bytes).map_err(|e| OlapError::Unavailable {
            code: None,
            message: format!("{}: unexpected reply to the version query: {e}", self.url()),
        })?;
        let version = ServerVersion::parse(&row.version).ok_or_else(|| OlapError::Unavailable {
            code: None,
            message: format!(
                "{}: unrecognised server version `{}`",
                self.url(),
                row.version
            ),
        })?;
        // Servers without query parameters take `param_p` for an unknown setting.
        let query_parameters = match self
            .fetch(
                &self.server,
                "SELECT {p:UInt8}",
                "TabSeparated",
                &[("param_p", "1")],
            )
            .await
        {
            Ok(_) => true,
            Err(OlapError::Rejected { .. }) => false,
            Err(error) => return Err(error),
        };
        tracing::debug!(version = %row.version, query_parameters, "detected ClickHouse");
        Ok(ServerInfo {
            version_text: row.version,
            version,
            settings: row.settings.into_iter().collect::<BTreeSet<_>>(),
            query_parameters,
        })
    }

    /// Where the app's schema goes on this server: its database, the configured cluster
    /// and the server's version (see [`Self::server_info`]).
    pub async fn target(&self) -> Result<Target, OlapError> {
        let info = self.server_info().await?;
        Ok(Target {
            database: self.config.database.clone(),
            cluster: self.config.cluster.clone(),
            server: Some(info.version),
        })
    }

    /// Succeeds when the server answers a query.
    pub async fn ping(&self) -> Result<(), OlapError> {
        self.fetch(&self.server, "SELECT 1", "TabSeparated", &[])
            .await
            .map(drop)
    }

    /// `CREATE DATABASE IF NOT EXISTS` for the app's database.
    pub async fn ensure_database(&self) -> Result<(), OlapError> {
        let target = Target {
            database: self.config.database.clone(),
            cluster: self.config.cluster.clone(),
            server: None,
        };
        self.execute_on_server(&super::ddl::create_database(&target))
            .await
    }

    /// Runs one statement outside any database (the app's database may not exist yet).
    pub async fn execute_on_server(&self, sql: &str) -> Result<(), OlapError> {
        self.run(&self.server, sql).await
    }

    /// Runs one statement (DDL, `INSERT ... SELECT`, ...) in the app's database.
    pub async fn execute(&self, sql: &str) -> Result<(), OlapError> {
        self.run(&self.db, sql).await
    }

    /// Runs `sql` in the app's database and returns the whole output in `format`;
    /// `settings` apply to this query only.
    pub async fn fetch_bytes(
        &self,
        sql: &str,
        format: &str,
        settings: &[(&str, &str)],
    ) -> Result<Bytes, OlapError> {
        self.fetch(&self.db, sql, format, settings).await
    }

    async fn run(&self, client: &clickhouse::Client, sql: &str) -> Result<(), OlapError> {
        self.timed(self.config.request_timeout, client.query_raw(sql).execute())
            .await
    }

    async fn fetch(
        &self,
        client: &clickhouse::Client,
        sql: &str,
        format: &str,
        settings: &[(&str, &str)],
    ) -> Result<Bytes, OlapError> {
        let mut query = client.query_raw(sql);
        for (name, value) in settings {
            query = query.with_setting(*name, *value);
        }
        let mut cursor = query.fetch_bytes(format).map_err(|e| self.error(e))?;
        self.timed(self.config.request_timeout, cursor.collect())
            .await
    }
}
