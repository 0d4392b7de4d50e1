//! The app's ClickHouse schema: pure functions that produce DDL, and [`apply`] that runs it.
//!
//! Every statement is `IF NOT EXISTS`, so applying the same plan again (on every start) is
//! a no-op. Identifiers are always backquoted; names are qualified with the database.
//! Order: the database, then tables, then aggregation targets, then materialized views and
//! views, each view after the views it reads.

use std::collections::BTreeSet;

use super::client::OlapClient;
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

/// Nested records deeper than this are refused (validation already rejects cycles).
const MAX_NESTING: usize = 32;

/// What a DDL statement creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdlKind {
    /// The app's database.
    Database,
    /// A table of [`AppDef::tables`](crate::runtime::types::AppDef).
    Table,
    /// The table an aggregation's materialized view writes into.
    AggregationTarget,
    /// `<aggregation>_mv`, which feeds an aggregation target.
    MaterializedView,
    /// A plain view.
    View,
    /// A table with the host's dead-letter schema.
    DeadLetterTable,
}

impl std::fmt::Display for DdlKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DdlKind::Database => "database",
            DdlKind::Table => "table",
            DdlKind::AggregationTarget => "aggregation target table",
            DdlKind::MaterializedView => "materialized view",
            DdlKind::View => "view",
            DdlKind::DeadLetterTable => "dead-letter table",
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

/// `CREATE DATABASE IF NOT EXISTS`.
pub fn create_database(database: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(database))
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

/// The engine clause, like [`TableEngine::sql`] with its column names backquoted.
pub fn engine(engine: &TableEngine) -> String {
    match engine {
        TableEngine::ReplacingMergeTree(Some(version)) => {
            format!("ReplacingMergeTree({})", quote_ident(version))
        }
        TableEngine::SummingMergeTree(columns) if !columns.is_empty() => {
            let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
            format!("SummingMergeTree(({}))", columns.join(", "))
        }
        other => other.sql(),
    }
}

/// `CREATE TABLE IF NOT EXISTS` for `table`, its columns from its model.
pub fn create_table(app: &App, database: &str, table: &TableDef) -> Result<String, OlapError> {
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
    }
    let order_by = app.order_by(table);
    if order_by.is_empty() {
        return Err(OlapError::Schema(format!(
            "{subject}: no order-by columns and model `{}` has no key fields",
            table.model
        )));
    }
    let order_by: Vec<String> = order_by.iter().map(|c| quote_ident(c)).collect();
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {}\n(\n{}\n)\nENGINE = {}\nORDER BY ({})",
        qualified(database, &table.name),
        columns.join(",\n"),
        engine(&table.engine),
        order_by.join(", ")
    ))
}

/// The name of the materialized view that feeds `aggregation`'s target.
pub fn materialized_view_name(aggregation: &AggregationDef) -> String {
    format!("{}{MATERIALIZED_VIEW_SUFFIX}", aggregation.name)
}

/// `CREATE MATERIALIZED VIEW IF NOT EXISTS <name>_mv TO <target> AS <select>`.
pub fn create_materialized_view(database: &str, aggregation: &AggregationDef) -> String {
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {} TO {}\nAS {}",
        qualified(database, &materialized_view_name(aggregation)),
        qualified(database, &aggregation.target.name),
        aggregation.select.trim().trim_end_matches(';')
    )
}

/// `CREATE VIEW IF NOT EXISTS <name> AS <select>`.
pub fn create_view(database: &str, view: &ViewDef) -> String {
    format!(
        "CREATE VIEW IF NOT EXISTS {}\nAS {}",
        qualified(database, &view.name),
        view.select.trim().trim_end_matches(';')
    )
}

/// `CREATE TABLE IF NOT EXISTS` for dead-letter stream `name`, with [`DEAD_LETTER_COLUMNS`].
pub fn dead_letter_table(database: &str, name: &str) -> DdlStatement {
    let columns: Vec<String> = DEAD_LETTER_COLUMNS
        .iter()
        .map(|(column, ty)| format!("    {} {ty}", quote_ident(column)))
        .collect();
    DdlStatement {
        kind: DdlKind::DeadLetterTable,
        name: name.to_string(),
        sql: format!(
            "CREATE TABLE IF NOT EXISTS {}\n(\n{}\n)\nENGINE = MergeTree\nORDER BY ({})",
            qualified(database, name),
            columns.join(",\n"),
            quote_ident("failed_at")
        ),
    }
}

