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

use std::collections::BTreeSet;

use super::client::OlapClient;
use super::compat::{Column, ServerVersion, TypeFeature};
use super::error::OlapError;
use crate::app::App;
use crate::runtime::types::{
    AggregationDef, DataType, ScalarType, TableDef, TableEngine, TypeWrapper, ViewDef,
};

/// Columns of a dead-letter table: the host's dead-letter schema.
pub const DEAD_LETTER_COLUMNS: &[(&str, &str)] = &[
    // The original record as JSON text.
    ("record", "String"),
    ("error", "String"),
    ("error_kind", "LowCardinality(String)"),
    // Where the record failed, e.g. `ingest:Order`, `function:enrich_order`, `table:Order`.
    ("source", "String"),
    ("failed_at", "DateTime64(3)"),
];

/// Suffix of the materialized view that feeds an aggregation's target table.
pub const MATERIALIZED_VIEW_SUFFIX: &str = "_mv";

/// Suffix of the replicated table behind a distributed table on a cluster.
pub const LOCAL_TABLE_SUFFIX: &str = "_local";

/// ZooKeeper path of a replicated table; ClickHouse expands the macros on each replica.
pub const REPLICA_PATH: &str = "/clickhouse/tables/{shard}/{database}/{table}";

/// Replica name of a replicated table: the `{replica}` macro of each server.
pub const REPLICA_NAME: &str = "{replica}";

/// Nested records deeper than this are refused (validation already rejects cycles).
const MAX_NESTING: usize = 32;

/// Where the schema is created.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// The app's database.
    pub database: String,
    /// The cluster every statement runs on, or `None` for a single server.
    pub cluster: Option<String>,
    /// The server's version when known: the host's own dead-letter columns fall back to
    /// `String` and `DateTime` on servers without `LowCardinality` and `DateTime64`.
    /// `None` assumes a current server.
    pub server: Option<ServerVersion>,
}

impl From<&str> for Target {
    /// A single current server.
    fn from(database: &str) -> Self {
        Self {
            database: database.to_string(),
            ..Self::default()
        }
    }
}

impl From<&Target> for Target {
    fn from(target: &Target) -> Self {
        target.clone()
    }
}

impl Target {
    /// ` ON CLUSTER `c`` on a cluster, else nothing.
    fn on_cluster(&self) -> String {
        match &self.cluster {
            Some(cluster) => format!(" ON CLUSTER {}", quote_ident(cluster)),
            None => String::new(),
        }
    }

    /// `` `database`.`name` ``.
    fn qualified(&self, name: &str) -> String {
        qualified(&self.database, name)
    }

    /// The server stores `feature` (assumed when the version is unknown).
    fn stores(&self, feature: TypeFeature) -> bool {
        self.server.is_none_or(|version| feature.available(version))
    }
}

/// What a DDL statement creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdlKind {
    /// The app's database.
    Database,
    /// A table of [`AppDef::tables`](crate::runtime::types::AppDef).
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
}

/// A backquoted identifier: `` `na\`me` ``.
pub fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('`');
    for c in name.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '`' => quoted.push_str("\\`"),
            _ => quoted.push(c),
        }
    }
    quoted.push('`');
    quoted
}

/// A single-quoted string literal.
pub fn quote_string(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\0' => quoted.push_str("\\0"),
            _ => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// `` `database`.`name` ``.
pub fn qualified(database: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(database), quote_ident(name))
}

/// `CREATE DATABASE IF NOT EXISTS`, `ON CLUSTER` on a cluster.
pub fn create_database(target: &Target) -> String {
    format!(
        "CREATE DATABASE IF NOT EXISTS {}{}",
        quote_ident(&target.database),
        target.on_cluster()
    )
}

/// The ClickHouse type of a field: [`DataType::type_name`], with nested records resolved
/// to named `Tuple`s of their models' fields, recursively.
pub fn column_type(app: &App, ty: &DataType) -> Result<String, OlapError> {
    column_type_at(app, ty, 0)
}

fn column_type_at(app: &App, ty: &DataType, depth: usize) -> Result<String, OlapError> {
    let ScalarType::Nested(model) = &ty.leaf else {
        return Ok(ty.type_name());
    };
    let mut name = tuple_type(app, model, depth + 1)?;
    for wrapper in ty.wrappers.iter().rev() {
        name = match wrapper {
            TypeWrapper::Array => format!("Array({name})"),
            TypeWrapper::Map => format!("Map(String, {name})"),
            TypeWrapper::Nullable => format!("Nullable({name})"),
        };
    }
    Ok(name)
}

