//! The app's ClickHouse schema: pure functions that produce DDL, and [`apply`] that runs it.
//!
//! Every statement is `IF NOT EXISTS`, so applying the same plan again (on every start) is
//! a no-op. Identifiers are always backquoted; names are qualified with the database.
//! Order: the database, then tables, then aggregation targets, then materialized views and
//! views, each view after the views it reads.
//!
//! On a cluster ([`Target::cluster`]) every statement runs `ON CLUSTER`, and each table
//! `T` is two tables: `T_local`, a `Replicated*MergeTree` on every replica holding the
//! shard's rows, and `T`, a `Distributed` table over the `T_local`s that inserts and
//! queries use, so the app's SQL and the host's writers name tables as on one server.
//! Materialized views read and write the distributed tables: see
//! [`create_materialized_view`].
//!
//! The statements are built by pure functions, one module per concern: [`target`] (single
//! server or cluster), [`columns`] (types, column clauses and engines), [`create`],
//! [`storage`] (table options), [`dead_letter`] and [`alter`]; this module orders a whole
//! schema ([`plan`]) and runs it ([`apply`]).

mod alter;
mod columns;
mod create;
mod dead_letter;
mod storage;
mod target;

use std::collections::BTreeSet;

use moose_model::app::App;

use super::client::OlapClient;
use super::compat::{Column, ServerInfo, TableOption};
use super::error::OlapError;

pub use alter::{
    add_column, alter_storage, copy_rows, drop_column, drop_table, drop_view, exchange_tables,
    modify_column, modify_column_property, ColumnProperty,
};
pub use columns::{column_type, engine, field_column_type, replicated_engine, ColumnClauses};
pub use create::{
    create_database, create_materialized_view, create_table, create_view, host_table,
    materialized_view_name, MATERIALIZED_VIEW_SUFFIX, WINDOW_DEDUP_WINDOW,
};
pub use dead_letter::{
    dead_letter_streams, dead_letter_table, dead_letter_tables, DEAD_LETTER_COLUMNS,
};
pub use moose_model::sql::{quote_ident, quote_string};
pub use storage::{
    add_index, add_projection, drop_index, drop_projection, index_sql, modify_setting, modify_ttl,
    projection_sql,
};
pub use target::{
    distributed_table, local_table_name, qualified, Target, LOCAL_TABLE_SUFFIX, REPLICA_NAME,
    REPLICA_PATH,
};

/// What a DDL statement creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdlKind {
    /// The app's database.
    Database,
    /// A table of [`AppDef::tables`](moose_model::types::AppDef).
    Table,
    /// The table an aggregation's materialized view writes into.
    AggregationTarget,
    /// The table a windowed aggregation writes each closed window's rows into; it keeps
    /// the deduplication tokens of its last inserts (`non_replicated_deduplication_window`).
    WindowTarget,
    /// `<aggregation>_mv`, which feeds an aggregation target.
    MaterializedView,
    /// A plain view.
    View,
    /// A table with the host's dead-letter schema.
    DeadLetterTable,
    /// On a cluster, the `Distributed` table in front of a table's `<name>_local` tables.
    DistributedTable,
}

impl std::fmt::Display for DdlKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DdlKind::Database => "database",
            DdlKind::Table => "table",
            DdlKind::AggregationTarget => "aggregation target table",
            DdlKind::WindowTarget => "windowed aggregation target table",
            DdlKind::MaterializedView => "materialized view",
            DdlKind::View => "view",
            DdlKind::DeadLetterTable => "dead-letter table",
            DdlKind::DistributedTable => "distributed table",
        })
    }
}

/// One statement of the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdlStatement {
    /// What the statement creates.
    pub kind: DdlKind,
    /// The name of what it creates (unqualified).
    pub name: String,
    /// The `CREATE ... IF NOT EXISTS` statement.
    pub sql: String,
    /// The columns it declares, which [`apply`] checks against the server's version.
    pub columns: Vec<Column>,
    /// The storage options it uses, checked the same way.
    pub options: Vec<TableOption>,
}

/// Checks that the server `info` describes stores every column and accepts every
/// storage option of `statements`: [`OlapError::Incompatible`] naming all that it does
/// not.
pub fn check_server(info: &ServerInfo, statements: &[DdlStatement]) -> Result<(), OlapError> {
    info.check(
        statements.iter().flat_map(|s| &s.columns),
        statements.iter().flat_map(|s| &s.options),
    )
    .map_err(OlapError::Incompatible)
}

