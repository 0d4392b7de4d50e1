//! The function runners, table syncs and window runners of a running app, started,
//! stopped and restarted as the app changes.
//!
//! A worker whose plan is unchanged keeps running through a reload (its component is
//! swapped under it). A worker whose plan changed is stopped (its batch in flight finishes
//! and commits) before its successor starts in the same consumer group, so the successor
//! resumes at the committed offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::anyhow;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::ComponentHandle;
use crate::infra::{Infra, SyncSpec};
use moose_model::app::App;
use moose_model::types::{FunctionDef, Model};
use moose_pipeline::functions::{Destination, FunctionRunner, RunnerOptions};
use moose_pipeline::sync::{SyncOptions, TableSync, TableWriter};
use moose_pipeline::windows::{WindowEnv, WindowPlan};
use moose_streams::Streams;
use moose_telemetry::metrics::Metrics;

/// What a function runner is started from; a different plan means a restart.
#[derive(Clone, PartialEq)]
struct FunctionPlan {
    def: FunctionDef,
    component: String,
    destination_model: Option<Model>,
}

struct Worker<P> {
    plan: P,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// How the workers changed in one update, as `function NAME` and `table NAME`.
#[derive(Debug, Default)]
pub struct Changes {
    pub started: Vec<String>,
    pub stopped: Vec<String>,
    pub restarted: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.started.is_empty() && self.stopped.is_empty() && self.restarted.is_empty()
    }
}

