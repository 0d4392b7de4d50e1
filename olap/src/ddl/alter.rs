//! Changes to existing tables and views, as migrations apply them: columns added,
//! dropped and modified, tables dropped, copied and exchanged.

use moose_model::sql::quote_ident;

use super::target::{local_table_name, Target};

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
