//! Views, and tables' storage options, checked before anything is applied.
//!
//! A materialized view whose SELECT does not fit its target table is created without
//! complaint, then fails on every insert into its sources, so its target stays empty. To
//! refuse such an app up front, [`check_views`] creates the app's planned tables in a
//! scratch database on the same server, creates each view (and each materialized view's
//! SELECT, as a plain view) there, reads back the column types the server derived, and
//! compares each materialized view's columns with its target's by name (see [`fits`]).
//! The scratch database is dropped afterwards; nothing of the app's database is touched.
//! The same run refuses a table whose partition key, TTL, index, projection, setting or
//! column codec the server does not accept, naming the table, before anything is applied.

mod fit;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use moose_model::app::App;
use moose_model::types::{AggregationDef, ViewDef};

use super::client::OlapClient;
use super::ddl::{self, quote_ident, quote_string, DdlKind, DdlStatement, Target};
use super::error::OlapError;

pub use fit::fits;

/// Prefix of the scratch databases [`check_views`] creates and drops; the app's database
/// name follows it.
pub const SCRATCH_PREFIX: &str = "_moose_check_";

/// The outcome of [`check_views`] when nothing was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewCheck {
    /// Every view's SELECT ran against the planned tables and every materialized view fits
    /// its target (also when the app has no views).
    Passed,
    /// The server refused the scratch database (e.g. the user may not create databases),
    /// so nothing was checked; `reason` is the server's answer.
    Skipped { reason: String },
}

/// Checks `app`'s views and materialized views against its planned tables on `client`'s
/// server. Refuses, as [`OlapError::Schema`] naming the aggregation, the column and both
/// types, a materialized view whose SELECT yields a column its target table lacks or one
/// of a type that does not convert into the target column's; a SELECT the server cannot
/// run against the planned tables is [`OlapError::Rejected`] naming the view.
pub async fn check_views(client: &OlapClient, app: &App) -> Result<ViewCheck, OlapError> {
    if app.def.aggregations.is_empty() && app.def.views.is_empty() && !has_storage_options(app) {
        return Ok(ViewCheck::Passed);
    }
    let info = client.server_info().await?;
    let scratch = Target {
        database: scratch_name(client.database()),
        cluster: None,
        server: Some(info.version),
    };
    let statements = ddl::plan(app, &scratch)?;
    ddl::check_server(info, &statements)?;
    if let Err(error) = client
        .execute_on_server(&ddl::create_database(&scratch))
        .await
    {
        if error.is_retryable() {
            return Err(error);
        }
        return Ok(ViewCheck::Skipped {
            reason: error.to_string(),
        });
    }
    let scratch_client = client.with_database(&scratch.database);
    let checked = check_in(&scratch_client, app, &scratch, statements).await;
    let drop = format!("DROP DATABASE IF EXISTS {}", quote_ident(&scratch.database));
    if let Err(error) = client.execute_on_server(&drop).await {
        tracing::warn!(database = %scratch.database, %error, "could not drop the scratch database of the view check");
    }
    checked.map(|()| ViewCheck::Passed)
}

/// Some table declares storage options or a column a codec or TTL: expressions only the
/// server can check, so the planned tables are created in the scratch database even
/// without views.
fn has_storage_options(app: &App) -> bool {
    let def = &app.def;
    let tables = def
        .tables
        .iter()
        .chain(def.aggregations.iter().map(|a| &a.target))
        .chain(def.windowed_aggregations.iter().map(|w| &w.target));
    let columns = def.models.iter().flat_map(|m| &m.fields);
    tables.into_iter().any(|t| t.options != Default::default())
        || columns
            .into_iter()
            .any(|f| f.codec.is_some() || f.ttl.is_some())
}

/// A database name no other check uses at the same time, naming the app's `database`.
fn scratch_name(database: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{SCRATCH_PREFIX}{database}_{}_{nanos}", std::process::id())
}

/// Runs `statements` (the planned schema) in `scratch` through `client`, bound to it,
/// materialized views as plain views of their SELECTs, then compares.
async fn check_in(
    client: &OlapClient,
    app: &App,
    scratch: &Target,
    statements: Vec<DdlStatement>,
) -> Result<(), OlapError> {
    for statement in statements {
        let (sql, subject) = match statement.kind {
            DdlKind::Database => continue,
            DdlKind::MaterializedView => {
                let aggregation = aggregation_of(app, &statement.name)?;
                let select = ViewDef {
                    name: statement.name.clone(),
                    select: aggregation.select.clone(),
                    sources: aggregation.sources.clone(),
                };
                (
                    ddl::create_view(scratch, &select),
                    format!("aggregation `{}`", aggregation.name),
                )
            }
            DdlKind::View => (statement.sql, format!("view `{}`", statement.name)),
            kind => (
                statement.sql,
                format!(
                    "{kind} `{}`: the server refused its definition",
                    statement.name
                ),
            ),
        };
        client.execute(&sql).await.map_err(|error| {
            let context = match statement.kind {
                DdlKind::View | DdlKind::MaterializedView => {
                    format!("{subject}: its SQL does not run against the planned tables: ")
                }
                _ => format!("{subject}: "),
            };
            error.with_context(&context)
        })?;
    }
    let columns = columns(client, &scratch.database).await?;
    let problems: Vec<String> = app
        .def
        .aggregations
        .iter()
        .filter_map(|aggregation| mismatch(aggregation, &columns))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(OlapError::Schema(problems.join("\n")))
    }
}

