//! The OLAP store: ClickHouse over its HTTP interface, through the `clickhouse` crate.
//!
//! - [`OlapClient`] ([`client`]): DDL, queries and the server version; errors are
//!   [`OlapError`]s classified as `Unavailable` (retry) or `Rejected` (give up on the rows).
//! - [`compat`]: what the server's ClickHouse version can store, checked before DDL runs.
//! - [`ddl`]: the app's schema as `CREATE ... IF NOT EXISTS` statements in dependency order,
//!   and [`ddl::apply`].
//! - [`view_check`]: views and materialized views checked against the planned tables
//!   before anything is applied.
//! - [`OlapClient::insert_json`] ([`writer`]): validated NDJSON records into a table.
//! - [`OlapQueryService`] ([`query`]): guests' read-only queries, the `query` host import.
//! - [`EmbeddedClickHouse`] ([`embedded`]): chDB serving the ClickHouse HTTP interface, the
//!   default store when `[clickhouse] url` is not set.
//! - [`OlapStore`] ([`store`]): the configured server or the embedded engine, which
//!   [`supervise`] starts again when it dies.
//!
//! ```no_run
//! # async fn example(app: &moose_model::app::App) -> Result<(), moose_olap::OlapError> {
//! use moose_olap::{ddl, ClickHouseSection, OlapStore};
//!
//! let store = OlapStore::open(&ClickHouseSection::default(), ".moose".as_ref()).await?;
//! let client = store.client();
//! ddl::apply(client, &ddl::plan(app, client.database())?).await?;
//! client.insert_json("Order", "{\"id\":\"a\"}\n", 1).await?;
//! store.shutdown().await
//! # }
//! ```

pub mod client;
pub mod compat;
pub mod ddl;
pub mod embedded;
pub mod error;
pub mod introspect;
pub mod query;
pub mod settings;
pub mod store;
pub mod supervise;
pub mod type_text;
pub mod view_check;
pub mod writer;

pub use client::{OlapClient, OlapConfig};
pub use embedded::{EmbeddedClickHouse, EmbeddedOptions};
pub use error::OlapError;
pub use query::{OlapQueryService, QueryLimits};
pub use settings::{ClickHouseCompression, ClickHouseSection};
pub use store::OlapStore;
pub use supervise::OlapHealth;
