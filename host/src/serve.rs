//! A running data stack: the OLAP store, the streams, the function runners, the table
//! syncs and the HTTP servers of one app, started in dependency order and stopped
//! gracefully.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::ApiState;
use crate::assemble::{assemble, Step};
use crate::builder::Profile;
use crate::config::{Project, StreamingBackend};
use crate::infra::{infra, Infra};
use crate::infra_map;
use crate::ingest::IngestState;
use crate::mgmt::{self, AppView, MgmtState};
use crate::reload::{self, Reloader, Workers};
use moose_model::app::App;
use moose_olap::{OlapQueryService, OlapStore, QueryLimits};
use moose_runtime::{ComponentHandle, LoadSource, Runtime};
use moose_streams::embedded::{EmbeddedOptions, EmbeddedStreams};
use moose_streams::kafka::KafkaStreams;
use moose_streams::Streams;
use moose_telemetry::metrics::Metrics;

/// A progress line while the host starts.
pub type Progress<'a> = &'a mut dyn FnMut(&str);

/// The started host; [`Host::shutdown`] stops it.
pub struct Host {
    pub app: App,
    pub infra: Infra,
    pub api_addr: SocketAddr,
    pub management_addr: SocketAddr,
    pub clickhouse_url: String,
    stop: CancellationToken,
    workers: Arc<tokio::sync::Mutex<Workers>>,
    /// Taken by [`Host::watch`].
    reloader: Option<Reloader>,
    servers: JoinSet<std::io::Result<()>>,
    olap: Option<OlapStore>,
}

/// Where the app comes from and how its database is brought to it.
pub enum Launch<'a> {
    /// `moose dev`: build the component sources, apply every change (destructive ones
    /// with a warning); the state directory holds what is embedded.
    Sources,
    /// `moose prod`: load a built artifact's components and apply its reviewed plan under
    /// the migration lock as `replica`; nothing is written to the artifact, local state
    /// goes to this replica's `state_dir`.
    Artifact {
        artifact: &'a crate::prod::Artifact,
        replica: &'a str,
        lock: moose_pipeline::lease::LockOptions,
        state_dir: &'a std::path::Path,
    },
}

/// Starts the whole stack for `project` with embedded defaults where nothing external is
/// configured.
pub async fn start(project: &Project, progress: Progress<'_>) -> anyhow::Result<Host> {
    start_with(project, Launch::Sources, progress).await
}