fn aggregation_of<'a>(app: &'a App, view: &str) -> Result<&'a AggregationDef, OlapError> {
    app.def
        .aggregations
        .iter()
        .find(|a| ddl::materialized_view_name(a) == view)
        .ok_or_else(|| OlapError::Schema(format!("no aggregation makes view `{view}`")))
}

/// Each table's and view's columns in `database`: name and type, in order.
type Columns = BTreeMap<String, Vec<(String, String)>>;

async fn columns(client: &OlapClient, database: &str) -> Result<Columns, OlapError> {
    #[derive(serde::Deserialize)]
    struct Row {
        table: String,
        name: String,
        #[serde(rename = "type")]
        ty: String,
    }
    let sql = format!(
        "SELECT table, name, type FROM system.columns WHERE database = {}",
        quote_string(database)
    );
    let bytes = client.fetch_bytes(&sql, "JSONEachRow", &[]).await?;
    let mut columns = Columns::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let row: Row = serde_json::from_slice(line).map_err(|e| OlapError::Unavailable {
            code: None,
            message: format!("unexpected reply listing the columns of `{database}`: {e}"),
        })?;
        columns
            .entry(row.table)
            .or_default()
            .push((row.name, row.ty));
    }
    Ok(columns)
}

/// What is wrong with `aggregation`'s materialized view against its target, if anything.
fn mismatch(aggregation: &AggregationDef, columns: &Columns) -> Option<String> {
    let empty = Vec::new();
    let selected = columns
        .get(&ddl::materialized_view_name(aggregation))
        .unwrap_or(&empty);
    let table = &aggregation.target.name;
    let target = columns.get(table).unwrap_or(&empty);
    let mut problems = Vec::new();
    for (name, ty) in selected {
        match target.iter().find(|(column, _)| column == name) {
            None => problems.push(format!(
                "the SELECT yields column `{name}` ({ty}), which the table does not have (its columns: {})",
                target
                    .iter()
                    .map(|(c, _)| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some((_, column_type)) if !fits(ty, column_type) => problems.push(format!(
                "column `{name}` is {ty} in the SELECT but {column_type} in the table; \
                 cast it in the SELECT or change the field's type in model `{}`",
                aggregation.target.model
            )),
            Some(_) => {}
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "aggregation `{}`: its SELECT does not fit target table `{table}`: {}",
            aggregation.name,
            problems.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use moose_model::types::{TableDef, TableEngine};

    fn aggregation() -> AggregationDef {
        AggregationDef {
            name: "dau".into(),
            select: "SELECT day, uniqState(user) AS users FROM Events GROUP BY day".into(),
            sources: vec!["Events".into()],
            target: TableDef {
                name: "DailyActiveUsers".into(),
                model: "DailyActiveUsers".into(),
                order_by: vec!["day".into()],
                engine: TableEngine::AggregatingMergeTree,
                source_stream: None,
                options: Default::default(),
            },
        }
    }

    fn columns(view: &[(&str, &str)], table: &[(&str, &str)]) -> Columns {
        let owned = |cs: &[(&str, &str)]| {
            cs.iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect()
        };
        Columns::from([
            ("dau_mv".to_string(), owned(view)),
            ("DailyActiveUsers".to_string(), owned(table)),
        ])
    }

    #[test]
    fn a_state_into_a_plain_column_is_named_with_both_types() {
        let found = mismatch(
            &aggregation(),
            &columns(
                &[
                    ("day", "Date"),
                    ("users", "AggregateFunction(uniq, String)"),
                ],
                &[("day", "Date"), ("users", "UInt64")],
            ),
        )
        .expect("a mismatch");
        assert!(found.contains("aggregation `dau`"), "{found}");
        assert!(found.contains("target table `DailyActiveUsers`"), "{found}");
        assert!(
            found.contains("column `users` is AggregateFunction(uniq, String) in the SELECT but UInt64 in the table"),
            "{found}"
        );
    }

    #[test]
    fn a_column_the_table_lacks_is_named_with_the_tables_columns() {
        let found = mismatch(
            &aggregation(),
            &columns(
                &[("day", "Date"), ("dau", "AggregateFunction(uniq, String)")],
                &[
                    ("day", "Date"),
                    ("users", "AggregateFunction(uniq, String)"),
                ],
            ),
        )
        .expect("a mismatch");
        assert!(found.contains("column `dau`"), "{found}");
        assert!(found.contains("`day`, `users`"), "{found}");
    }

    #[test]
    fn fitting_columns_pass() {
        assert_eq!(
            mismatch(
                &aggregation(),
                &columns(
                    &[
                        ("day", "Date"),
                        ("users", "AggregateFunction(uniq, String)")
                    ],
                    &[
                        ("day", "Date"),
                        ("users", "AggregateFunction(uniq, String)"),
                        ("note", "String"),
                    ],
                ),
            ),
            None
        );
    }
}
