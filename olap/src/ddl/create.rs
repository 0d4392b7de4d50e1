//! `CREATE` statements: the database, the app's tables, materialized views and views,
//! and the host's own tables.

use moose_model::app::App;
use moose_model::sql::quote_ident;
use moose_model::types::{AggregationDef, TableDef, TableEngine, TableOptions, ViewDef};

use super::super::compat::Column;
use super::super::error::OlapError;
use super::columns::{column_type, engine, field_column_type, replicated_engine, ColumnClauses};
use super::storage;
use super::target::{distributed_table, local_table_name, Target};
use super::{DdlKind, DdlStatement};

/// Suffix of the materialized view that feeds an aggregation's target table.
pub const MATERIALIZED_VIEW_SUFFIX: &str = "_mv";

/// `CREATE DATABASE IF NOT EXISTS`, `ON CLUSTER` on a cluster.
pub fn create_database(target: &Target) -> String {
    format!(
        "CREATE DATABASE IF NOT EXISTS {}{}",
        quote_ident(&target.database),
        target.on_cluster()
    )
}

/// The parts of a `CREATE TABLE` besides its name.
pub(super) struct TableSql<'a> {
    /// Each `name type clauses`.
    pub columns: &'a [String],
    pub engine: &'a TableEngine,
    pub order_by: &'a [String],
    pub options: &'a TableOptions,
    /// Settings the host adds, before the table's own (which win).
    pub settings: &'a [(&'a str, String)],
}

/// `CREATE TABLE` for `name`: `engine` on a single server; on a cluster, `<name>_local`
/// with the replicated engine (see [`distributed_table`] for the table in front of it).
pub(super) fn create_table_sql(target: &Target, name: &str, table: TableSql) -> (String, String) {
    let (name, engine) = match target.cluster {
        Some(_) => (local_table_name(name), replicated_engine(table.engine)),
        None => (name.to_string(), self::engine(table.engine)),
    };
    let order_by: Vec<String> = table.order_by.iter().map(|c| quote_ident(c)).collect();
    let mut lines = table.columns.to_vec();
    lines.extend(storage::definitions(table.options));
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {}{}\n(\n{}\n)\nENGINE = {engine}\nORDER BY ({}){}",
        target.qualified(&name),
        target.on_cluster(),
        lines.join(",\n"),
        order_by.join(", "),
        storage::clauses(table.options, table.settings)
    );
    (name, sql)
}

/// [`create_table_sql`] for one of the host's tables: a `MergeTree` ordered by
/// `order_by`, without options.
pub(super) fn plain_table_sql(
    target: &Target,
    name: &str,
    columns: &[String],
    order_by: &str,
) -> (String, String) {
    create_table_sql(
        target,
        name,
        TableSql {
            columns,
            engine: &TableEngine::MergeTree,
            order_by: &[order_by.to_string()],
            options: &TableOptions::default(),
            settings: &[],
        },
    )
}

/// The columns a cluster shards `table` by: its model's key fields when they are all in
/// the sort key; else, for engines that merge rows with equal sort keys, the sort key (so
/// those rows share a shard); else none (`rand()`).
pub(super) fn sharding_columns(app: &App, table: &TableDef, order_by: &[String]) -> Vec<String> {
    let keys = app.key_fields(&table.model);
    if !keys.is_empty() && keys.iter().all(|k| order_by.contains(k)) {
        keys
    } else if matches!(table.engine, TableEngine::MergeTree) {
        vec![]
    } else {
        order_by.to_vec()
    }
}