/// Starts the whole stack for `project` from `launch`.
pub async fn start_with(
    project: &Project,
    launch: Launch<'_>,
    progress: Progress<'_>,
) -> anyhow::Result<Host> {
    let config = &project.config;
    let state_dir = match &launch {
        Launch::Sources => project.state_dir(),
        Launch::Artifact { state_dir, .. } => state_dir.to_path_buf(),
    };
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;

    let started = Instant::now();
    crate::toolchain::engine::ensure(&config.clickhouse)?;
    let store = OlapStore::open(&config.clickhouse, &state_dir).await?;
    let url = store.client().url().to_string();
    progress(&format!(
        "ClickHouse ready at {url} ({:.1?})",
        started.elapsed()
    ));
    let olap = Arc::new(store.client().clone());

    let runtime = Arc::new(Runtime::new(
        config.runtime.runtime_config(),
        project.component_cache_dir(),
        Arc::new(OlapQueryService::new(
            store.client().clone(),
            tokio::runtime::Handle::current(),
            QueryLimits::default(),
        )),
    )?);
    // Building and describing are blocking work; progress stays live meanwhile.
    let assembled = tokio::task::block_in_place(|| {
        let report = |step: Step<'_>| match step {
            Step::Built { component, elapsed } => {
                progress(&format!("built {component} ({elapsed:.1?})"))
            }
            Step::Loaded {
                component,
                elapsed,
                source,
            } => progress(&format!(
                "loaded {component} ({elapsed:.1?}, {})",
                match source {
                    LoadSource::Compiled => "compiled",
                    LoadSource::Cached => "precompiled",
                }
            )),
            Step::Described { component, elapsed } => {
                progress(&format!("described {component} ({elapsed:.1?})"))
            }
        };
        match &launch {
            Launch::Sources => anyhow::Ok(assemble(project, &runtime, Profile::Dev, report)?),
            Launch::Artifact { artifact, .. } => Ok(artifact.assemble(&runtime, report)?),
        }
    })?;
    let app = assembled.app;
    let components: BTreeMap<String, ComponentHandle> = assembled
        .components
        .into_iter()
        .map(|c| (c.name().to_string(), moose_runtime::handle(c)))
        .collect();
    let infra = app_infra(&app, project);

    let started = Instant::now();
    let streams: Arc<dyn Streams> = match config.streaming.backend {
        StreamingBackend::Embedded => Arc::new(
            EmbeddedStreams::open(
                state_dir.join("streams"),
                EmbeddedOptions {
                    max_poll_bytes: config.streaming.max_poll_bytes(),
                    ..EmbeddedOptions::default()
                },
            )
            .map_err(|e| anyhow!("opening the embedded streams: {e}"))?,
        ),
        StreamingBackend::Kafka => Arc::new(
            config
                .streaming
                .kafka()
                .and_then(KafkaStreams::connect)
                .map_err(|e| anyhow!("connecting to Kafka: {e}"))?,
        ),
    };
    for spec in &infra.streams {
        streams
            .ensure_stream(spec)
            .await
            .with_context(|| format!("creating stream `{}`", spec.name))?;
    }
    progress(&format!(
        "{} streams ready ({:.1?})",
        infra.streams.len(),
        started.elapsed()
    ));
    let started = Instant::now();
    match &launch {
        Launch::Sources => {
            // The changes since the state applied last (stored in ClickHouse), destructive
            // ones included, each with a warning line; everything on the first start.
            let migrated = infra_map::migrate_dev(&olap, &app, progress).await?;
            progress(&format!(
                "tables and views ready, {} changes applied ({:.1?})",
                migrated.changes.len(),
                started.elapsed()
            ));
        }
        Launch::Artifact {
            artifact,
            replica,
            lock,
            ..
        } => {
            let outcome =
                crate::prod::apply_reviewed_plan(&olap, &app, &artifact.plan_file(), replica, lock)
                    .await?;
            progress(&format!(
                "migration plan: {outcome} ({:.1?})",
                started.elapsed()
            ));
        }
    }

    let metrics = Arc::new(Metrics::new());
    let stop = CancellationToken::new();
    let mut workers = Workers::new(streams.clone(), olap.clone(), metrics.clone(), stop.clone())
        .with_sync_options(moose_pipeline::sync::SyncOptions {
            min_insert_interval: Duration::from_millis(config.clickhouse.insert_interval_ms),
            full_batch_bytes: config.streaming.max_poll_bytes(),
            ..Default::default()
        });
    // `moose dev` keeps window state in an embedded store of its own; replicas of
    // `moose prod` share it in ClickHouse and run each aggregation under a lease (see
    // `moose_pipeline::windows`, "Backends").
    let (window_store, lease): (Arc<dyn moose_pipeline::windows::StateStore>, _) = match &launch {
        Launch::Sources => (
            Arc::new(
                moose_pipeline::windows::FjallStateStore::open(&state_dir.join("windows"))
                    .map_err(|e| anyhow!("opening the window state store: {e}"))?,
            ),
            None,
        ),
        Launch::Artifact { replica, lock, .. } => (
            Arc::new(
                moose_pipeline::windows::ClickHouseStateStore::open(&olap)
                    .await
                    .map_err(|e| anyhow!("opening the window state store: {e}"))?,
            ),
            Some(moose_pipeline::windows::WindowLease {
                client: olap.clone(),
                replica: replica.to_string(),
                options: moose_pipeline::lease::LockOptions {
                    lease: Duration::from_secs(config.streaming.lease_seconds.max(1)),
                    ..lock.clone()
                },
            }),
        ),
    };
    workers = workers.with_windows(moose_pipeline::windows::WindowEnv {
        store: window_store,
        olap: olap.clone(),
        options: moose_pipeline::windows::WindowOptions {
            idle_flush: config
                .streaming
                .window_idle_flush_seconds
                .map(Duration::from_secs),
            partition_idle: Duration::from_secs(config.streaming.window_partition_idle_seconds),
            ..Default::default()
        },
        lease,
    });
    workers.update(&app, &infra, &components).await?;

    let api_state = Arc::new(ApiState {
        apis: arc_swap::ArcSwap::from_pointee(reload::api_endpoints(&app, &components)?),
        metrics: metrics.clone(),
    });
    let api_routes = crate::api::router(api_state.clone());
    let ingest_state = Arc::new(IngestState {
        endpoints: arc_swap::ArcSwap::from_pointee(reload::ingest_endpoints(&app)?),
        streams: streams.clone(),
        metrics: metrics.clone(),
    });
    let ingest = crate::ingest::router(
        ingest_state.clone(),
        crate::ingest::IngestLimits::of(&config.http),
    );
    let view = AppView::new(&app, &infra);
    if let Launch::Sources = launch {
        reload::write_openapi(project, &view.openapi)?;
    }
    let mgmt_state = Arc::new(MgmtState {
        metrics,
        streams: streams.clone(),
        olap: olap.clone(),
        olap_health: store.health(),
        app: arc_swap::ArcSwap::from_pointee(view),
        ready: Default::default(),
    });
    let auth = Arc::new(crate::auth::Authenticator::new(&config.auth)?);
    let mut servers = JoinSet::new();
    let api_addr = serve(
        &mut servers,
        &config.http.host,
        config.http.port,
        ingest.merge(api_routes).layer(crate::auth::require(
            auth.clone(),
            crate::auth::Surface::Api,
        )),
        stop.clone(),
    )
    .await?;
    let management_addr = serve(
        &mut servers,
        &config.http.host,
        config.http.management_port,
        mgmt::router(mgmt_state.clone())
            .layer(crate::auth::require(auth, crate::auth::Surface::Management)),
        stop.clone(),
    )
    .await?;
    mgmt_state.ready.store(true, Ordering::Release);

    let workers = Arc::new(tokio::sync::Mutex::new(workers));
    let reloader = Reloader {
        project: project.clone(),
        runtime,
        app: app.clone(),
        components,
        workers: workers.clone(),
        apis: api_state,
        ingest: ingest_state,
        mgmt: mgmt_state,
        streams,
        olap,
        infra: app_infra,
    };
    Ok(Host {
        app,
        infra,
        api_addr,
        management_addr,
        clickhouse_url: url,
        stop,
        workers,
        reloader: Some(reloader),
        servers,
        olap: Some(store),
    })
}

