//! Migration plan files: what `moose plan --save FILE` writes for review and
//! [`apply_plan`] runs. A plan is JSON, meant to be read and edited: its changes, each
//! with the DDL statements that make it (edit, reorder or remove them freely), the hash
//! of the applied state it was planned against and the desired map it leads to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::map::InfraMap;
use super::migrate::{plan_hash, run, PlannedChange};
use super::state;
use moose_olap::{OlapClient, OlapError};

/// The format version [`MigrationPlan::format`] this host writes and reads.
pub const PLAN_FORMAT: u32 = 1;

/// A reviewed list of changes to run against one applied state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationPlan {
    pub format: u32,
    pub app: String,
    pub database: String,
    /// [`InfraMap::hash`] of the applied state the plan was made against; `None` when
    /// nothing was applied.
    pub expected_applied_hash: Option<String>,
    /// [`InfraMap::hash`] of `desired_map`.
    pub desired_hash: String,
    /// Run in order.
    pub changes: Vec<PlannedChange>,
    /// The state recorded once the plan ran.
    pub desired_map: InfraMap,
}

/// Why a plan did not run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error(
        "the database drifted since the plan was made: the plan expects applied state {}, \
         the database has {}; run `moose plan` again",
        show(expected),
        show(found)
    )]
    Drift {
        expected: Option<String>,
        found: Option<String>,
    },
    #[error(transparent)]
    Olap(#[from] OlapError),
}

fn show(hash: &Option<String>) -> &str {
    hash.as_deref().unwrap_or("(nothing applied)")
}

impl MigrationPlan {
    /// Writes the plan as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), PlanError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| file_error(path, e))?;
        std::fs::write(path, json + "\n").map_err(|e| file_error(path, e))
    }

    /// Reads a plan that [`MigrationPlan::save`] wrote (and a person may have edited).
    pub fn load(path: &Path) -> Result<Self, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
        let plan: Self = serde_json::from_str(&text).map_err(|e| file_error(path, e))?;
        if plan.format != PLAN_FORMAT {
            return Err(file_error(
                path,
                format!(
                    "plan format {} is not supported (this host reads format {PLAN_FORMAT})",
                    plan.format
                ),
            ));
        }
        Ok(plan)
    }
}

fn file_error(path: &Path, error: impl std::fmt::Display) -> PlanError {
    PlanError::File {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// Runs the plan in `file` on `client`'s database: refuses with [`PlanError::Drift`]
/// when the applied state is not the one the plan was made against, else runs exactly
/// the plan's statements in order and records its desired map as the applied state.
/// Returns the new state's version.
pub async fn apply_plan(client: &OlapClient, file: &Path) -> Result<u64, PlanError> {
    let plan = MigrationPlan::load(file)?;
    let target = client.target().await?;
    if plan.database != target.database {
        return Err(file_error(
            file,
            format!(
                "the plan is for database `{}`, the client uses `{}`",
                plan.database, target.database
            ),
        ));
    }
    let applied = state::read(client).await?;
    let found = applied.as_ref().map(|a| a.map_hash.clone());
    if found != plan.expected_applied_hash {
        return Err(PlanError::Drift {
            expected: plan.expected_applied_hash,
            found,
        });
    }
    run(client, &target, &plan.changes).await?;
    Ok(state::record(
        client,
        &target,
        applied.as_ref(),
        &plan.desired_map,
        &plan_hash(&plan.changes),
    )
    .await?)
}