impl std::fmt::Display for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (verb, names) in [
            ("started", &self.started),
            ("stopped", &self.stopped),
            ("restarted", &self.restarted),
        ] {
            if !names.is_empty() {
                parts.push(format!("{verb} {}", names.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

/// The function runners and table syncs of one host.
pub struct Workers {
    streams: Arc<dyn Streams>,
    writer: Arc<dyn TableWriter>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    sync_options: SyncOptions,
    functions: BTreeMap<String, Worker<FunctionPlan>>,
    syncs: BTreeMap<String, Worker<SyncSpec>>,
    /// Set by [`Workers::with_windows`]; without it no windowed aggregation runs.
    window_env: Option<WindowEnv>,
    windows: BTreeMap<String, Worker<WindowPlan>>,
}

impl Workers {
    /// No workers yet; all that are started later stop when `stop` is cancelled.
    pub fn new(
        streams: Arc<dyn Streams>,
        writer: Arc<dyn TableWriter>,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            streams,
            writer,
            metrics,
            stop,
            sync_options: SyncOptions::default(),
            functions: BTreeMap::new(),
            syncs: BTreeMap::new(),
            window_env: None,
            windows: BTreeMap::new(),
        }
    }

    /// Starts table syncs with `options` instead of the defaults.
    pub fn with_sync_options(mut self, options: SyncOptions) -> Self {
        self.sync_options = options;
        self
    }

    /// Runs the app's windowed aggregations with `env`.
    pub fn with_windows(mut self, env: WindowEnv) -> Self {
        self.window_env = Some(env);
        self
    }

    /// Runs exactly the functions and windowed aggregations of `app` and the syncs of
    /// `infra`: starts new ones, stops removed ones and restarts those whose plan changed.
    pub async fn update(
        &mut self,
        app: &App,
        infra: &Infra,
        components: &BTreeMap<String, ComponentHandle>,
    ) -> anyhow::Result<Changes> {
        let mut changes = Changes::default();
        let mut functions = BTreeMap::new();
        for function in &app.def.functions {
            let component = app
                .function_component(&function.name)
                .map(|c| c.name.clone())
                .ok_or_else(|| anyhow!("no component runs function `{}`", function.name))?;
            let destination_model = function.destination.as_ref().and_then(|stream| {
                let stream = app.def.streams.iter().find(|s| &s.name == stream)?;
                app.model(&stream.model).cloned()
            });
            let plan = FunctionPlan {
                def: function.clone(),
                component,
                destination_model,
            };
            functions.insert(function.name.clone(), plan);
        }
        let syncs: BTreeMap<String, SyncSpec> = infra
            .syncs
            .iter()
            .map(|s| (s.table.clone(), s.clone()))
            .collect();

        let mut windows = BTreeMap::new();
        if self.window_env.is_some() {
            for def in &app.def.windowed_aggregations {
                windows.insert(def.name.clone(), WindowPlan::of(app, def)?);
            }
        }

        retire("function", &mut self.functions, &functions, &mut changes).await;
        retire("table", &mut self.syncs, &syncs, &mut changes).await;
        retire("window", &mut self.windows, &windows, &mut changes).await;

        for (name, plan) in functions {
            if self.functions.contains_key(&name) {
                continue;
            }
            let handle = components
                .get(&plan.component)
                .ok_or_else(|| anyhow!("component `{}` is not loaded", plan.component))?
                .clone();
            let destination = match &plan.def.destination {
                Some(stream) => Some(Destination::of(app, stream)?),
                None => None,
            };
            let runner = FunctionRunner {
                name: name.clone(),
                source: plan.def.source.clone(),
                destination,
                dead_letter: plan.def.dead_letter.clone(),
                component: handle,
                streams: self.streams.clone(),
                metrics: self.metrics.clone(),
                options: RunnerOptions::default(),
            };
            let stop = self.stop.child_token();
            let task = tokio::spawn(runner.run(stop.clone()));
            note_start(&mut changes, "function", &name);
            self.functions.insert(name, Worker { plan, stop, task });
        }
        for (table, spec) in syncs {
            if self.syncs.contains_key(&table) {
                continue;
            }
            let table_sync = TableSync {
                stream: spec.stream.clone(),
                table: spec.table.clone(),
                dead_letter: spec.dead_letter.clone(),
                streams: self.streams.clone(),
                writer: self.writer.clone(),
                metrics: self.metrics.clone(),
                options: self.sync_options.clone(),
            };
            let stop = self.stop.child_token();
            let task = tokio::spawn(table_sync.run(stop.clone()));
            note_start(&mut changes, "table", &table);
            self.syncs.insert(
                table,
                Worker {
                    plan: spec,
                    stop,
                    task,
                },
            );
        }
        for (name, plan) in windows {
            let Some(env) = &self.window_env else { break };
            if self.windows.contains_key(&name) {
                continue;
            }
            let handle = components
                .get(&plan.component)
                .ok_or_else(|| anyhow!("component `{}` is not loaded", plan.component))?
                .clone();
            let runner = env.runner(
                app,
                &plan,
                handle,
                self.streams.clone(),
                self.metrics.clone(),
            )?;
            let stop = self.stop.child_token();
            let task = tokio::spawn(runner.run(stop.clone()));
            note_start(&mut changes, "window", &name);
            self.windows.insert(name, Worker { plan, stop, task });
        }
        Ok(changes)
    }

    /// Stops the syncs of `tables`, waiting until each has committed its batch in flight;
    /// the next [`Workers::update`] starts them again at their committed offsets.
    pub async fn stop_syncs(&mut self, tables: &BTreeSet<String>) {
        for table in tables {
            if let Some(worker) = self.syncs.remove(table) {
                worker.stop.cancel();
                let _ = worker.task.await;
            }
        }
    }

    /// Waits for every worker to finish (after the host's stop was cancelled).
    pub async fn join(&mut self) {
        let functions = std::mem::take(&mut self.functions).into_values();
        let syncs = std::mem::take(&mut self.syncs).into_values();
        let windows = std::mem::take(&mut self.windows).into_values();
        let tasks: Vec<JoinHandle<()>> = functions
            .map(|w| w.task)
            .chain(syncs.map(|w| w.task))
            .chain(windows.map(|w| w.task))
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// Stops the workers that are not wanted with the same plan, waiting until each has
/// committed its batch in flight; a worker still wanted under a new plan counts as
/// restarted (its successor is started by the caller).
async fn retire<P: PartialEq>(
    kind: &str,
    running: &mut BTreeMap<String, Worker<P>>,
    wanted: &BTreeMap<String, P>,
    changes: &mut Changes,
) {
    let retired: Vec<String> = running
        .iter()
        .filter(|(name, worker)| wanted.get(*name) != Some(&worker.plan))
        .map(|(name, _)| name.clone())
        .collect();
    for name in retired {
        let Some(worker) = running.remove(&name) else {
            continue;
        };
        worker.stop.cancel();
        let _ = worker.task.await;
        let label = format!("{kind} {name}");
        if wanted.contains_key(&name) {
            changes.restarted.push(label);
        } else {
            changes.stopped.push(label);
        }
    }
}

/// Records a start, unless it completes a restart.
fn note_start(changes: &mut Changes, kind: &str, name: &str) {
    let label = format!("{kind} {name}");
    if !changes.restarted.contains(&label) {
        changes.started.push(label);
    }
}
