//! Changes to existing tables and views, as migrations apply them: columns added,
//! dropped and modified, tables dropped, copied and exchanged.

use moose_model::sql::{quote_ident, quote_string};

use super::columns::ColumnClauses;
use super::target::{local_table_name, Target};

/// The tables to alter for table `name`: on a cluster the replicated `<name>_local` and
/// then the distributed `name` (whose columns must follow), else `name`. The flag tells
/// the table that stores the rows (codecs, TTLs, indexes and settings are only its).
fn altered_tables(target: &Target, name: &str) -> Vec<(String, bool)> {
    match target.cluster {
        Some(_) => vec![(local_table_name(name), true), (name.to_string(), false)],
        None => vec![(name.to_string(), true)],
    }
}

/// `ALTER TABLE <table>[ ON CLUSTER c] <action>` for every table [`altered_tables`]
/// names, the action made for each by `action(stores_rows)`; a `None` skips that table.
fn alter_each(target: &Target, name: &str, action: impl Fn(bool) -> Option<String>) -> Vec<String> {
    altered_tables(target, name)
        .into_iter()
        .filter_map(|(table, stores_rows)| {
            let action = action(stores_rows)?;
            Some(format!(
                "ALTER TABLE {}{} {action}",
                target.qualified(&table),
                target.on_cluster()
            ))
        })
        .collect()
}

/// `ALTER TABLE <table>[ ON CLUSTER c] <action>` for every table [`altered_tables`] names.
fn alter_table(target: &Target, name: &str, action: &str) -> Vec<String> {
    alter_each(target, name, |_| Some(action.to_string()))
}

/// `ALTER TABLE <table>[ ON CLUSTER c] <action>` for the table that stores the rows only.
pub fn alter_storage(target: &Target, name: &str, action: &str) -> Vec<String> {
    alter_each(target, name, |stores_rows| {
        stores_rows.then(|| action.to_string())
    })
}

/// `clauses` for a table that stores rows, else only how the value is made (a
/// distributed table has no codecs or TTLs).
fn clauses_for<'a>(clauses: &ColumnClauses<'a>, stores_rows: bool) -> ColumnClauses<'a> {
    if stores_rows {
        *clauses
    } else {
        ColumnClauses {
            default: clauses.default,
            materialized: clauses.materialized,
            alias: clauses.alias,
            ..ColumnClauses::default()
        }
    }
}

/// `ALTER TABLE ... ADD COLUMN IF NOT EXISTS <column> <type> <clauses> [AFTER <after>]`.
pub fn add_column(
    target: &Target,
    table: &str,
    column: &str,
    ty: &str,
    clauses: &ColumnClauses,
    after: Option<&str>,
) -> Vec<String> {
    let position = match after {
        Some(after) => format!(" AFTER {}", quote_ident(after)),
        None => " FIRST".to_string(),
    };
    alter_each(target, table, |stores_rows| {
        Some(format!(
            "ADD COLUMN IF NOT EXISTS {} {ty}{}{position}",
            quote_ident(column),
            clauses_for(clauses, stores_rows).sql()
        ))
    })
}

/// `ALTER TABLE ... DROP COLUMN IF EXISTS <column>`.
pub fn drop_column(target: &Target, table: &str, column: &str) -> Vec<String> {
    alter_table(
        target,
        table,
        &format!("DROP COLUMN IF EXISTS {}", quote_ident(column)),
    )
}

/// `ALTER TABLE ... MODIFY COLUMN <column> <type> <clauses>`: ClickHouse converts the
/// stored values, and fails the mutation on values the new type cannot hold.
pub fn modify_column(
    target: &Target,
    table: &str,
    column: &str,
    ty: &str,
    clauses: &ColumnClauses,
) -> Vec<String> {
    alter_each(target, table, |stores_rows| {
        Some(format!(
            "MODIFY COLUMN {} {ty}{}",
            quote_ident(column),
            clauses_for(clauses, stores_rows).sql()
        ))
    })
}

/// A column property that changes without touching the column's type or values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnProperty {
    Default,
    Materialized,
    Alias,
    Comment,
    Codec,
    Ttl,
}

impl ColumnProperty {
    /// Every property, in the order a column declares them.
    pub const ALL: [ColumnProperty; 6] = [
        ColumnProperty::Default,
        ColumnProperty::Materialized,
        ColumnProperty::Alias,
        ColumnProperty::Comment,
        ColumnProperty::Codec,
        ColumnProperty::Ttl,
    ];

    /// What the property is called in messages.
    pub fn name(self) -> &'static str {
        match self {
            ColumnProperty::Default => "default",
            ColumnProperty::Materialized => "MATERIALIZED expression",
            ColumnProperty::Alias => "ALIAS expression",
            ColumnProperty::Comment => "comment",
            ColumnProperty::Codec => "codec",
            ColumnProperty::Ttl => "TTL",
        }
    }
}

/// `ALTER TABLE ... MODIFY COLUMN <column> DEFAULT x | MATERIALIZED x | ALIAS x |
/// COMMENT 'x' | CODEC(x) | TTL x`, or `REMOVE <property>` when `value` is none or blank;
/// a new `MATERIALIZED` expression is followed by `MATERIALIZE COLUMN`, so stored values
/// follow it.
pub fn modify_column_property(
    target: &Target,
    table: &str,
    column: &str,
    property: ColumnProperty,
    value: Option<&str>,
) -> Vec<String> {
    let (keyword, set) = match property {
        ColumnProperty::Default => ("DEFAULT", value.map(|v| format!("DEFAULT {v}"))),
        ColumnProperty::Materialized => {
            ("MATERIALIZED", value.map(|v| format!("MATERIALIZED {v}")))
        }
        ColumnProperty::Alias => ("ALIAS", value.map(|v| format!("ALIAS {v}"))),
        ColumnProperty::Comment => (
            "COMMENT",
            value.map(|v| format!("COMMENT {}", quote_string(v))),
        ),
        ColumnProperty::Codec => ("CODEC", value.map(|v| format!("CODEC({v})"))),
        ColumnProperty::Ttl => ("TTL", value.map(|v| format!("TTL {v}"))),
    };
    let action = match value.filter(|v| !v.trim().is_empty()) {
        Some(_) => set.unwrap_or_default(),
        None => format!("REMOVE {keyword}"),
    };
    let action = format!("MODIFY COLUMN {} {action}", quote_ident(column));
    match property {
        // Stored values keep the old expression until their parts are rewritten.
        ColumnProperty::Materialized if value.is_some_and(|v| !v.trim().is_empty()) => {
            let mut statements = alter_table(target, table, &action);
            statements.extend(alter_storage(
                target,
                table,
                &format!("MATERIALIZE COLUMN {}", quote_ident(column)),
            ));
            statements
        }
        ColumnProperty::Default
        | ColumnProperty::Materialized
        | ColumnProperty::Alias
        | ColumnProperty::Comment => alter_table(target, table, &action),
        ColumnProperty::Codec | ColumnProperty::Ttl => alter_storage(target, table, &action),
    }
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
