//! Hot reload for `moose dev`: a changed component is rebuilt, loaded and described, the
//! app is merged and validated with its new part, new infrastructure is created, and the
//! new version is swapped in between batches and requests.
//!
//! Function runners and API routes hold their component through a [`ComponentHandle`]
//! and read it once per batch or request, so a batch in flight finishes on the old
//! version and the next one runs on the new; consumers keep their group and offsets, so
//! every record is processed by exactly one of the two versions. A build, load or
//! validation failure is printed and the old version keeps running. Window runners do
//! the same and keep their open windows' state, unless the aggregation's source, time
//! field, window or state version changed (see [`moose_pipeline::windows`]).
//!
//! The ingest endpoints, the API routes, the catalog and the OpenAPI document are read
//! once per request from swappable state, so a reload that adds a model and its ingest
//! pipeline serves the new route, its table and its schema without a restart.

mod watch;
mod workers;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiEndpoint, ApiEndpoints, ApiState};
use crate::assemble::load_built;
use crate::builder::{self, Profile};
use crate::config::Project;
use crate::infra::Infra;
use crate::infra_map;
use crate::ingest::{IngestEndpoint, IngestEndpoints, IngestState};
use crate::mgmt::{AppView, MgmtState};
use moose_model::app::{self, App, ComponentInfo, ComponentPart};
use moose_olap::OlapClient;
use moose_pipeline::functions::Destination;
use moose_runtime::{ComponentHandle, GuestComponent, Runtime};
use moose_streams::Streams;

pub use workers::{Changes, Workers};

/// The API endpoints of `app`, served by the components in `components`.
pub fn api_endpoints(
    app: &App,
    components: &BTreeMap<String, ComponentHandle>,
) -> anyhow::Result<ApiEndpoints> {
    let mut apis = BTreeMap::new();
    for api in &app.def.apis {
        let component = app
            .api_component(&api.name)
            .and_then(|c| components.get(&c.name))
            .ok_or_else(|| anyhow!("no component serves API `{}`", api.name))?
            .clone();
        let key = match &api.version {
            Some(version) => format!("{}/{version}", api.name),
            None => api.name.clone(),
        };
        apis.insert(
            key,
            ApiEndpoint {
                def: api.clone(),
                component,
            },
        );
    }
    Ok(apis)
}

/// The ingest endpoints of `app`, keyed by route (see [`App::ingest_route`]).
pub fn ingest_endpoints(app: &App) -> anyhow::Result<IngestEndpoints> {
    let mut endpoints = BTreeMap::new();
    for ingest in &app.def.ingests {
        let target = Destination::of(app, &ingest.stream)?;
        endpoints.insert(
            app.ingest_route(ingest),
            IngestEndpoint {
                name: ingest.name.clone(),
                stream: ingest.stream.clone(),
                dead_letter: ingest.dead_letter.clone(),
                validator: target.validator,
                key_fields: target.key_fields,
            },
        );
    }
    Ok(endpoints)
}

/// Writes the app's OpenAPI document to `.moose/openapi.json`.
pub fn write_openapi(project: &Project, document: &serde_json::Value) -> anyhow::Result<()> {
    let file = project.openapi_file();
    std::fs::write(&file, serde_json::to_vec_pretty(document)?)
        .with_context(|| format!("writing {}", file.display()))
}

/// Everything of a running host that a reload replaces or extends.
pub struct Reloader {
    pub project: Project,
    pub runtime: Arc<Runtime>,
    pub app: App,
    pub components: BTreeMap<String, ComponentHandle>,
    pub workers: Arc<Mutex<Workers>>,
    pub apis: Arc<ApiState>,
    pub ingest: Arc<IngestState>,
    /// Serves the catalog and the OpenAPI document.
    pub mgmt: Arc<MgmtState>,
    pub streams: Arc<dyn Streams>,
    pub olap: Arc<OlapClient>,
    /// Derives the infrastructure of an app as the host runs it.
    pub infra: fn(&App, &Project) -> Infra,
}

