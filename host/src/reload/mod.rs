//! Hot reload for `moose dev`: a changed component is rebuilt, loaded and described, the
//! app is merged and validated with its new part, new infrastructure is created, and the
//! new version is swapped in between batches and requests.
//!
//! Function runners and API routes hold their component through a [`ComponentHandle`]
//! and read it once per batch or request, so a batch in flight finishes on the old
//! version and the next one runs on the new; consumers keep their group and offsets, so
//! every record is processed by exactly one of the two versions. A build, load or
//! validation failure is printed and the old version keeps running.

mod watch;
mod workers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use arc_swap::ArcSwap;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiEndpoint, ApiEndpoints, ApiState};
use crate::app::{self, App, ComponentInfo, ComponentPart};
use crate::builder;
use crate::config::Project;
use crate::infra::Infra;
use crate::infra_map;
use crate::olap::OlapClient;
use crate::runtime::{GuestComponent, Runtime};
use crate::stream::Streams;

pub use workers::{Changes, Workers};

/// A component as runners and routes hold it: swapped as a whole by a reload.
pub type ComponentHandle = Arc<ArcSwap<GuestComponent>>;

/// A new handle holding `component`.
pub fn handle(component: GuestComponent) -> ComponentHandle {
    Arc::new(ArcSwap::from_pointee(component))
}

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

/// Everything of a running host that a reload replaces or extends.
pub struct Reloader {
    pub project: Project,
    pub runtime: Arc<Runtime>,
    pub app: App,
    pub components: BTreeMap<String, ComponentHandle>,
    pub workers: Arc<Mutex<Workers>>,
    pub apis: Arc<ApiState>,
    pub streams: Arc<dyn Streams>,
    pub olap: Arc<OlapClient>,
    /// Derives the infrastructure of an app as the host runs it.
    pub infra: fn(&App, &Project) -> Infra,
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
        let built = tokio::task::spawn_blocking(move || builder::build(&dir))
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
        let wasm = built.wasm.clone();
        let name = built.name.clone();
        let component = tokio::task::spawn_blocking(move || runtime.load(&name, &wasm))
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
        let plan = started.elapsed();

        let started = Instant::now();
        if app.def != self.app.def {
            self.apply_infra(&app, &infra).await?;
            if app.def.ingests != self.app.def.ingests || app.def.models != self.app.def.models {
                println!(
                    "reload {}: ingest endpoints changed; restart `moose dev` to serve the new ones",
                    built.name
                );
            }
        }
        let apply = started.elapsed();

        let started = Instant::now();
        self.components
            .get(&built.name)
            .ok_or_else(|| anyhow!("component `{}` is not loaded", built.name))?
            .store(component);
        self.apis.apis.store(Arc::new(apis));
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
    /// views to the app's new form.
    async fn apply_infra(&self, app: &App, infra: &Infra) -> anyhow::Result<()> {
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
        tokio::task::spawn_blocking(move || {
            let name = &app.name;
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
