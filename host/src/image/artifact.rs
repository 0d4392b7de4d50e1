//! The app part of the image, everything under `/app`: the components (raw and
//! precompiled), the infrastructure map, the migration plan, the production config
//! template and the manifest describing them.

use std::path::Path;

use wasmtime::Engine;

use super::layer::{sha256_hex, Entry};
use super::{ImageError, APP_DIR};
use crate::config::{Project, CONFIG_FILE};
use crate::infra_map::{plan_changes, InfraMap, MigrationPlan, PLAN_FORMAT};
use crate::prod::artifact::{COMPONENTS_DIR, INFRA_MAP_FILE, MANIFEST_FILE, PLAN_FILE};
use crate::prod::{Manifest, ManifestComponent};
use moose_model::app::App;
use moose_olap::ddl::Target;
use moose_runtime::compatibility_hash;

/// The `/app` part of an image.
pub(super) struct AppPart {
    pub entries: Vec<Entry>,
    pub manifest: Manifest,
    /// Ingest/API and management ports of the config template.
    pub ports: [u16; 2],
}

/// Builds the `/app` entries of `app` (assembled from `project`): each component's
/// `.wasm` and its `.cwasm` precompiled by `engine`, the infrastructure map, the plan
/// (`plan_file`, checked to lead to this app, else the plan from an empty database),
/// the config template and the manifest. `progress` gets a line per step.
pub(super) fn app_part(
    project: &Project,
    app: &App,
    engine: &Engine,
    plan_file: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> Result<AppPart, ImageError> {
    let mut entries = Vec::new();
    let mut components = Vec::new();
    for info in &app.components {
        check_name(&info.name)?;
        let wasm = format!("{COMPONENTS_DIR}/{}.wasm", info.name);
        let cwasm = format!("{COMPONENTS_DIR}/{}.cwasm", info.name);
        let bytes = std::fs::read(&info.wasm).map_err(|e| ImageError::io(&info.wasm, e))?;
        let started = std::time::Instant::now();
        let compiled =
            engine
                .precompile_component(&bytes)
                .map_err(|error| ImageError::Precompile {
                    component: info.name.clone(),
                    message: format!("{error:#}"),
                })?;
        progress(&format!(
            "precompiled {} ({} -> {} bytes) in {:.2?}",
            info.name,
            bytes.len(),
            compiled.len(),
            started.elapsed()
        ));
        components.push(ManifestComponent {
            name: info.name.clone(),
            language: info.language,
            sha256: sha256_hex(&bytes),
        });
        entries.push(Entry::file(&in_app(&wasm), 0o644, &info.wasm));
        entries.push(Entry::bytes(&in_app(&cwasm), 0o644, compiled));
    }

    let desired = InfraMap::from_app(app).map_err(|e| ImageError::Plan {
        message: e.to_string(),
    })?;
    let (plan, from_empty_database) = migration_plan(project, app, &desired, plan_file)?;
    if from_empty_database {
        progress(&format!(
            "no --plan given: {PLAN_FILE} is the plan from an empty database ({} creates); \
             for a database that already has the app, review `moose plan --save` against it \
             and pass it with --plan",
            plan.changes.len()
        ));
    }
    let plan_json = pretty(PLAN_FILE, &plan)?;

    let config_path = project.root.join(CONFIG_FILE);
    let config_text =
        std::fs::read_to_string(&config_path).map_err(|e| ImageError::io(&config_path, e))?;
    let template =
        super::template::config_template(&config_text, &project.config).map_err(|source| {
            ImageError::Template {
                path: config_path.clone(),
                source,
            }
        })?;

    let manifest = Manifest {
        app: app.name.clone(),
        host_version: env!("CARGO_PKG_VERSION").to_string(),
        engine_compat_hash: compatibility_hash(engine),
        components,
    };
    let manifest_json = pretty(MANIFEST_FILE, &manifest)?;

    entries.extend([
        Entry::bytes(&in_app(CONFIG_FILE), 0o644, template.text),
        Entry::bytes(&in_app(INFRA_MAP_FILE), 0o644, desired.to_json() + "\n"),
        Entry::bytes(&in_app(PLAN_FILE), 0o644, plan_json),
        Entry::bytes(&in_app(MANIFEST_FILE), 0o644, manifest_json),
    ]);
    Ok(AppPart {
        entries,
        manifest,
        ports: template.ports,
    })
}

/// `value` as pretty JSON with a final newline, for the file `what`.
fn pretty(what: &str, value: &impl serde::Serialize) -> Result<String, ImageError> {
    serde_json::to_string_pretty(value)
        .map(|json| json + "\n")
        .map_err(|e| ImageError::Json {
            what: what.to_string(),
            message: e.to_string(),
        })
}

/// `path` under [`APP_DIR`].
fn in_app(path: &str) -> String {
    format!("{APP_DIR}/{path}")
}

/// Component names become file names: letters, digits, `-`, `_` and `.` only.
fn check_name(name: &str) -> Result<(), ImageError> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(ImageError::ComponentName {
            name: name.to_string(),
        })
    }
}

/// The plan to ship and whether it is the plan from an empty database: the reviewed
/// `file`, which must be for this app and lead to its infrastructure map, or, without
/// one, every create the app needs on the configured database.
fn migration_plan(
    project: &Project,
    app: &App,
    desired: &InfraMap,
    file: Option<&Path>,
) -> Result<(MigrationPlan, bool), ImageError> {
    let plan_error = |message: String| ImageError::Plan { message };
    if let Some(file) = file {
        let plan = MigrationPlan::load(file).map_err(|e| plan_error(e.to_string()))?;
        if plan.app != app.name {
            return Err(plan_error(format!(
                "{} is a plan for app `{}`, not `{}`",
                file.display(),
                plan.app,
                app.name
            )));
        }
        if plan.desired_map.hash() != desired.hash() {
            return Err(plan_error(format!(
                "{} does not lead to the app being built (its desired map differs); \
                 run `moose plan --save` again",
                file.display()
            )));
        }
        return Ok((plan, false));
    }
    let section = &project.config.clickhouse;
    let target = Target {
        database: section.database.clone(),
        cluster: section.cluster.clone(),
        server: None,
    };
    let changes = plan_changes(app, &InfraMap::default(), desired, &target)
        .map_err(|e| plan_error(e.to_string()))?;
    Ok((
        MigrationPlan {
            format: PLAN_FORMAT,
            app: app.name.clone(),
            database: target.database,
            expected_applied_hash: None,
            desired_hash: desired.hash(),
            changes,
            desired_map: desired.clone(),
        },
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names_must_be_file_names() {
        assert!(check_name("quickstart-ts_2.1").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