/// The app's whole schema on `target` (a database name for a single current server, or
/// [`OlapClient::target`]) in creation order: database, tables, aggregation targets, then
/// materialized views and views (each after the views it reads). Dead-letter tables are
/// separate: [`dead_letter_tables`].
pub fn plan(app: &App, target: impl Into<Target>) -> Result<Vec<DdlStatement>, OlapError> {
    let target = target.into();
    let mut statements = vec![DdlStatement {
        kind: DdlKind::Database,
        name: target.database.clone(),
        sql: create_database(&target),
        columns: vec![],
        options: vec![],
    }];
    for table in &app.def.tables {
        statements.extend(create_table(app, &target, table, DdlKind::Table)?);
    }
    for aggregation in &app.def.aggregations {
        statements.extend(
            create_table(
                app,
                &target,
                &aggregation.target,
                DdlKind::AggregationTarget,
            )
            .map_err(|e| OlapError::Schema(format!("aggregation `{}`: {e}", aggregation.name)))?,
        );
    }
    for windowed in &app.def.windowed_aggregations {
        statements.extend(
            create_table(app, &target, &windowed.target, DdlKind::WindowTarget).map_err(|e| {
                OlapError::Schema(format!("windowed aggregation `{}`: {e}", windowed.name))
            })?,
        );
    }
    statements.extend(readers_in_order(app, &target)?);
    Ok(statements)
}

/// Materialized views and views, each after the views among its sources.
fn readers_in_order(app: &App, target: &Target) -> Result<Vec<DdlStatement>, OlapError> {
    struct Reader<'a> {
        relation: &'a str,
        sources: &'a [String],
        statement: DdlStatement,
    }
    let views: BTreeSet<&str> = app.def.views.iter().map(|v| v.name.as_str()).collect();
    let mut pending: Vec<Reader> = app
        .def
        .aggregations
        .iter()
        .map(|a| Reader {
            relation: &a.name,
            sources: &a.sources,
            statement: DdlStatement {
                kind: DdlKind::MaterializedView,
                name: materialized_view_name(a),
                sql: create_materialized_view(target, a),
                columns: vec![],
                options: vec![],
            },
        })
        .chain(app.def.views.iter().map(|v| Reader {
            relation: &v.name,
            sources: &v.sources,
            statement: DdlStatement {
                kind: DdlKind::View,
                name: v.name.clone(),
                sql: create_view(target, v),
                columns: vec![],
                options: vec![],
            },
        }))
        .collect();
    let mut created: BTreeSet<&str> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|r| {
            r.sources
                .iter()
                .all(|s| !views.contains(s.as_str()) || created.contains(s.as_str()))
        });
        let Some(index) = ready else {
            let names: Vec<&str> = pending.iter().map(|r| r.relation).collect();
            return Err(OlapError::Schema(format!(
                "views read each other in a cycle: {}",
                names.join(", ")
            )));
        };
        let reader = pending.remove(index);
        if reader.statement.kind == DdlKind::View {
            created.insert(reader.relation);
        }
        ordered.push(reader.statement);
    }
    Ok(ordered)
}

/// Creates the app's database and the host's table `name` (see [`host_table`]) if they
/// do not exist; returns the target they are on.
pub async fn ensure_host_table(
    client: &OlapClient,
    name: &str,
    columns: &[(&str, &str)],
    order_by: &str,
) -> Result<Target, OlapError> {
    let target = client.target().await?;
    client.execute_on_server(&create_database(&target)).await?;
    for statement in host_table(&target, name, columns, order_by) {
        client.execute(&statement).await?;
    }
    Ok(target)
}

/// Runs `statements` in order; the database statement runs outside any database.
/// First checks every column and storage option against the server's version
/// ([`check_server`]): on a server too old for some of them nothing runs. An error of a
/// statement names the object that failed.
pub async fn apply(client: &OlapClient, statements: &[DdlStatement]) -> Result<(), OlapError> {
    check_server(client.server_info().await?, statements)?;
    for statement in statements {
        let result = match statement.kind {
            DdlKind::Database => client.execute_on_server(&statement.sql).await,
            _ => client.execute(&statement.sql).await,
        };
        result.map_err(|error| {
            error.with_context(&format!(
                "creating {} `{}`: ",
                statement.kind, statement.name
            ))
        })?;
        tracing::debug!(kind = %statement.kind, name = %statement.name, "applied DDL");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
