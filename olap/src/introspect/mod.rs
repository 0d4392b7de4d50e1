//! An existing database read back as models and tables (`moose init --from-clickhouse`).
//!
//! Each MergeTree-family table becomes a model of its columns (types, defaults, comments,
//! codecs, TTLs, aggregate columns) and an externally managed table of that model (engine,
//! sort key, partition key, primary key, sampling key, TTL, settings, data-skipping
//! indexes, projections, computed columns). Other tables and views are listed as skipped,
//! with the reason.

mod types;

pub use types::{pascal_case, TypeReader};

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use moose_model::types::{
    AggregateColumn, AggregateKind, ComputedColumn, ComputedKind, Field, Model, Projection,
    Replacing, TableDef, TableEngine, TableIndex, TableOptions, VersionedCollapsing,
};

use crate::client::OlapClient;
use crate::ddl::quote_ident;
use crate::error::OlapError;
use crate::type_text::{split_top_level, Quotes, TypeText};

/// What a database holds, in the app's terms.
#[derive(Debug, Default)]
pub struct Introspected {
    /// The tables' models and the models of their named tuples.
    pub models: Vec<Model>,
    /// One externally managed table per MergeTree-family table, by name.
    pub tables: Vec<TableDef>,
    /// `table: reason` for each table or view left out.
    pub skipped: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct TableRow {
    name: String,
    engine: String,
    engine_full: String,
    sorting_key: String,
    primary_key: String,
    partition_key: String,
    sampling_key: String,
    comment: String,
    create_table_query: String,
}

#[derive(Debug, Deserialize)]
struct ColumnRow {
    table: String,
    name: String,
    #[serde(rename = "type")]
    ty: String,
    default_kind: String,
    default_expression: String,
    comment: String,
    compression_codec: String,
}

#[derive(Debug, Deserialize)]
struct IndexRow {
    table: String,
    name: String,
    expr: String,
    type_full: String,
    granularity: u64,
}

/// Reads the tables of the client's database; `only` (when not empty) names the tables to
/// read. A column without a model type is an error naming the table, the column and its
/// type.
pub async fn introspect(client: &OlapClient, only: &[String]) -> Result<Introspected, OlapError> {
    let tables: Vec<TableRow> = rows(
        client,
        "SELECT name, engine, engine_full, sorting_key, primary_key, partition_key, \
         sampling_key, comment, create_table_query FROM system.tables \
         WHERE database = currentDatabase() AND NOT is_temporary ORDER BY name",
    )
    .await?;
    let columns: Vec<ColumnRow> = rows(
        client,
        "SELECT table, name, type, default_kind, default_expression, comment, \
         compression_codec FROM system.columns WHERE database = currentDatabase() \
         ORDER BY table, position",
    )
    .await?;
    let indexes: Vec<IndexRow> = rows(
        client,
        "SELECT table, name, expr, type_full, granularity FROM system.data_skipping_indices \
         WHERE database = currentDatabase() ORDER BY table, name",
    )
    .await?;
    for name in only {
        if !tables.iter().any(|t| &t.name == name) {
            return Err(OlapError::Schema(format!(
                "table `{name}` is not in database `{}`",
                client.database()
            )));
        }
    }
    let mut columns_of: BTreeMap<&str, Vec<&ColumnRow>> = BTreeMap::new();
    for column in &columns {
        columns_of.entry(&column.table).or_default().push(column);
    }
    let mut out = Introspected::default();
    let mut problems = Vec::new();
    let mut reader = TypeReader::default();
    for table in tables
        .iter()
        .filter(|t| only.is_empty() || only.contains(&t.name))
    {
        let Some(engine) = engine(&table.engine, &table.engine_full) else {
            out.skipped.push(format!(
                "{}: a {} is not a MergeTree-family table",
                table.name, table.engine
            ));
            continue;
        };
        let columns = columns_of.remove(table.name.as_str()).unwrap_or_default();
        let elements = elements(&table.create_table_query);
        let mut fields = Vec::new();
        let mut computed = Vec::new();
        for column in columns {
            let hint = format!("{}{}", pascal_case(&table.name), pascal_case(&column.name));
            match read_column(client, &mut reader, &table.name, column, &hint).await {
                Ok(Read::Field(mut field)) => {
                    field.ttl = elements.column_ttls.get(&field.name).cloned();
                    fields.push(field);
                }
                Ok(Read::Computed(column)) => computed.push(column),
                Err(problem) => problems.push(format!(
                    "{}.{} {}: {problem}",
                    table.name, column.name, column.ty
                )),
            }
        }
        let sorting = split_top_level(&table.sorting_key, ',');
        let order_by: Vec<String> = sorting
            .iter()
            .map(|c| c.trim_matches('`').to_string())
            .filter(|c| fields.iter().any(|f| &f.name == c))
            .collect();
        let primary: Vec<String> = split_top_level(&table.primary_key, ',')
            .iter()
            .map(|c| c.trim_matches('`').to_string())
            .collect();
        let (ttl, settings) = ttl_and_settings(&table.engine_full);
        let options = TableOptions {
            partition_by: set(&table.partition_key),
            primary_key: if primary == order_by { vec![] } else { primary },
            sample_by: set(&table.sampling_key),
            ttl,
            settings,
            indexes: indexes
                .iter()
                .filter(|i| i.table == table.name)
                .map(|i| TableIndex {
                    name: i.name.clone(),
                    expression: i.expr.clone(),
                    kind: i.type_full.clone(),
                    granularity: u32::try_from(i.granularity).unwrap_or(u32::MAX),
                })
                .collect(),
            projections: elements.projections,
            computed,
            externally_managed: true,
        };
        out.models.push(Model {
            name: table.name.clone(),
            version: None,
            fields,
            doc: set(&table.comment),
        });
        out.tables.push(TableDef {
            name: table.name.clone(),
            model: table.name.clone(),
            order_by,
            engine,
            source_stream: None,
            options,
        });
    }
    if !problems.is_empty() {
        return Err(OlapError::Schema(format!(
            "these columns have no model type: {}",
            problems.join("; ")
        )));
    }
    let mut models = std::mem::take(&mut reader.models);
    models.append(&mut out.models);
    out.models = models;
    Ok(out)
}

enum Read {
    Field(Field),
    Computed(ComputedColumn),
}

async fn read_column(
    client: &OlapClient,
    reader: &mut TypeReader,
    table: &str,
    column: &ColumnRow,
    hint: &str,
) -> Result<Read, String> {
    if column.name.contains('.') {
        return Err(
            "a column of a flattened Nested (flatten_nested = 1) has no model type; \
             store it as Nested with flatten_nested = 0, or as an Array of a named Tuple"
                .into(),
        );
    }
    let parsed = TypeText::parse(&column.ty);
    let (data_type, aggregate) = match parsed.name {
        "AggregateFunction" => {
            let function = parsed.args.first().copied().unwrap_or_default().to_string();
            let arguments = parsed.args[1..]
                .iter()
                .map(|arg| reader.read(arg, hint))
                .collect::<Result<Vec<_>, _>>()?;
            // The type `-Merge` yields, as the server reports it.
            let merged = merged_type(client, table, &column.name)
                .await
                .map_err(|e| e.to_string())?;
            (
                reader.read(&merged, hint)?,
                Some(AggregateColumn {
                    function,
                    kind: AggregateKind::State(arguments),
                }),
            )
        }
        "SimpleAggregateFunction" => {
            let function = parsed.args.first().copied().unwrap_or_default().to_string();
            let inner = parsed.args.get(1).copied().unwrap_or_default();
            (
                reader.read(inner, hint)?,
                Some(AggregateColumn {
                    function,
                    kind: AggregateKind::Simple,
                }),
            )
        }
        _ => (reader.read(&column.ty, hint)?, None),
    };
    let expression = column.default_expression.trim().to_string();
    let doc = set(&column.comment);
    let computed = |kind| {
        Ok(Read::Computed(ComputedColumn {
            name: column.name.clone(),
            data_type: data_type.clone(),
            kind,
            expression: expression.clone(),
            doc: doc.clone(),
        }))
    };
    match column.default_kind.as_str() {
        "MATERIALIZED" => return computed(ComputedKind::Materialized),
        "ALIAS" => return computed(ComputedKind::Alias),
        "EPHEMERAL" => return Err("an EPHEMERAL column has no model type".into()),
        _ => {}
    }
    let codec = column
        .compression_codec
        .trim()
        .strip_prefix("CODEC(")
        .and_then(|c| c.strip_suffix(')'))
        .map(str::to_string);
    Ok(Read::Field(Field {
        default: (column.default_kind == "DEFAULT").then_some(expression),
        doc,
        aggregate,
        codec,
        ..Field::new(&column.name, data_type)
    }))
}

/// The type `finalizeAggregation` (what `-Merge` yields) gives an aggregate-state column.
async fn merged_type(client: &OlapClient, table: &str, column: &str) -> Result<String, OlapError> {
    let sql = format!(
        "DESCRIBE (SELECT finalizeAggregation({}) FROM {})",
        quote_ident(column),
        quote_ident(table)
    );
    let described: Vec<BTreeMap<String, Value>> = rows(client, &sql).await?;
    described
        .first()
        .and_then(|r| r.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| OlapError::Schema(format!("`{table}`.`{column}`: no merged type")))
}

/// What a table's `CREATE` statement alone tells: column TTLs and projections.
#[derive(Debug, Default, PartialEq)]
struct Elements {
    column_ttls: BTreeMap<String, String>,
    projections: Vec<Projection>,
}

/// Reads the column list of `CREATE TABLE name (columns, INDEX ..., PROJECTION ...) ...`.
fn elements(create: &str) -> Elements {
    let mut out = Elements::default();
    let Some(open) = create.find('(') else {
        return out;
    };
    // The body ends at the parenthesis closing the first one.
    let mut quotes = Quotes::default();
    let mut depth = 0usize;
    let mut close = None;
    for (index, c) in create[open..].char_indices() {
        if quotes.quoted(c) {
            continue;
        }
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + index);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return out;
    };
    for element in split_top_level(&create[open + 1..close], ',') {
        let element = one_line(element);
        if let Some(rest) = element.strip_prefix("PROJECTION ") {
            if let Some((name, body)) = rest.split_once(' ') {
                let select = body.trim().trim_start_matches('(').trim_end_matches(')');
                out.projections.push(Projection {
                    name: name.trim_matches('`').to_string(),
                    select: select.trim().to_string(),
                });
            }
        } else if element.starts_with('`') {
            let parts = split_top_level(&element, ' ');
            if let Some(at) = parts.iter().position(|p| *p == "TTL") {
                let name = parts[0].trim_matches('`').to_string();
                out.column_ttls.insert(name, parts[at + 1..].join(" "));
            }
        }
    }
    out
}