/// The statements that create `table` (`kind` [`DdlKind::Table`] or
/// [`DdlKind::AggregationTarget`]), its columns from its model; on a cluster, the
/// replicated `<table>_local` and the distributed table (see the module docs).
pub fn create_table(
    app: &App,
    target: impl Into<Target>,
    table: &TableDef,
    kind: DdlKind,
) -> Result<Vec<DdlStatement>, OlapError> {
    let target = target.into();
    let subject = format!("table `{}`", table.name);
    let model = app.model(&table.model).ok_or_else(|| {
        OlapError::Schema(format!(
            "{subject}: model `{}` is not declared",
            table.model
        ))
    })?;
    if model.fields.is_empty() {
        return Err(OlapError::Schema(format!(
            "{subject}: model `{}` has no fields",
            table.model
        )));
    }
    let mut columns = Vec::with_capacity(model.fields.len());
    let mut checked = Vec::with_capacity(model.fields.len());
    for field in &model.fields {
        let ty = field_column_type(app, field)
            .map_err(|e| OlapError::Schema(format!("{subject}, field `{}`: {e}", field.name)))?;
        let column = format!(
            "    {} {ty}{}",
            quote_ident(&field.name),
            ColumnClauses::of(field).sql()
        );
        columns.push(column);
        checked.push(Column {
            owner: model.name.clone(),
            name: field.name.clone(),
            ty,
        });
    }
    for computed in &table.options.computed {
        let ty = column_type(app, &computed.data_type).map_err(|e| {
            OlapError::Schema(format!(
                "{subject}, computed column `{}`: {e}",
                computed.name
            ))
        })?;
        columns.push(format!(
            "    {} {ty}{}",
            quote_ident(&computed.name),
            ColumnClauses::computed(computed).sql()
        ));
        checked.push(Column {
            owner: table.name.clone(),
            name: computed.name.clone(),
            ty,
        });
    }
    let order_by = app.order_by(table);
    // Someone else's table may be unsorted: `ORDER BY ()`.
    if order_by.is_empty() && !table.options.externally_managed {
        return Err(OlapError::Schema(format!(
            "{subject}: no order-by columns and model `{}` has no key fields",
            table.model
        )));
    }
    // Replicated tables deduplicate inserts by default; a plain MergeTree needs this.
    let settings = match kind {
        DdlKind::WindowTarget if target.cluster.is_none() => vec![(
            "non_replicated_deduplication_window",
            WINDOW_DEDUP_WINDOW.to_string(),
        )],
        _ => vec![],
    };
    let (name, sql) = create_table_sql(
        &target,
        &table.name,
        TableSql {
            columns: &columns,
            engine: &table.engine,
            order_by: &order_by,
            options: &table.options,
            settings: &settings,
        },
    );
    let mut statements = vec![DdlStatement {
        kind,
        name,
        sql,
        columns: checked,
        options: storage::features(table, model),
    }];
    statements.extend(distributed_table(
        &target,
        &table.name,
        &sharding_columns(app, table, &order_by),
    ));
    Ok(statements)
}

/// How many recent inserts a windowed aggregation's target table remembers for
/// deduplication: a window's rows written again after a crash are recognised.
pub const WINDOW_DEDUP_WINDOW: u32 = 1000;

/// The name of the materialized view that feeds `aggregation`'s target.
pub fn materialized_view_name(aggregation: &AggregationDef) -> String {
    format!("{}{MATERIALIZED_VIEW_SUFFIX}", aggregation.name)
}

/// `CREATE MATERIALIZED VIEW IF NOT EXISTS <name>_mv TO <target> AS <select>`.
///
/// On a cluster the view exists on every server, reads the distributed tables the
/// aggregation's SQL names and writes to the distributed target. A materialized view sees
/// the blocks inserted into the table it reads, so each insert into a distributed source
/// is aggregated once, on the server that took it (the shards' `_local` tables have no
/// view), and the result is routed through the distributed target by its sharding key,
/// so rows that `SummingMergeTree`/`ReplacingMergeTree` merge land on the same shard.
/// Reading the `_local` tables instead would need the app's SQL rewritten and would
/// leave each shard's partial aggregates on that shard, unmerged with the others.
pub fn create_materialized_view(target: impl Into<Target>, aggregation: &AggregationDef) -> String {
    let target = target.into();
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {}{} TO {}\nAS {}",
        target.qualified(&materialized_view_name(aggregation)),
        target.on_cluster(),
        target.qualified(&aggregation.target.name),
        aggregation.select.trim().trim_end_matches(';')
    )
}

/// `CREATE VIEW IF NOT EXISTS <name> AS <select>`; on a cluster the view reads the
/// distributed tables.
pub fn create_view(target: impl Into<Target>, view: &ViewDef) -> String {
    let target = target.into();
    format!(
        "CREATE VIEW IF NOT EXISTS {}{}\nAS {}",
        target.qualified(&view.name),
        target.on_cluster(),
        view.select.trim().trim_end_matches(';')
    )
}

/// `CREATE TABLE IF NOT EXISTS` for the host's table `name` with `columns` (name, type),
/// a `MergeTree` ordered by `order_by`; on a cluster replicated with a distributed table.
pub fn host_table(
    target: &Target,
    name: &str,
    columns: &[(&str, &str)],
    order_by: &str,
) -> Vec<String> {
    let columns: Vec<String> = columns
        .iter()
        .map(|(column, ty)| format!("    {} {ty}", quote_ident(column)))
        .collect();
    let (_, sql) = plain_table_sql(target, name, &columns, order_by);
    std::iter::once(sql)
        .chain(distributed_table(target, name, &[]).map(|s| s.sql))
        .collect()
}
