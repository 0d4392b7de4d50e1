//! A table's storage options ([`TableOptions`]) in `CREATE TABLE`, and the `ALTER`s that
//! change them on an existing table: `MODIFY TTL`, `ADD INDEX` and `MATERIALIZE INDEX`,
//! `ADD PROJECTION` and `MATERIALIZE PROJECTION`, `MODIFY SETTING` and `RESET SETTING`.
//! On a cluster these apply to the `_local` tables that store the rows.

use moose_model::sql::quote_ident;
use moose_model::types::{Model, Projection, TableDef, TableEngine, TableIndex, TableOptions};

use super::super::compat::{OptionFeature, TableOption};
use super::alter::alter_storage;
use super::target::Target;

/// The storage options `table` (of rows of `model`) uses that some servers lack, for
/// the compatibility check.
pub(super) fn features(table: &TableDef, model: &Model) -> Vec<TableOption> {
    let options = &table.options;
    let fields = &model.fields;
    let is_deleted =
        matches!(&table.engine, TableEngine::ReplacingMergeTree(r) if r.is_deleted.is_some());
    [
        (
            fields.iter().any(|f| f.codec.is_some()),
            OptionFeature::Codec,
        ),
        (
            options.ttl.is_some() || fields.iter().any(|f| f.ttl.is_some()),
            OptionFeature::Ttl,
        ),
        (!options.indexes.is_empty(), OptionFeature::SkippingIndex),
        (!options.projections.is_empty(), OptionFeature::Projection),
        (is_deleted, OptionFeature::IsDeleted),
    ]
    .into_iter()
    .filter(|(used, _)| *used)
    .map(|(_, feature)| TableOption {
        table: table.name.clone(),
        feature,
    })
    .collect()
}

/// `INDEX name expression TYPE kind GRANULARITY n`.
pub fn index_sql(index: &TableIndex) -> String {
    format!(
        "INDEX {} {} TYPE {} GRANULARITY {}",
        quote_ident(&index.name),
        index.expression.trim(),
        index.kind.trim(),
        index.granularity.max(1)
    )
}

/// `PROJECTION name (select)`.
pub fn projection_sql(projection: &Projection) -> String {
    format!(
        "PROJECTION {} ({})",
        quote_ident(&projection.name),
        projection.select.trim().trim_end_matches(';')
    )
}

/// The lines inside a `CREATE TABLE`'s parentheses after the columns: indexes, then
/// projections.
pub(super) fn definitions(options: &TableOptions) -> Vec<String> {
    options
        .indexes
        .iter()
        .map(index_sql)
        .chain(options.projections.iter().map(projection_sql))
        .map(|line| format!("    {line}"))
        .collect()
}

/// The clauses after `ORDER BY`, each on its own line: `PARTITION BY`, `PRIMARY KEY`,
/// `SAMPLE BY`, `TTL`, then `SETTINGS` (`extra_settings` first, unless the table sets
/// the same name).
pub(super) fn clauses(options: &TableOptions, extra_settings: &[(&str, String)]) -> String {
    let mut sql = String::new();
    let set = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    if let Some(partition) = set(&options.partition_by) {
        sql.push_str(&format!("\nPARTITION BY {partition}"));
    }
    if !options.primary_key.is_empty() {
        let columns: Vec<String> = options.primary_key.iter().map(|c| quote_ident(c)).collect();
        sql.push_str(&format!("\nPRIMARY KEY ({})", columns.join(", ")));
    }
    if let Some(sample) = set(&options.sample_by) {
        sql.push_str(&format!("\nSAMPLE BY {sample}"));
    }
    if let Some(ttl) = set(&options.ttl) {
        sql.push_str(&format!("\nTTL {ttl}"));
    }
    let settings: Vec<String> = extra_settings
        .iter()
        .filter(|(name, _)| !options.settings.iter().any(|(n, _)| n == name))
        .map(|(name, value)| format!("{name} = {value}"))
        .chain(
            options
                .settings
                .iter()
                .map(|(name, value)| format!("{name} = {}", value.trim())),
        )
        .collect();
    if !settings.is_empty() {
        sql.push_str(&format!("\nSETTINGS {}", settings.join(", ")));
    }
    sql
}

/// `MODIFY TTL <ttl>`, or `REMOVE TTL` for none. ClickHouse applies a new TTL to the
/// stored rows too (`materialize_ttl_after_modify`).
pub fn modify_ttl(target: &Target, table: &str, ttl: Option<&str>) -> Vec<String> {
    let action = match ttl.filter(|t| !t.trim().is_empty()) {
        Some(ttl) => format!("MODIFY TTL {ttl}"),
        None => "REMOVE TTL".to_string(),
    };
    alter_storage(target, table, &action)
}

/// `ADD INDEX`, then `MATERIALIZE INDEX` so the rows already stored are indexed too.
pub fn add_index(target: &Target, table: &str, index: &TableIndex) -> Vec<String> {
    add_and_materialize(target, table, "INDEX", &index.name, &index_sql(index))
}

/// `DROP INDEX IF EXISTS`.
pub fn drop_index(target: &Target, table: &str, name: &str) -> Vec<String> {
    drop_if_exists(target, table, "INDEX", name)
}

/// `ADD PROJECTION`, then `MATERIALIZE PROJECTION` so it covers the rows already stored.
pub fn add_projection(target: &Target, table: &str, projection: &Projection) -> Vec<String> {
    add_and_materialize(
        target,
        table,
        "PROJECTION",
        &projection.name,
        &projection_sql(projection),
    )
}

/// `DROP PROJECTION IF EXISTS`.
pub fn drop_projection(target: &Target, table: &str, name: &str) -> Vec<String> {
    drop_if_exists(target, table, "PROJECTION", name)
}

/// `ADD <definition>` (`INDEX ...` or `PROJECTION ...`, with `IF NOT EXISTS`), then
/// `MATERIALIZE <kind> name`.
fn add_and_materialize(
    target: &Target,
    table: &str,
    kind: &str,
    name: &str,
    definition: &str,
) -> Vec<String> {
    let definition = definition.replacen(kind, &format!("{kind} IF NOT EXISTS"), 1);
    let mut statements = alter_storage(target, table, &format!("ADD {definition}"));
    statements.extend(alter_storage(
        target,
        table,
        &format!("MATERIALIZE {kind} {}", quote_ident(name)),
    ));
    statements
}

/// `DROP <kind> IF EXISTS name`.
fn drop_if_exists(target: &Target, table: &str, kind: &str, name: &str) -> Vec<String> {
    alter_storage(
        target,
        table,
        &format!("DROP {kind} IF EXISTS {}", quote_ident(name)),
    )
}

/// `MODIFY SETTING name = value`, or `RESET SETTING name` for none.
pub fn modify_setting(
    target: &Target,
    table: &str,
    name: &str,
    value: Option<&str>,
) -> Vec<String> {
    let action = match value {
        Some(value) => format!("MODIFY SETTING {name} = {}", value.trim()),
        None => format!("RESET SETTING {name}"),
    };
    alter_storage(target, table, &action)
}