/// `text` with each run of whitespace outside quotes as one space.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quotes = Quotes::default();
    for c in text.trim().chars() {
        if !quotes.quoted(c) && c.is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out.replace("( ", "(").replace(" )", ")")
}

/// The engine, with its column arguments; `None` outside the MergeTree family.
fn engine(name: &str, full: &str) -> Option<TableEngine> {
    let base = name.strip_prefix("Replicated").unwrap_or(name);
    // The engine and its arguments are the clause's first word.
    let clause = TypeText::parse(split_top_level(full, ' ').first()?);
    let mut args: Vec<String> = clause
        .args
        .iter()
        .map(|a| a.trim().trim_matches('`').to_string())
        .collect();
    if name.starts_with("Replicated") && args.len() >= 2 {
        // The coordination path and replica name.
        args.drain(..2);
    }
    let arg = |index: usize| args.get(index).cloned();
    Some(match base {
        "MergeTree" => TableEngine::MergeTree,
        "ReplacingMergeTree" => TableEngine::ReplacingMergeTree(Replacing {
            version: arg(0),
            is_deleted: arg(1),
        }),
        "SummingMergeTree" => TableEngine::SummingMergeTree(
            arg(0)
                .map(|cols| {
                    split_top_level(cols.trim_start_matches('(').trim_end_matches(')'), ',')
                        .iter()
                        .map(|c| c.trim_matches('`').to_string())
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "AggregatingMergeTree" => TableEngine::AggregatingMergeTree,
        "CollapsingMergeTree" => TableEngine::CollapsingMergeTree(arg(0)?),
        "VersionedCollapsingMergeTree" => {
            TableEngine::VersionedCollapsingMergeTree(VersionedCollapsing {
                sign: arg(0)?,
                version: arg(1)?,
            })
        }
        _ => return None,
    })
}

/// The `TTL` and the non-default `SETTINGS` of a table's full engine clause.
fn ttl_and_settings(full: &str) -> (Option<String>, Vec<(String, String)>) {
    let (head, settings) = match full.split_once(" SETTINGS ") {
        Some((head, settings)) => (head, settings),
        None => (full, ""),
    };
    let ttl = head
        .split_once(" TTL ")
        .map(|(_, ttl)| ttl.trim().to_string());
    let settings = split_top_level(settings, ',')
        .iter()
        .filter_map(|s| s.split_once('='))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .filter(|(name, value)| !(name == "index_granularity" && value == "8192"))
        .collect();
    (ttl, settings)
}

fn set(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

async fn rows<T: serde::de::DeserializeOwned>(
    client: &OlapClient,
    sql: &str,
) -> Result<Vec<T>, OlapError> {
    let bytes = client.fetch_bytes(sql, "JSONEachRow", &[]).await?;
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .map_err(|e| OlapError::Schema(format!("reading the server's catalog: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_and_their_columns() {
        assert_eq!(
            engine(
                "ReplacingMergeTree",
                "ReplacingMergeTree(ver, deleted) ORDER BY id"
            ),
            Some(TableEngine::ReplacingMergeTree(Replacing {
                version: Some("ver".into()),
                is_deleted: Some("deleted".into())
            }))
        );
        assert_eq!(
            engine(
                "ReplicatedCollapsingMergeTree",
                "ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}', sign) PARTITION BY x ORDER BY id"
            ),
            Some(TableEngine::CollapsingMergeTree("sign".into()))
        );
        assert_eq!(
            engine(
                "ReplacingMergeTree",
                "ReplacingMergeTree(ver) PRIMARY KEY (id) ORDER BY (id, at) SAMPLE BY id"
            ),
            Some(TableEngine::ReplacingMergeTree(Replacing {
                version: Some("ver".into()),
                is_deleted: None
            }))
        );
        assert_eq!(
            engine("SummingMergeTree", "SummingMergeTree((a, b)) ORDER BY id"),
            Some(TableEngine::SummingMergeTree(vec!["a".into(), "b".into()]))
        );
        assert_eq!(engine("Memory", "Memory"), None);
    }

    #[test]
    fn column_ttls_and_projections_from_the_create_statement() {
        let create = "CREATE TABLE db.events\n(\n    `id` UInt64,\n    `note` String \
             COMMENT 'a, (b)' CODEC(ZSTD(1)) TTL ts + toIntervalDay(1),\n    `ts` DateTime,\n    \
             INDEX note_bf note TYPE bloom_filter(0.01) GRANULARITY 1,\n    PROJECTION by_ts\n    (\n        \
             SELECT *\n        ORDER BY ts\n    )\n)\nENGINE = MergeTree\nORDER BY id";
        assert_eq!(
            elements(create),
            Elements {
                column_ttls: BTreeMap::from([("note".into(), "ts + toIntervalDay(1)".into())]),
                projections: vec![Projection {
                    name: "by_ts".into(),
                    select: "SELECT * ORDER BY ts".into()
                }],
            }
        );
    }

    #[test]
    fn ttl_and_non_default_settings() {
        assert_eq!(
            ttl_and_settings(
                "MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id TTL ts + toIntervalDay(90) \
                 SETTINGS index_granularity = 8192, storage_policy = 'tiered'"
            ),
            (
                Some("ts + toIntervalDay(90)".into()),
                vec![("storage_policy".into(), "'tiered'".into())]
            )
        );
        assert_eq!(ttl_and_settings("MergeTree ORDER BY id"), (None, vec![]));
    }
}
