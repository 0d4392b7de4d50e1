//! Planning and running migrations: the changes between the applied state and the app,
//! with their DDL, run in order and recorded as the new applied state.

use serde::{Deserialize, Serialize};

use super::diff::{diff, Action, Change, ObjectKind, Safety};
use super::map::{sha256_hex, InfraMap, TableKind};
use super::sql::statements;
use super::state::{self, AppliedState};
use moose_model::app::App;
use moose_olap::ddl::{self, Target};
use moose_olap::view_check::{self, ViewCheck};
use moose_olap::{OlapClient, OlapError};

/// A change and the statements that make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChange {
    #[serde(flatten)]
    pub change: Change,
    /// Run in order; none for changes the host makes itself (streams, functions, APIs).
    pub statements: Vec<String>,
}

/// The changes from `applied` to `desired` (the map of `app`) with their DDL on `target`.
pub fn plan_changes(
    app: &App,
    applied: &InfraMap,
    desired: &InfraMap,
    target: &Target,
) -> Result<Vec<PlannedChange>, OlapError> {
    diff(applied, desired)
        .into_iter()
        .map(|change| {
            let statements = statements(&change, app, desired, applied, target)?;
            Ok(PlannedChange { change, statements })
        })
        .collect()
}

/// Hex SHA-256 of the statements of `changes`, in order.
pub fn plan_hash(changes: &[PlannedChange]) -> String {
    statements_hash(
        changes
            .iter()
            .flat_map(|c| c.statements.iter().map(String::as_str)),
    )
}

fn statements_hash<'a>(statements: impl IntoIterator<Item = &'a str>) -> String {
    let all: Vec<&str> = statements.into_iter().collect();
    sha256_hex(&all.join("\n;\n"))
}

/// Creates the database if needed, then runs the statements of `changes` in order. An
/// error names the change whose statement failed; the changes before it stay applied.
pub async fn run(
    client: &OlapClient,
    target: &Target,
    changes: &[PlannedChange],
) -> Result<(), OlapError> {
    client
        .execute_on_server(&ddl::create_database(target))
        .await?;
    for planned in changes {
        for sql in &planned.statements {
            client
                .execute(sql)
                .await
                .map_err(|error| error.with_context(&format!("{}: ", planned.change)))?;
        }
        tracing::debug!(change = %planned.change, "applied");
    }
    Ok(())
}

/// What [`migrate_dev`] did.
#[derive(Debug)]
pub struct Migrated {
    /// The changes applied; on the first start, what was created.
    pub changes: Vec<PlannedChange>,
    /// The applied state's version now.
    pub version: u64,
}

/// Brings the database to `app` during development. First checks the app's views against
/// its planned tables ([`view_check::check_views`]) and refuses the app, changing nothing,
/// when one does not fit. Then, on the first start (no applied state), creates everything
/// as [`ddl::plan`] does; afterwards applies every change since the applied state,
/// destructive ones included, calling `warn` with a line for each destructive one. A dead-letter table the app no longer has is kept with its rows
/// (with a `warn` line): nothing else keeps the records it holds. Then creates whatever is
/// missing (`IF NOT EXISTS`, so an object dropped by hand comes back) and records the new
/// state.
pub async fn migrate_dev(
    client: &OlapClient,
    app: &App,
    warn: &mut dyn FnMut(&str),
) -> Result<Migrated, OlapError> {
    let target = client.target().await?;
    let desired = InfraMap::from_app(app)?;
    if let ViewCheck::Skipped { reason } = view_check::check_views(client, app).await? {
        warn(&format!(
            "warning: views not checked against the planned tables: {reason}"
        ));
    }
    let mut schema = ddl::plan(app, &target)?;
    schema.extend(ddl::dead_letter_tables(app, &target));
    let applied = state::read(client).await?;
    let changes = match &applied {
        Some(AppliedState { map, .. }) => {
            let mut changes = plan_changes(app, map, &desired, &target)?;
            // Every column and option the app will have must fit the server before
            // anything runs.
            ddl::check_server(client.server_info().await?, &schema)?;
            for planned in &mut changes {
                if drops_dead_letters(&planned.change, map) {
                    planned.statements.clear();
                    warn(&format!(
                        "kept dead-letter table `{}` and its rows: nothing writes to it any \
                         more (query it as before; drop it by hand when done)",
                        planned.change.name
                    ));
                } else if planned.change.safety == Safety::Destructive {
                    warn(&format!(
                        "warning: destructive change applied in dev: {}",
                        planned.change
                    ));
                }
            }
            run(client, &target, &changes).await?;
            changes
        }
        // Reported, not run: the schema below creates all of it.
        None => plan_changes(app, &InfraMap::default(), &desired, &target)?
            .into_iter()
            .filter(|planned| !planned.statements.is_empty())
            .collect(),
    };
    ddl::apply(client, &schema).await?;
    let recorded = if applied.is_some() {
        plan_hash(&changes)
    } else {
        statements_hash(schema.iter().map(|s| s.sql.as_str()))
    };
    let unchanged = applied
        .as_ref()
        .is_some_and(|a| changes.is_empty() && a.map_hash == desired.hash());

    let version = match &applied {
        Some(a) if unchanged => a.version,
        _ => state::record(client, &target, applied.as_ref(), &desired, &recorded).await?,
    };
    Ok(Migrated { changes, version })
}

/// Whether `change` drops a dead-letter table of `applied`.
fn drops_dead_letters(change: &Change, applied: &InfraMap) -> bool {
    change.kind == ObjectKind::Table
        && change.action == Action::Drop
        && applied
            .tables
            .get(&change.name)
            .is_some_and(|t| t.kind == TableKind::DeadLetter)
}