/// The tables whose syncs must pause while `old` is migrated to `new`: every table that
/// is rebuilt (new engine or sort key), and the sources of the aggregations that read or
/// write one (their materialized views are dropped during the rebuild).
fn paused_syncs(old: &App, new: &App) -> anyhow::Result<BTreeSet<String>> {
    let rebuilt: BTreeSet<String> = infra_map::diff(
        &infra_map::InfraMap::from_app(old)?,
        &infra_map::InfraMap::from_app(new)?,
    )
    .into_iter()
    .filter(|c| matches!(c.action, infra_map::Action::Rebuild { .. }))
    .map(|c| c.name)
    .collect();
    let mut paused = rebuilt.clone();
    for aggregation in old.def.aggregations.iter().chain(&new.def.aggregations) {
        let touches = rebuilt.contains(&aggregation.target.name)
            || aggregation.sources.iter().any(|s| rebuilt.contains(s));
        if touches {
            paused.extend(aggregation.sources.iter().cloned());
        }
    }
    Ok(paused)
}

/// Prints the ingest routes a reload added and removed.
fn print_routes(component: &str, before: &IngestEndpoints, after: &IngestEndpoints) {
    let routes = |of: &IngestEndpoints, without: &IngestEndpoints| -> Vec<String> {
        of.keys()
            .filter(|route| !without.contains_key(*route))
            .map(|route| format!("POST /ingest/{route}"))
            .collect()
    };
    for (verb, routes) in [
        ("serving", routes(after, before)),
        ("no longer serving", routes(before, after)),
    ] {
        if !routes.is_empty() {
            println!("reload {component}: {verb} {}", routes.join(", "));
        }
    }
}

/// How long each step of one reload took.
struct Timings {
    build: Duration,
    load: Duration,
    describe: Duration,
    plan: Duration,
    apply: Duration,
    swap: Duration,
}

impl Reloader {
    /// Watches the component sources and reloads each changed component until `stop` is
    /// cancelled.
    pub fn spawn(self, stop: CancellationToken) -> anyhow::Result<JoinHandle<()>> {
        let dirs: Vec<PathBuf> = self
            .project
            .component_dirs()
            .into_iter()
            .map(|dir| dir.canonicalize().unwrap_or(dir))
            .collect();
        let changes = watch::watch(dirs).context("watching the component sources")?;
        Ok(tokio::spawn(self.run(changes, stop)))
    }

    async fn run(mut self, mut changes: mpsc::UnboundedReceiver<usize>, stop: CancellationToken) {
        loop {
            let index = tokio::select! {
                _ = stop.cancelled() => return,
                index = changes.recv() => match index {
                    Some(index) => index,
                    None => return,
                },
            };
            // Changes that arrived meanwhile are covered by this reload.
            let mut pending = vec![index];
            while let Ok(index) = changes.try_recv() {
                if !pending.contains(&index) {
                    pending.push(index);
                }
            }
            for index in pending {
                let Some(name) = self.app.components.get(index).map(|c| c.name.clone()) else {
                    continue;
                };
                println!("reload {name}: sources changed, rebuilding...");
                let outcome = tokio::select! {
                    _ = stop.cancelled() => return,
                    outcome = self.reload(index) => outcome,
                };
                match outcome {
                    Ok(Some((timings, changes))) => {
                        println!(
                            "reload {name}: build {:.1?}, load {:.1?}, describe {:.1?}, plan {:.1?}, apply {:.1?}, swap {:.1?}",
                            timings.build,
                            timings.load,
                            timings.describe,
                            timings.plan,
                            timings.apply,
                            timings.swap
                        );
                        if !changes.is_empty() {
                            println!("reload {name}: {changes}");
                        }
                    }
                    Ok(None) => println!("reload {name}: unchanged, nothing to do"),
                    Err(error) => println!(
                        "reload {name} failed, the previous version keeps running: {error:#}"
                    ),
                }
            }
        }
    }