fn tuple_type(app: &App, reference: &str, depth: usize) -> Result<String, OlapError> {
    if depth > MAX_NESTING {
        return Err(OlapError::Schema(format!(
            "nested model `{reference}` is nested more than {MAX_NESTING} levels deep"
        )));
    }
    let model = app
        .model(reference)
        .ok_or_else(|| OlapError::Schema(format!("nested model `{reference}` is not declared")))?;
    if model.fields.is_empty() {
        return Err(OlapError::Schema(format!(
            "nested model `{reference}` has no fields"
        )));
    }
    let elements = model
        .fields
        .iter()
        .map(|f| {
            Ok(format!(
                "{} {}",
                quote_ident(&f.name),
                column_type_at(app, &f.data_type, depth)?
            ))
        })
        .collect::<Result<Vec<_>, OlapError>>()?;
    Ok(format!("Tuple({})", elements.join(", ")))
}

/// The engine's name and arguments, its column names backquoted.
fn engine_parts(engine: &TableEngine) -> (&'static str, Vec<String>) {
    match engine {
        TableEngine::MergeTree => ("MergeTree", vec![]),
        TableEngine::ReplacingMergeTree(version) => (
            "ReplacingMergeTree",
            version.iter().map(|v| quote_ident(v)).collect(),
        ),
        TableEngine::SummingMergeTree(columns) if columns.is_empty() => {
            ("SummingMergeTree", vec![])
        }
        TableEngine::SummingMergeTree(columns) => {
            let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
            (
                "SummingMergeTree",
                vec![format!("({})", columns.join(", "))],
            )
        }
        TableEngine::AggregatingMergeTree => ("AggregatingMergeTree", vec![]),
    }
}

/// The engine clause, like [`TableEngine::sql`] with its column names backquoted.
pub fn engine(engine: &TableEngine) -> String {
    match engine_parts(engine) {
        (name, args) if args.is_empty() => name.to_string(),
        (name, args) => format!("{name}({})", args.join(", ")),
    }
}

/// The replicated form of `engine`: `Replicated<Engine>('<path>', '{replica}', <args>)`
/// with [`REPLICA_PATH`] and [`REPLICA_NAME`].
pub fn replicated_engine(engine: &TableEngine) -> String {
    let (name, args) = engine_parts(engine);
    let mut all = vec![quote_string(REPLICA_PATH), quote_string(REPLICA_NAME)];
    all.extend(args);
    format!("Replicated{name}({})", all.join(", "))
}

/// `CREATE TABLE` for `name` with `columns` (each `name type clauses`) and `order_by`:
/// `engine` on a single server; on a cluster, `<name>_local` with the replicated engine
/// (see [`distributed_table`] for the table in front of it).
fn create_table_sql(
    target: &Target,
    name: &str,
    columns: &[String],
    engine: &TableEngine,
    order_by: &[String],
) -> (String, String) {
    let (table, engine) = match target.cluster {
        Some(_) => (local_table_name(name), replicated_engine(engine)),
        None => (name.to_string(), self::engine(engine)),
    };
    let order_by: Vec<String> = order_by.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {}{}\n(\n{}\n)\nENGINE = {engine}\nORDER BY ({})",
        target.qualified(&table),
        target.on_cluster(),
        columns.join(",\n"),
        order_by.join(", ")
    );
    (table, sql)
}

/// `<name>_local`: the replicated table behind distributed table `name` on a cluster.
pub fn local_table_name(name: &str) -> String {
    format!("{name}{LOCAL_TABLE_SUFFIX}")
}

/// On a cluster, the `Distributed` table `name` over the `<name>_local` tables of the
/// cluster, with their columns, sharded by `cityHash64` of `sharding` (`rand()` when
/// empty); `None` on a single server.
pub fn distributed_table(target: &Target, name: &str, sharding: &[String]) -> Option<DdlStatement> {
    let cluster = target.cluster.as_deref()?;
    let local = local_table_name(name);
    let sharding_key = if sharding.is_empty() {
        "rand()".to_string()
    } else {
        let columns: Vec<String> = sharding.iter().map(|c| quote_ident(c)).collect();
        format!("cityHash64({})", columns.join(", "))
    };
    Some(DdlStatement {
        kind: DdlKind::DistributedTable,
        name: name.to_string(),
        sql: format!(
            "CREATE TABLE IF NOT EXISTS {}{}\nAS {}\nENGINE = Distributed({}, {}, {}, {sharding_key})",
            target.qualified(name),
            target.on_cluster(),
            target.qualified(&local),
            quote_string(cluster),
            quote_string(&target.database),
            quote_string(&local),
        ),
        columns: vec![],
    })
}