/// The infrastructure of `app` as the host runs it: streams that declare no partition
/// count get the configured one.
fn app_infra(app: &App, project: &Project) -> Infra {
    let mut infra = infra(app);
    if let Some(partitions) = project.config.streaming.partitions {
        for spec in &mut infra.streams {
            let undeclared = app
                .def
                .streams
                .iter()
                .any(|s| s.name == spec.name && s.partitions == 0);
            if undeclared {
                spec.partitions = partitions;
            }
        }
    }
    infra
}

async fn serve(
    servers: &mut JoinSet<std::io::Result<()>>,
    host: &str,
    port: u16,
    router: axum::Router,
    stop: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("binding {host}:{port} (is another host running? change [http] in moose.config.toml)"))?;
    let addr = listener.local_addr()?;
    servers.spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    Ok(addr)
}

impl Host {
    /// Watches the component sources and hot-reloads changed components until the host
    /// stops; see [`crate::reload`].
    pub fn watch(&mut self) -> anyhow::Result<()> {
        if let Some(reloader) = self.reloader.take() {
            reloader.spawn(self.stop.clone())?;
        }
        Ok(())
    }

    /// Stops accepting requests, lets in-flight requests and batches finish and commit,
    /// then stops the embedded engine. Records still in streams are picked up on the next
    /// start.
    pub async fn shutdown(mut self, grace: Duration) {
        self.stop.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.servers.join_next().await.is_some() {}
            self.workers.lock().await.join().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "some tasks did not stop within {grace:?}; their batches run again on restart"
            );
        }
        if let Some(store) = self.olap.take() {
            if let Err(e) = store.shutdown().await {
                tracing::warn!("stopping ClickHouse: {e}");
            }
        }
    }
}