    /// Reloads the component at `index`; `None` when its build output is unchanged.
    async fn reload(&mut self, index: usize) -> anyhow::Result<Option<(Timings, Changes)>> {
        let old = self.app.components[index].clone();
        let started = Instant::now();
        let dir = old.source.clone();
        let built = tokio::task::spawn_blocking(move || builder::build(&dir, Profile::Dev))
            .await
            .context("the build did not complete")??;
        let build = started.elapsed();
        if built.fresh {
            return Ok(None);
        }
        if built.name != old.name {
            bail!(
                "the component was renamed from `{}` to `{}`; restart `moose dev` to rename it",
                old.name,
                built.name
            );
        }

        let started = Instant::now();
        let runtime = self.runtime.clone();
        let loading = built.clone();
        let component = tokio::task::spawn_blocking(move || load_built(&runtime, &loading))
            .await
            .context("loading did not complete")??;
        let component = Arc::new(component);
        let load = started.elapsed();

        let started = Instant::now();
        let mut describing: Vec<Arc<GuestComponent>> = self
            .app
            .components
            .iter()
            .map(|info| {
                self.components
                    .get(&info.name)
                    .map(|handle| handle.load_full())
                    .ok_or_else(|| anyhow!("component `{}` is not loaded", info.name))
            })
            .collect::<anyhow::Result<_>>()?;
        describing[index] = component.clone();
        let defs = tokio::task::spawn_blocking(move || {
            describing
                .iter()
                .map(|component| component.describe())
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .context("describing did not complete")?
        .context("describing the app failed")?;
        let describe = started.elapsed();

        let started = Instant::now();
        let parts = self
            .app
            .components
            .iter()
            .zip(defs)
            .enumerate()
            .map(|(i, (info, def))| {
                let info = if i == index {
                    ComponentInfo {
                        name: built.name.clone(),
                        language: built.language,
                        source: built.source.clone(),
                        wasm: built.wasm.clone(),
                        wasm_size: component.info().wasm_size,
                        digest: component.info().digest.clone(),
                        functions: vec![],
                        apis: vec![],
                        windowed_aggregations: vec![],
                    }
                } else {
                    info.clone()
                };
                ComponentPart { info, def }
            })
            .collect();
        let app = app::merge(&self.app.name, parts)?;
        app::validate(&app)?;
        let infra = (self.infra)(&app, &self.project);
        let apis = api_endpoints(&app, &self.components)?;
        let endpoints = ingest_endpoints(&app)?;
        let plan = started.elapsed();

        let started = Instant::now();
        let changed = app.def != self.app.def;
        if changed {
            // A table being rebuilt (and the materialized views around it) must receive no
            // rows while it is copied: its sync pauses and resumes at its committed offsets.
            let paused = paused_syncs(&self.app, &app)?;
            if !paused.is_empty() {
                self.workers.lock().await.stop_syncs(&paused).await;
            }
            if let Err(error) = self.apply_infra(&built.name, &app, &infra).await {
                // The old version keeps running, paused syncs included.
                let old_infra = (self.infra)(&self.app, &self.project);
                self.workers
                    .lock()
                    .await
                    .update(&self.app, &old_infra, &self.components)
                    .await?;
                return Err(error);
            }
        }
        let apply = started.elapsed();

        let started = Instant::now();
        self.components
            .get(&built.name)
            .ok_or_else(|| anyhow!("component `{}` is not loaded", built.name))?
            .store(component);
        self.apis.apis.store(Arc::new(apis));
        if changed {
            let before = self.ingest.endpoints.swap(Arc::new(endpoints));
            let view = AppView::new(&app, &infra);
            if let Err(error) = write_openapi(&self.project, &view.openapi) {
                tracing::warn!("{error:#}");
            }
            self.mgmt.app.store(Arc::new(view));
            print_routes(&built.name, &before, &self.ingest.endpoints.load());
        }
        let swap = started.elapsed();

        let changes = self
            .workers
            .lock()
            .await
            .update(&app, &infra, &self.components)
            .await?;
        self.app = app;
        Ok(Some((
            Timings {
                build,
                load,
                describe,
                plan,
                apply,
                swap,
            },
            changes,
        )))
    }

    /// Creates the streams of `app` that do not exist yet and migrates its tables and
    /// views to the app's new form; what it did is printed for `component`, whose reload
    /// asked for it.
    async fn apply_infra(&self, component: &str, app: &App, infra: &Infra) -> anyhow::Result<()> {
        for spec in &infra.streams {
            self.streams
                .ensure_stream(spec)
                .await
                .with_context(|| format!("creating stream `{}`", spec.name))?;
        }
        // The migration's warning callback is not `Send`: run it on a thread of its own.
        let olap = self.olap.clone();
        let app = app.clone();
        let runtime = tokio::runtime::Handle::current();
        let name = component.to_string();
        tokio::task::spawn_blocking(move || {
            let migrated = runtime.block_on(infra_map::migrate_dev(&olap, &app, &mut |line| {
                println!("reload {name}: {line}")
            }))?;
            for planned in &migrated.changes {
                println!("reload {name}: applied {}", planned.change);
            }
            Ok(())
        })
        .await
        .context("migrating the tables did not complete")?
    }
}
