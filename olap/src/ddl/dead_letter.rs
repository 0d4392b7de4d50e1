//! Dead-letter tables: one per dead-letter stream the app names, with the host's schema.

use std::collections::BTreeSet;

use moose_model::app::App;
use moose_model::sql::quote_ident;

use super::super::compat::{Column, TypeFeature};
use super::create::plain_table_sql;
use super::target::{distributed_table, Target};
use super::{DdlKind, DdlStatement};

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
    let (table, sql) = plain_table_sql(&target, name, &columns, "failed_at");
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
        options: vec![],
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