/// The dead-letter streams the app's ingest endpoints and functions name, once each, in
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
        .filter(|name| seen.insert(*name))
        .map(str::to_string)
        .collect()
}

/// A dead-letter table for each of [`dead_letter_streams`], named like the stream.
pub fn dead_letter_tables(app: &App, database: &str) -> Vec<DdlStatement> {
    dead_letter_streams(app)
        .iter()
        .map(|name| dead_letter_table(database, name))
        .collect()
}

/// The app's whole schema in creation order: database, tables, aggregation targets, then
/// materialized views and views (each after the views it reads). Dead-letter tables are
/// separate: [`dead_letter_tables`].
pub fn plan(app: &App, database: &str) -> Result<Vec<DdlStatement>, OlapError> {
    let mut statements = vec![DdlStatement {
        kind: DdlKind::Database,
        name: database.to_string(),
        sql: create_database(database),
    }];
    for table in &app.def.tables {
        statements.push(DdlStatement {
            kind: DdlKind::Table,
            name: table.name.clone(),
            sql: create_table(app, database, table)?,
        });
    }
    for aggregation in &app.def.aggregations {
        statements.push(DdlStatement {
            kind: DdlKind::AggregationTarget,
            name: aggregation.target.name.clone(),
            sql: create_table(app, database, &aggregation.target).map_err(|e| {
                OlapError::Schema(format!("aggregation `{}`: {e}", aggregation.name))
            })?,
        });
    }
    statements.extend(readers_in_order(app, database)?);
    Ok(statements)
}

/// Materialized views and views, each after the views among its sources.
fn readers_in_order(app: &App, database: &str) -> Result<Vec<DdlStatement>, OlapError> {
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
                sql: create_materialized_view(database, a),
            },
        })
        .chain(app.def.views.iter().map(|v| Reader {
            relation: &v.name,
            sources: &v.sources,
            statement: DdlStatement {
                kind: DdlKind::View,
                name: v.name.clone(),
                sql: create_view(database, v),
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

/// Runs `statements` in order; the database statement runs outside any database.
/// An error names the object that failed.
pub async fn apply(client: &OlapClient, statements: &[DdlStatement]) -> Result<(), OlapError> {
    for statement in statements {
        let result = match statement.kind {
            DdlKind::Database => client.execute_on_server(&statement.sql).await,
            _ => client.execute(&statement.sql).await,
        };
        result.map_err(|error| {
            let context = format!("creating {} `{}`: ", statement.kind, statement.name);
            match error {
                OlapError::Rejected { code, message } => OlapError::Rejected {
                    code,
                    message: format!("{context}{message}"),
                },
                OlapError::Unavailable { code, message } => OlapError::Unavailable {
                    code,
                    message: format!("{context}{message}"),
                },
                other => other,
            }
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
            create_database("lo`cal"),
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
        assert_eq!(
            create_table(&app, "local", &orders).unwrap(),
            "CREATE TABLE IF NOT EXISTS `local`.`Order`\n(\n    `id` String,\n    `amount` Float64 DEFAULT 0 COMMENT 'in \\'EUR\\'',\n    `v` UInt64\n)\nENGINE = ReplacingMergeTree(`v`)\nORDER BY (`id`)"
        );
        let summing = table(
            "S",
            "Order",
            &["id", "v"],
            TableEngine::SummingMergeTree(vec!["amount".into()]),
        );
        let sql = create_table(&app, "local", &summing).unwrap();
        assert!(
            sql.ends_with("ENGINE = SummingMergeTree((`amount`))\nORDER BY (`id`, `v`)"),
            "{sql}"
        );
        let keyless = table("K", "Order", &[], TableEngine::MergeTree);
        app.def.models[0].fields[0].key = false;
        assert!(create_table(&app, "local", &keyless)
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
