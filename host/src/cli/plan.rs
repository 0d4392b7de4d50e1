//! `moose plan`: what applying the app would change in its database, from the state the
//! database recorded last.

use std::path::PathBuf;

use super::olap;
use crate::assemble::assemble;
use crate::builder::Profile;
use crate::config::Project;
use crate::infra_map::{
    plan_changes, state, InfraMap, MigrationPlan, PlannedChange, Safety, PLAN_FORMAT,
};
use moose_olap::OlapClient;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// The ClickHouse server to compare with (default: `[clickhouse] url`, else the
    /// app's embedded engine, started for the comparison when it is not running).
    #[arg(long, value_name = "URL")]
    clickhouse_url: Option<String>,
    /// Write the plan, with its DDL statements, to FILE for review and `apply_plan`.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    let runtime = super::offline_runtime(&project)?;
    let app = assemble(&project, &runtime, Profile::Release, |_| {})?.app;
    let desired = InfraMap::from_app(&app)?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let purpose = "to read the applied state";
        let (client, store) =
            olap::connect(&project, args.clickhouse_url.as_deref(), purpose).await?;
        let result = match olap::check_views(&client, &app).await {
            Ok(()) => plan(&args, &app.name, &client, &desired, &app).await,
            Err(error) => Err(error),
        };
        if let Some(store) = store {
            store.shutdown().await?;
        }
        result
    })
}

async fn plan(
    args: &Args,
    app_name: &str,
    client: &OlapClient,
    desired: &InfraMap,
    app: &moose_model::app::App,
) -> anyhow::Result<()> {
    let target = client.target().await?;
    let applied = state::read(client).await?;
    let empty = InfraMap::default();
    let applied_map = applied.as_ref().map_or(&empty, |a| &a.map);
    let changes = plan_changes(app, applied_map, desired, &target)?;
    let plan = MigrationPlan {
        format: PLAN_FORMAT,
        app: app_name.to_string(),
        database: target.database.clone(),
        expected_applied_hash: applied.as_ref().map(|a| a.map_hash.clone()),
        desired_hash: desired.hash(),
        changes,
        desired_map: desired.clone(),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "app": plan.app,
                "database": plan.database,
                "applied_version": applied.as_ref().map(|a| a.version),
                "applied_hash": plan.expected_applied_hash,
                "desired_hash": plan.desired_hash,
                "changes": plan.changes,
            }))?
        );
    } else {
        print!("{}", render(&plan, applied.as_ref()));
    }
    if let Some(file) = &args.save {
        plan.save(file)?;
        eprintln!("Wrote the plan to {}.", file.display());
    }
    Ok(())
}

/// The plan for people: a header, one line per change, a summary.
fn render(plan: &MigrationPlan, applied: Option<&state::AppliedState>) -> String {
    let mut out = match applied {
        Some(a) => format!(
            "Plan for `{}` in database `{}` against applied state v{} ({}):\n",
            plan.app, plan.database, a.version, a.applied_at
        ),
        None => format!(
            "Plan for `{}` in database `{}` (nothing applied yet):\n",
            plan.app, plan.database
        ),
    };
    if plan.changes.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    for PlannedChange { change, .. } in &plan.changes {
        out.push_str(&format!("  {change}\n"));
    }
    let destructive = plan
        .changes
        .iter()
        .filter(|c| c.change.safety == Safety::Destructive)
        .count();
    out.push_str(&format!(
        "{} changes: {} safe, {destructive} destructive.\n",
        plan.changes.len(),
        plan.changes.len() - destructive
    ));
    out
}