/// The columns a cluster shards `table` by: its model's key fields when they are all in
/// the sort key; else, for engines that merge rows with equal sort keys, the sort key (so
/// those rows share a shard); else none (`rand()`).
fn sharding_columns(app: &App, table: &TableDef, order_by: &[String]) -> Vec<String> {
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
        let ty = column_type(app, &field.data_type)
            .map_err(|e| OlapError::Schema(format!("{subject}, field `{}`: {e}", field.name)))?;
        let mut column = format!("    {} {ty}", quote_ident(&field.name));
        if let Some(default) = field.default.as_deref().filter(|d| !d.trim().is_empty()) {
            column.push_str(" DEFAULT ");
            column.push_str(default);
        }
        if let Some(doc) = field.doc.as_deref().filter(|d| !d.trim().is_empty()) {
            column.push_str(" COMMENT ");
            column.push_str(&quote_string(doc));
        }
        columns.push(column);
        checked.push(Column {
            owner: model.name.clone(),
            name: field.name.clone(),
            ty,
        });
    }
    let order_by = app.order_by(table);
    if order_by.is_empty() {
        return Err(OlapError::Schema(format!(
            "{subject}: no order-by columns and model `{}` has no key fields",
            table.model
        )));
    }
    let (name, mut sql) =
        create_table_sql(&target, &table.name, &columns, &table.engine, &order_by);
    if kind == DdlKind::WindowTarget && target.cluster.is_none() {
        // Replicated tables deduplicate inserts by default; a plain MergeTree needs this.
        sql.push_str(&format!(
            "\nSETTINGS non_replicated_deduplication_window = {WINDOW_DEDUP_WINDOW}"
        ));
    }
    let mut statements = vec![DdlStatement {
        kind,
        name,
        sql,
        columns: checked,
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

/// The type of dead-letter column type `ty` on `target`'s server: `String` for
/// `LowCardinality(String)` and `DateTime` for `DateTime64(3)` where those are missing.
fn dead_letter_type(target: &Target, ty: &'static str) -> &'static str {
    match ty {
        "LowCardinality(String)" if !target.stores(TypeFeature::LowCardinality) => "String",
        "DateTime64(3)" if !target.stores(TypeFeature::DateTime64) => "DateTime",
        _ => ty,
    }
}

/// `CREATE TABLE` for dead-letter stream `name`, with [`DEAD_LETTER_COLUMNS`] (see
/// [`dead_letter_type`]); on a cluster this is the replicated `<name>_local`, which
/// [`distributed_table`] fronts ([`dead_letter_tables`] makes both).
pub fn dead_letter_table(target: impl Into<Target>, name: &str) -> DdlStatement {
    let target = target.into();
    let typed: Vec<(&str, &str)> = DEAD_LETTER_COLUMNS
        .iter()
        .map(|(column, ty)| (*column, dead_letter_type(&target, ty)))
        .collect();
    let columns: Vec<String> = typed
        .iter()
        .map(|(column, ty)| format!("    {} {ty}", quote_ident(column)))
        .collect();
    let (table, sql) = create_table_sql(
        &target,
        name,
        &columns,
        &TableEngine::MergeTree,
        &["failed_at".to_string()],
    );
    DdlStatement {
        kind: DdlKind::DeadLetterTable,
        name: table,
        sql,
        columns: typed
            .iter()
            .map(|(column, ty)| Column {
                owner: name.to_string(),
                name: column.to_string(),
                ty: ty.to_string(),
            })
            .collect(),
    }
}

/// The dead-letter streams the app's ingest endpoints, functions and windowed aggregations
/// name, once each, in
/// declaration order.
pub fn dead_letter_streams(app: &App) -> Vec<String> {
    let mut seen = BTreeSet::new();
    app.def
        .ingests
        .iter()
        .filter_map(|i| i.dead_letter.as_deref())
        .chain(
            app.def
                .functions
                .iter()
                .filter_map(|f| f.dead_letter.as_deref()),
        )
        .chain(
            app.def
                .windowed_aggregations
                .iter()
                .filter_map(|w| w.dead_letter.as_deref()),
        )
        .filter(|name| seen.insert(*name))
        .map(str::to_string)
        .collect()
}

/// The dead-letter tables of [`dead_letter_streams`], named like the streams; on a
/// cluster each is a replicated table and a distributed table sharded at random.
pub fn dead_letter_tables(app: &App, target: impl Into<Target>) -> Vec<DdlStatement> {
    let target = target.into();
    dead_letter_streams(app)
        .iter()
        .flat_map(|name| {
            std::iter::once(dead_letter_table(&target, name)).chain(distributed_table(
                &target,
                name,
                &[],
            ))
        })
        .collect()
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

/// The tables to alter for table `name`: on a cluster the replicated `<name>_local` and
/// then the distributed `name` (whose columns must follow), else `name`.
fn altered_tables(target: &Target, name: &str) -> Vec<String> {
    match target.cluster {
        Some(_) => vec![local_table_name(name), name.to_string()],
        None => vec![name.to_string()],
    }
}

/// `ALTER TABLE <table>[ ON CLUSTER c] <action>` for every table [`altered_tables`] names.
fn alter_table(target: &Target, name: &str, action: &str) -> Vec<String> {
    altered_tables(target, name)
        .iter()
        .map(|table| {
            format!(
                "ALTER TABLE {}{} {action}",
                target.qualified(table),
                target.on_cluster()
            )
        })
        .collect()
}

/// ` DEFAULT <expr>` when `default` is set and not blank.
fn default_clause(default: Option<&str>) -> String {
    match default.filter(|d| !d.trim().is_empty()) {
        Some(default) => format!(" DEFAULT {default}"),
        None => String::new(),
    }
}

/// `ALTER TABLE ... ADD COLUMN IF NOT EXISTS <column> <type> [DEFAULT ..] [AFTER <after>]`.
pub fn add_column(
    target: &Target,
    table: &str,
    column: &str,
    ty: &str,
    default: Option<&str>,
    after: Option<&str>,
) -> Vec<String> {
    let position = match after {
        Some(after) => format!(" AFTER {}", quote_ident(after)),
        None => " FIRST".to_string(),
    };
    alter_table(
        target,
        table,
        &format!(
            "ADD COLUMN IF NOT EXISTS {} {ty}{}{position}",
            quote_ident(column),
            default_clause(default)
        ),
    )
}

/// `ALTER TABLE ... DROP COLUMN IF EXISTS <column>`.
pub fn drop_column(target: &Target, table: &str, column: &str) -> Vec<String> {
    alter_table(
        target,
        table,
        &format!("DROP COLUMN IF EXISTS {}", quote_ident(column)),
    )
}

/// `ALTER TABLE ... MODIFY COLUMN <column> <type> [DEFAULT ..]`: ClickHouse converts the
/// stored values, and fails the mutation on values the new type cannot hold.
pub fn modify_column(
    target: &Target,
    table: &str,
    column: &str,
    ty: &str,
    default: Option<&str>,
) -> Vec<String> {
    alter_table(
        target,
        table,
        &format!(
            "MODIFY COLUMN {} {ty}{}",
            quote_ident(column),
            default_clause(default)
        ),
    )
}

/// `ALTER TABLE ... MODIFY COLUMN <column> DEFAULT <expr>`, or `REMOVE DEFAULT` for none.
pub fn modify_column_default(
    target: &Target,
    table: &str,
    column: &str,
    default: Option<&str>,
) -> Vec<String> {
    let action = match default.filter(|d| !d.trim().is_empty()) {
        Some(default) => format!("DEFAULT {default}"),
        None => "REMOVE DEFAULT".to_string(),
    };
    alter_table(
        target,
        table,
        &format!("MODIFY COLUMN {} {action}", quote_ident(column)),
    )
}

/// `DROP TABLE IF EXISTS`: on a cluster the distributed table, then `<name>_local`.
pub fn drop_table(target: &Target, name: &str) -> Vec<String> {
    let mut tables = vec![name.to_string()];
    if target.cluster.is_some() {
        tables.push(local_table_name(name));
    }
    tables
        .iter()
        .map(|table| {
            format!(
                "DROP TABLE IF EXISTS {}{}",
                target.qualified(table),
                target.on_cluster()
            )
        })
        .collect()
}

/// `DROP VIEW IF EXISTS` (views and materialized views alike).
pub fn drop_view(target: &Target, name: &str) -> String {
    format!(
        "DROP VIEW IF EXISTS {}{}",
        target.qualified(name),
        target.on_cluster()
    )
}

/// Copies `columns` of table `from` into table `to`: `INSERT INTO to (..) SELECT .. FROM
/// from`; on a cluster through the distributed tables, synchronously, so the rows are on
/// the shards when the statement returns.
pub fn copy_rows(target: &Target, from: &str, to: &str, columns: &[String]) -> String {
    let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let columns = columns.join(", ");
    let settings = match target.cluster {
        Some(_) => "\nSETTINGS insert_distributed_sync = 1",
        None => "",
    };
    format!(
        "INSERT INTO {} ({columns})\nSELECT {columns}\nFROM {}{settings}",
        target.qualified(to),
        target.qualified(from)
    )
}

/// `EXCHANGE TABLES a AND b` (atomic; on a cluster the `_local` tables, which the
/// distributed tables name).
pub fn exchange_tables(target: &Target, a: &str, b: &str) -> String {
    let (a, b) = match target.cluster {
        Some(_) => (local_table_name(a), local_table_name(b)),
        None => (a.to_string(), b.to_string()),
    };
    format!(
        "EXCHANGE TABLES {} AND {}{}",
        target.qualified(&a),
        target.qualified(&b),
        target.on_cluster()
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
    let (_, sql) = create_table_sql(
        target,
        name,
        &columns,
        &TableEngine::MergeTree,
        &[order_by.to_string()],
    );
    std::iter::once(sql)
        .chain(distributed_table(target, name, &[]).map(|s| s.sql))
        .collect()
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
/// First checks every column against the server's version: on a server too old for
/// some of them nothing runs and the error is [`OlapError::Incompatible`], naming them
/// all. An error of a statement names the object that failed.
pub async fn apply(client: &OlapClient, statements: &[DdlStatement]) -> Result<(), OlapError> {
    client
        .server_info()
        .await?
        .check(statements.iter().flat_map(|s| &s.columns))
        .map_err(OlapError::Incompatible)?;
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
mod tests {
    use super::*;
    use crate::runtime::types::{AppDef, DecimalSpec, EnumMember, Field, Model};

    fn field(name: &str, wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> Field {
        Field::new(name, DataType::new(wrappers, leaf))
    }

    fn model(name: &str, fields: Vec<Field>) -> Model {
        Model::new(name, fields)
    }

    fn app(models: Vec<Model>) -> App {
        App {
            name: "test".into(),
            components: vec![],
            def: AppDef {
                models,
                ..AppDef::default()
            },
        }
    }

    fn ty(wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> DataType {
        DataType { wrappers, leaf }
    }

    fn table(name: &str, model: &str, order_by: &[&str], engine: TableEngine) -> TableDef {
        TableDef {
            name: name.into(),
            model: model.into(),
            order_by: order_by.iter().map(|s| s.to_string()).collect(),
            engine,
            source_stream: None,
        }
    }

    #[test]
    fn quotes_identifiers_and_strings() {
        assert_eq!(quote_ident("Order"), "`Order`");
        assert_eq!(quote_ident("a`b\\c"), "`a\\`b\\\\c`");
        assert_eq!(quote_string("it's\n\\"), "'it\\'s\\n\\\\'");
        assert_eq!(qualified("local", "T"), "`local`.`T`");
        assert_eq!(
            create_database(&"lo`cal".into()),
            "CREATE DATABASE IF NOT EXISTS `lo\\`cal`"
        );
    }

    #[test]
    fn maps_every_type_in_the_model_type_list() {
        use ScalarType as S;
        use TypeWrapper as W;
        let address = model(
            "Address",
            vec![
                field("street", vec![], S::String),
                field("zip", vec![W::Nullable], S::String),
                field("geo", vec![], S::Nested("Point".into())),
            ],
        );
        let point = model(
            "Point",
            vec![
                field("lat", vec![], S::Float64),
                field("lon", vec![], S::Float64),
            ],
        );
        let app = app(vec![address, point]);
        let cases: Vec<(DataType, &str)> = vec![
            (ty(vec![], S::String), "String"),
            (ty(vec![], S::Int8), "Int8"),
            (ty(vec![], S::Int16), "Int16"),
            (ty(vec![], S::Int32), "Int32"),
            (ty(vec![], S::Int64), "Int64"),
            (ty(vec![], S::Uint8), "UInt8"),
            (ty(vec![], S::Uint16), "UInt16"),
            (ty(vec![], S::Uint32), "UInt32"),
            (ty(vec![], S::Uint64), "UInt64"),
            (ty(vec![], S::Float32), "Float32"),
            (ty(vec![], S::Float64), "Float64"),
            (ty(vec![], S::Boolean), "Bool"),
            (
                ty(
                    vec![],
                    S::Decimal(DecimalSpec {
                        precision: 18,
                        scale: 4,
                    }),
                ),
                "Decimal(18, 4)",
            ),
            (ty(vec![], S::Date), "Date"),
            (ty(vec![], S::DateTime), "DateTime"),
            (ty(vec![], S::DateTime64(3)), "DateTime64(3)"),
            (ty(vec![], S::Uuid), "UUID"),
            (
                ty(
                    vec![],
                    S::Enum(vec![
                        EnumMember {
                            name: "small".into(),
                            value: 1,
                        },
                        EnumMember {
                            name: "it's".into(),
                            value: 2,
                        },
                    ]),
                ),
                "Enum8('small' = 1, 'it\\'s' = 2)",
            ),
            (
                ty(
                    vec![],
                    S::Enum(vec![EnumMember {
                        name: "x".into(),
                        value: 300,
                    }]),
                ),
                "Enum16('x' = 300)",
            ),
            (ty(vec![W::Array], S::Int32), "Array(Int32)"),
            (
                ty(vec![W::Array, W::Nullable], S::String),
                "Array(Nullable(String))",
            ),
            (ty(vec![W::Map], S::Float64), "Map(String, Float64)"),
            (
                ty(vec![W::Map, W::Array], S::Uint8),
                "Map(String, Array(UInt8))",
            ),
            (ty(vec![W::Nullable], S::Int32), "Nullable(Int32)"),
            (ty(vec![], S::LowCardinalityString), "LowCardinality(String)"),
            (
                ty(vec![W::Nullable], S::LowCardinalityString),
                "LowCardinality(Nullable(String))",
            ),
            (ty(vec![], S::Json), "JSON"),
            (
                ty(vec![], S::Nested("Point".into())),
                "Tuple(`lat` Float64, `lon` Float64)",
            ),
            (
                ty(vec![], S::Nested("Address".into())),
                "Tuple(`street` String, `zip` Nullable(String), `geo` Tuple(`lat` Float64, `lon` Float64))",
            ),
            (
                ty(vec![W::Array], S::Nested("Point".into())),
                "Array(Tuple(`lat` Float64, `lon` Float64))",
            ),
            (
                ty(vec![W::Map, W::Array], S::Nested("Point".into())),
                "Map(String, Array(Tuple(`lat` Float64, `lon` Float64)))",
            ),
        ];
        for (data_type, expected) in cases {
            assert_eq!(column_type(&app, &data_type).unwrap(), expected);
        }
    }

    #[test]
    fn refuses_missing_and_cyclic_nested_models() {
        use TypeWrapper as W;
        let looping = model(
            "Loop",
            vec![field(
                "next",
                vec![W::Array],
                ScalarType::Nested("Loop".into()),
            )],
        );
        let app = app(vec![looping]);
        let missing = column_type(&app, &ty(vec![], ScalarType::Nested("Ghost".into())));
        assert_eq!(
            missing.unwrap_err().to_string(),
            "nested model `Ghost` is not declared"
        );
        let cycle = column_type(&app, &ty(vec![], ScalarType::Nested("Loop".into())));
        assert!(cycle.unwrap_err().to_string().contains("nested more than"));
    }

    #[test]
    fn creates_a_table_with_defaults_comments_engine_and_key() {
        let mut id = field("id", vec![], ScalarType::String);
        id.key = true;
        let mut amount = field("amount", vec![], ScalarType::Float64);
        amount.default = Some("0".into());
        amount.doc = Some("in 'EUR'".into());
        let version = field("v", vec![], ScalarType::Uint64);
        let mut app = app(vec![model("Order", vec![id, amount, version])]);
        let orders = table(
            "Order",
            "Order",
            &[],
            TableEngine::ReplacingMergeTree(Some("v".into())),
        );
        app.def.tables.push(orders.clone());
        let sql = |app: &App, table: &TableDef| {
            create_table(app, "local", table, DdlKind::Table).map(|mut s| s.remove(0).sql)
        };
        assert_eq!(
            sql(&app, &orders).unwrap(),
            "CREATE TABLE IF NOT EXISTS `local`.`Order`\n(\n    `id` String,\n    `amount` Float64 DEFAULT 0 COMMENT 'in \\'EUR\\'',\n    `v` UInt64\n)\nENGINE = ReplacingMergeTree(`v`)\nORDER BY (`id`)"
        );
        let summing = table(
            "S",
            "Order",
            &["id", "v"],
            TableEngine::SummingMergeTree(vec!["amount".into()]),
        );
        let summing_sql = sql(&app, &summing).unwrap();
        assert!(
            summing_sql.ends_with("ENGINE = SummingMergeTree((`amount`))\nORDER BY (`id`, `v`)"),
            "{summing_sql}"
        );
        let keyless = table("K", "Order", &[], TableEngine::MergeTree);
        app.def.models[0].fields[0].key = false;
        assert!(sql(&app, &keyless)
            .unwrap_err()
            .to_string()
            .contains("no order-by columns"));
    }

    #[test]
    fn creates_dead_letter_tables() {
        let statement = dead_letter_table("local", "Order_dead_letter");
        assert_eq!(statement.kind, DdlKind::DeadLetterTable);
        assert_eq!(
            statement.sql,
            "CREATE TABLE IF NOT EXISTS `local`.`Order_dead_letter`\n(\n    `record` String,\n    `error` String,\n    `error_kind` LowCardinality(String),\n    `source` String,\n    `failed_at` DateTime64(3)\n)\nENGINE = MergeTree\nORDER BY (`failed_at`)"
        );
    }

    #[test]
    fn falls_back_to_older_dead_letter_types_on_old_servers() {
        let target = Target {
            database: "local".into(),
            cluster: None,
            server: ServerVersion::parse("18.16.1"),
        };
        let statement = dead_letter_table(&target, "dlq");
        assert!(
            statement.sql.contains("`error_kind` String,\n")
                && statement.sql.contains("`failed_at` DateTime\n"),
            "{}",
            statement.sql
        );
        let types: Vec<&str> = statement.columns.iter().map(|c| c.ty.as_str()).collect();
        assert_eq!(types, ["String", "String", "String", "String", "DateTime"]);
    }

    fn cluster_app() -> App {
        let mut id = field("id", vec![], ScalarType::String);
        id.key = true;
        let mut app = app(vec![
            model(
                "Order",
                vec![
                    id,
                    field("amount", vec![], ScalarType::Float64),
                    field("v", vec![], ScalarType::Uint64),
                ],
            ),
            model(
                "Daily",
                vec![
                    field("day", vec![], ScalarType::Date),
                    field("total", vec![], ScalarType::Float64),
                ],
            ),
        ]);
        app.def.tables.push(table(
            "Order",
            "Order",
            &[],
            TableEngine::ReplacingMergeTree(Some("v".into())),
        ));
        app.def
            .tables
            .push(table("Log", "Order", &["amount"], TableEngine::MergeTree));
        app.def.aggregations.push(AggregationDef {
            name: "Daily".into(),
            select: "SELECT today() AS day, sum(amount) AS total FROM Order GROUP BY day".into(),
            sources: vec!["Order".into()],
            target: table(
                "Daily",
                "Daily",
                &["day"],
                TableEngine::SummingMergeTree(vec!["total".into()]),
            ),
        });
        app.def.views.push(ViewDef {
            name: "Big".into(),
            select: "SELECT * FROM Order WHERE amount > 100".into(),
            sources: vec!["Order".into()],
        });
        app.def.ingests.push(crate::runtime::types::IngestDef {
            name: "Order".into(),
            model: "Order".into(),
            stream: "Order".into(),
            dead_letter: Some("Order_dead_letter".into()),
        });
        app
    }

    #[test]
    fn creates_replicated_and_distributed_tables_on_a_cluster() {
        let app = cluster_app();
        let target = Target {
            database: "db".into(),
            cluster: Some("main".into()),
            server: None,
        };
        let plan = plan(&app, &target).unwrap();
        let order: Vec<(DdlKind, &str)> = plan.iter().map(|s| (s.kind, s.name.as_str())).collect();
        assert_eq!(
            order,
            vec![
                (DdlKind::Database, "db"),
                (DdlKind::Table, "Order_local"),
                (DdlKind::DistributedTable, "Order"),
                (DdlKind::Table, "Log_local"),
                (DdlKind::DistributedTable, "Log"),
                (DdlKind::AggregationTarget, "Daily_local"),
                (DdlKind::DistributedTable, "Daily"),
                (DdlKind::MaterializedView, "Daily_mv"),
                (DdlKind::View, "Big"),
            ]
        );
        let sql: Vec<&str> = plan.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "CREATE DATABASE IF NOT EXISTS `db` ON CLUSTER `main`",
                "CREATE TABLE IF NOT EXISTS `db`.`Order_local` ON CLUSTER `main`\n(\n    `id` String,\n    `amount` Float64,\n    `v` UInt64\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', `v`)\nORDER BY (`id`)",
                "CREATE TABLE IF NOT EXISTS `db`.`Order` ON CLUSTER `main`\nAS `db`.`Order_local`\nENGINE = Distributed('main', 'db', 'Order_local', cityHash64(`id`))",
                "CREATE TABLE IF NOT EXISTS `db`.`Log_local` ON CLUSTER `main`\n(\n    `id` String,\n    `amount` Float64,\n    `v` UInt64\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\nORDER BY (`amount`)",
                "CREATE TABLE IF NOT EXISTS `db`.`Log` ON CLUSTER `main`\nAS `db`.`Log_local`\nENGINE = Distributed('main', 'db', 'Log_local', rand())",
                "CREATE TABLE IF NOT EXISTS `db`.`Daily_local` ON CLUSTER `main`\n(\n    `day` Date,\n    `total` Float64\n)\nENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', (`total`))\nORDER BY (`day`)",
                "CREATE TABLE IF NOT EXISTS `db`.`Daily` ON CLUSTER `main`\nAS `db`.`Daily_local`\nENGINE = Distributed('main', 'db', 'Daily_local', cityHash64(`day`))",
                "CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.`Daily_mv` ON CLUSTER `main` TO `db`.`Daily`\nAS SELECT today() AS day, sum(amount) AS total FROM Order GROUP BY day",
                "CREATE VIEW IF NOT EXISTS `db`.`Big` ON CLUSTER `main`\nAS SELECT * FROM Order WHERE amount > 100",
            ]
        );
        // Only the tables that hold rows carry columns for the compatibility check.
        let checked: Vec<&str> = plan
            .iter()
            .filter(|s| !s.columns.is_empty())
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(checked, ["Order_local", "Log_local", "Daily_local"]);
        assert_eq!(plan[1].columns[0].owner, "Order");

        let dead_letters: Vec<String> = dead_letter_tables(&app, &target)
            .into_iter()
            .map(|s| s.sql)
            .collect();
        assert_eq!(
            dead_letters,
            [
                "CREATE TABLE IF NOT EXISTS `db`.`Order_dead_letter_local` ON CLUSTER `main`\n(\n    `record` String,\n    `error` String,\n    `error_kind` LowCardinality(String),\n    `source` String,\n    `failed_at` DateTime64(3)\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\nORDER BY (`failed_at`)",
                "CREATE TABLE IF NOT EXISTS `db`.`Order_dead_letter` ON CLUSTER `main`\nAS `db`.`Order_dead_letter_local`\nENGINE = Distributed('main', 'db', 'Order_dead_letter_local', rand())",
            ]
        );
    }

    #[test]
    fn replicates_every_engine_with_its_arguments() {
        use TableEngine as E;
        let cases = [
            (E::MergeTree, "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
            (E::ReplacingMergeTree(None), "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
            (E::SummingMergeTree(vec![]), "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
            (E::SummingMergeTree(vec!["a".into(), "b".into()]), "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', (`a`, `b`))"),
            (E::AggregatingMergeTree, "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
        ];
        for (engine, expected) in cases {
            assert_eq!(replicated_engine(&engine), expected);
        }
    }

    #[test]
    fn shards_rows_that_merge_together() {
        let mut app = cluster_app();
        let keyless_merging = table(
            "T",
            "Daily",
            &["day"],
            TableEngine::ReplacingMergeTree(None),
        );
        assert_eq!(
            sharding_columns(&app, &keyless_merging, &["day".into()]),
            ["day"]
        );
        // A key field outside the sort key cannot shard a merging table.
        let outside = table(
            "U",
            "Order",
            &["amount"],
            TableEngine::SummingMergeTree(vec![]),
        );
        assert_eq!(
            sharding_columns(&app, &outside, &["amount".into()]),
            ["amount"]
        );
        app.def.models[0].fields[0].key = false;
        let plain = table("V", "Order", &["amount"], TableEngine::MergeTree);
        assert!(sharding_columns(&app, &plain, &["amount".into()]).is_empty());
    }

    #[test]
    fn orders_views_after_the_views_they_read() {
        let mut day = field("day", vec![], ScalarType::Date);
        day.key = true;
        let mut app = app(vec![model("Daily", vec![day])]);
        app.def
            .tables
            .push(table("Base", "Daily", &[], TableEngine::MergeTree));
        app.def.views.push(ViewDef {
            name: "Top".into(),
            select: "SELECT * FROM Middle".into(),
            sources: vec!["Middle".into()],
        });
        app.def.views.push(ViewDef {
            name: "Middle".into(),
            select: "SELECT * FROM Base;".into(),
            sources: vec!["Base".into()],
        });
        app.def.aggregations.push(AggregationDef {
            name: "Agg".into(),
            select: "SELECT day FROM Top".into(),
            sources: vec!["Top".into()],
            target: table("Agg", "Daily", &[], TableEngine::MergeTree),
        });
        let plan = plan(&app, "db").unwrap();
        let order: Vec<(DdlKind, &str)> = plan.iter().map(|s| (s.kind, s.name.as_str())).collect();
        assert_eq!(
            order,
            vec![
                (DdlKind::Database, "db"),
                (DdlKind::Table, "Base"),
                (DdlKind::AggregationTarget, "Agg"),
                (DdlKind::View, "Middle"),
                (DdlKind::View, "Top"),
                (DdlKind::MaterializedView, "Agg_mv"),
            ]
        );
        assert_eq!(
            plan[3].sql,
            "CREATE VIEW IF NOT EXISTS `db`.`Middle`\nAS SELECT * FROM Base"
        );
        assert_eq!(
            plan[5].sql,
            "CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.`Agg_mv` TO `db`.`Agg`\nAS SELECT day FROM Top"
        );
        app.def.views[1].sources = vec!["Top".into()];
        assert!(super::plan(&app, "db")
            .unwrap_err()
            .to_string()
            .contains("cycle"));
    }

    #[test]
    fn lists_dead_letter_streams_once() {
        use crate::runtime::types::{FunctionDef, IngestDef};
        let mut app = app(vec![]);
        app.def.ingests.push(IngestDef {
            name: "Order".into(),
            model: "Order".into(),
            stream: "Order".into(),
            dead_letter: Some("dlq".into()),
        });
        app.def.functions.push(FunctionDef {
            name: "f".into(),
            source: "Order".into(),
            destination: None,
            dead_letter: Some("dlq".into()),
        });
        assert_eq!(dead_letter_streams(&app), vec!["dlq".to_string()]);
        assert_eq!(dead_letter_tables(&app, "db").len(), 1);
    }
}
