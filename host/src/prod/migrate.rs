//! The reviewed migration plan at production start: verified against the app, then
//! applied by exactly one replica under the [migration lock](super::lock).

use std::path::Path;

use crate::infra_map::{apply_plan, diff, state, InfraMap, MigrationPlan, PlanError};
use moose_model::app::App;
use moose_olap::view_check::{self, ViewCheck};
use moose_olap::{OlapClient, OlapError};
use moose_pipeline::lease::{LockOptions, MigrationLock};

/// What the start did with the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanOutcome {
    /// This replica ran the plan; the applied state is now `version`.
    Applied { version: u64 },
    /// The database was already at the plan's target (another replica, or an earlier
    /// start, applied it).
    AlreadyApplied { version: u64 },
}

impl std::fmt::Display for PlanOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanOutcome::Applied { version } => write!(f, "applied the plan as v{version}"),
            PlanOutcome::AlreadyApplied { version } => write!(f, "already applied (v{version})"),
        }
    }
}

/// Why the plan was not verified or applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "the migration plan {file} leads to another app than the artifact's (plan target \
         {plan}, app {app}): build the artifact again with its reviewed plan"
    )]
    Mismatch {
        file: String,
        plan: String,
        app: String,
    },
    #[error(
        "the database drifted from the reviewed plan: its applied state is {found}, the plan \
         starts from {expected} and leads to {target}. From the applied state to the plan's \
         target:\n{}\nMake a new plan against this database (`moose plan --save`) and build again",
        differences.join("\n")
    )]
    Drift {
        found: String,
        expected: String,
        target: String,
        differences: Vec<String>,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Olap(#[from] OlapError),
}

/// Verifies that the plan in `file` leads to `app` and that the app's views fit its
/// planned tables ([`view_check::check_views`]), then under the migration lock reads
/// the applied state: at the plan's target, nothing runs; at the state the plan expects,
/// the plan runs (destructive changes included: they were reviewed) and is recorded;
/// anything else is [`MigrationError::Drift`]. The lock's release records the outcome.
pub async fn apply_reviewed_plan(
    client: &OlapClient,
    app: &App,
    file: &Path,
    replica: &str,
    options: &LockOptions,
) -> Result<PlanOutcome, MigrationError> {
    let plan = MigrationPlan::load(file)?;
    let desired = InfraMap::from_app(app)?.hash();
    if plan.desired_hash != desired {
        return Err(MigrationError::Mismatch {
            file: file.display().to_string(),
            plan: plan.desired_hash,
            app: desired,
        });
    }
    if let ViewCheck::Skipped { reason } = view_check::check_views(client, app).await? {
        tracing::warn!("views not checked against the planned tables: {reason}");
    }
    let lock = MigrationLock::acquire(client, replica, options).await?;
    let outcome = under_lock(client, &plan, file).await;
    let note = match &outcome {
        Ok(outcome) => outcome.to_string(),
        Err(e) => format!("refused: {e}"),
    };
    if let Err(e) = lock.release(&note).await {
        tracing::warn!("releasing the migration lock failed (it expires by itself): {e}");
    }
    outcome
}

async fn under_lock(
    client: &OlapClient,
    plan: &MigrationPlan,
    file: &Path,
) -> Result<PlanOutcome, MigrationError> {
    let applied = state::read(client).await?;
    match &applied {
        Some(state) if state.map_hash == plan.desired_hash => {
            return Ok(PlanOutcome::AlreadyApplied {
                version: state.version,
            })
        }
        _ if applied.as_ref().map(|a| &a.map_hash) == plan.expected_applied_hash.as_ref() => {
            let version = apply_plan(client, file).await?;
            return Ok(PlanOutcome::Applied { version });
        }
        _ => {}
    }
    let empty = InfraMap::default();
    let applied_map = applied.as_ref().map_or(&empty, |a| &a.map);
    Err(MigrationError::Drift {
        found: applied.as_ref().map_or_else(
            || "empty (nothing applied)".to_string(),
            |a| format!("v{} ({})", a.version, a.map_hash),
        ),
        expected: plan
            .expected_applied_hash
            .clone()
            .unwrap_or_else(|| "an empty database".to_string()),
        target: plan.desired_hash.clone(),
        differences: diff(applied_map, &plan.desired_map)
            .iter()
            .map(|change| format!("  {change}"))
            .collect(),
    })
}
