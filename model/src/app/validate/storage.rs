//! How a table is stored: the columns its engine names and its options (primary key,
//! sampling, settings, indexes, projections), checked against its model and sort key.
//! Expressions (partition, TTL, index, projection) are left to ClickHouse, which the host
//! asks before anything is applied.

use std::collections::BTreeSet;

use crate::types::{Field, Model, ScalarType, TableDef};

use super::is_identifier;

/// Everything wrong with `table`'s engine columns and options; `order_by` is its
/// effective sort key.
pub(super) fn problems(table: &TableDef, model: &Model, order_by: &[String]) -> Vec<String> {
    let mut problems = engine_columns(table, model);
    problems.extend(options(table, order_by));
    problems.extend(computed_columns(table, model));
    problems.extend(column_options(model, order_by));
    problems
}

fn engine_columns(table: &TableDef, model: &Model) -> Vec<String> {
    let field = |name: &str| model.fields.iter().find(|f| f.name == name);
    let mut problems = Vec::new();
    for (role, column) in table.engine.columns() {
        let Some(f) = field(column) else {
            problems.push(format!(
                "{role} column `{column}` is not a field of `{}`",
                table.model
            ));
            continue;
        };
        let scalar = f.data_type.scalar();
        let (fits, wanted) = match role {
            "sign" => (scalar == Some(&ScalarType::Int8), "Int8"),
            "is_deleted" => (scalar == Some(&ScalarType::Uint8), "UInt8"),
            "summed" => (
                matches!(scalar, Some(s) if s.is_number() || matches!(s, ScalarType::Decimal(_))),
                "numeric",
            ),
            _ => (
                matches!(scalar, Some(s) if s.is_number()
                    || matches!(s, ScalarType::Date | ScalarType::DateTime | ScalarType::DateTime64(_))),
                "a number, Date or DateTime",
            ),
        };
        if !fits {
            problems.push(format!(
                "{role} column `{column}` is {}; it must be {wanted}",
                f.type_name()
            ));
        }
    }
    if let crate::types::TableEngine::ReplacingMergeTree(r) = &table.engine {
        if r.is_deleted.is_some() && r.version.is_none() {
            problems.push("an is_deleted column needs a version column".into());
        }
    }
    problems
}

fn options(table: &TableDef, order_by: &[String]) -> Vec<String> {
    let options = &table.options;
    let mut problems = Vec::new();
    let blank = |what: &str, value: &Option<String>, problems: &mut Vec<String>| {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            problems.push(format!("{what} is empty; leave it out instead"));
        }
    };
    blank("partition_by", &options.partition_by, &mut problems);
    blank("sample_by", &options.sample_by, &mut problems);
    blank("ttl", &options.ttl, &mut problems);
    if !options.primary_key.is_empty() && !order_by.starts_with(&options.primary_key) {
        problems.push(format!(
            "primary key ({}) must be a prefix of the sort key ({})",
            options.primary_key.join(", "),
            order_by.join(", ")
        ));
    }
    if let Some(sample) = options.sample_by.as_deref().map(str::trim) {
        let primary = if options.primary_key.is_empty() {
            order_by
        } else {
            &options.primary_key
        };
        if is_identifier(sample) && !primary.iter().any(|c| c == sample) {
            problems.push(format!(
                "sample_by column `{sample}` must be part of the primary key ({})",
                primary.join(", ")
            ));
        }
    }
    let mut names = BTreeSet::new();
    for (name, value) in &options.settings {
        if !is_identifier(name) {
            problems.push(format!("setting `{name}` is not a setting name"));
        } else if !names.insert(name.as_str()) {
            problems.push(format!("setting `{name}` is set twice"));
        }
        if value.trim().is_empty() {
            problems.push(format!("setting `{name}` has no value"));
        }
    }
    let mut names = BTreeSet::new();
    for index in &options.indexes {
        let subject = format!("index `{}`", index.name);
        check_name(&subject, &index.name, &mut names, &mut problems);
        if index.expression.trim().is_empty() {
            problems.push(format!("{subject} has no expression"));
        }
        if index.kind.trim().is_empty() {
            problems.push(format!(
                "{subject} has no type (minmax, set(N), bloom_filter, ngrambf_v1(...), ...)"
            ));
        }
    }
    let mut names = BTreeSet::new();
    for projection in &options.projections {
        let subject = format!("projection `{}`", projection.name);
        check_name(&subject, &projection.name, &mut names, &mut problems);
        let select = projection.select.trim_start();
        if !select
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("select"))
        {
            problems.push(format!(
                "{subject}: its query must start with SELECT (and have no FROM)"
            ));
        }
    }
    problems
}

fn column_options(model: &Model, order_by: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let blank = |field: &Field, what: &str, value: &Option<String>, problems: &mut Vec<String>| {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            problems.push(format!(
                "field `{}`: its {what} is empty; leave it out instead",
                field.name
            ));
        }
    };
    for field in &model.fields {
        blank(field, "codec", &field.codec, &mut problems);
        blank(field, "ttl", &field.ttl, &mut problems);
        if field.ttl.is_some() && (field.key || order_by.contains(&field.name)) {
            problems.push(format!(
                "field `{}` is part of the sort key and cannot have a TTL",
                field.name
            ));
        }
    }
    problems
}

fn computed_columns(table: &TableDef, model: &Model) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for column in &table.options.computed {
        let subject = format!("computed column `{}`", column.name);
        if model.fields.iter().any(|f| f.name == column.name) {
            problems.push(format!(
                "{subject}: `{}` already has a field of this name",
                table.model
            ));
        } else {
            check_name(&subject, &column.name, &mut names, &mut problems);
        }
        if column.expression.trim().is_empty() {
            problems.push(format!("{subject} has no expression"));
        }
        if matches!(column.data_type.leaf, ScalarType::Nested(_)) {
            problems.push(format!(
                "{subject} is a nested record; computed columns hold plain types"
            ));
        }
    }
    problems
}

/// `name` is an identifier not yet in `names` (and is added to them).
fn check_name<'a>(
    subject: &str,
    name: &'a str,
    names: &mut BTreeSet<&'a str>,
    problems: &mut Vec<String>,
) {
    if !is_identifier(name) {
        problems.push(format!("{subject}: the name must be an identifier"));
    } else if !names.insert(name) {
        problems.push(format!("{subject} is declared twice"));
    }
}
