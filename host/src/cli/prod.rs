//! `moose prod`: runs a built artifact against external Kafka and ClickHouse. Several
//! replicas may run at once: they share the consumer groups' partitions, and the
//! migration lock lets exactly one of them apply the reviewed plan (see
//! [`crate::prod`]). SIGTERM or Ctrl-C stops accepting requests, drains the batches in
//! flight, commits their offsets and exits 0.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Project;
use crate::prod::{self, Artifact};
use crate::serve::{self, Launch};
use moose_pipeline::lease::LockOptions;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The artifact directory (`/app` in the image).
    #[arg(default_value = "/app")]
    dir: PathBuf,
    /// This replica's writable directory for local files (durable state is in Kafka and
    /// ClickHouse); by default `$MOOSE_STATE_DIR`, else `/var/lib/moose`.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// How long a stop waits for in-flight requests and batches.
const GRACE: Duration = Duration::from_secs(30);

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let artifact = Artifact::open(&args.dir)?;
    let mut project = Project::load(&args.dir)?;
    prod::require_external(&mut project.config)?;
    let replica = prod::replica_name();
    let state_dir = args
        .state_dir
        .or_else(|| std::env::var_os("MOOSE_STATE_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/lib/moose"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tracing::info!(
            app = %artifact.manifest.app,
            replica = %replica,
            version = env!("CARGO_PKG_VERSION"),
            "starting"
        );
        let mut progress = |line: &str| tracing::info!("{line}");
        let launch = Launch::Artifact {
            artifact: &artifact,
            replica: &replica,
            lock: LockOptions::default(),
            state_dir: &state_dir,
        };
        let host = serve::start_with(&project, launch, &mut progress).await?;
        tracing::info!(
            api = %host.api_addr,
            management = %host.management_addr,
            clickhouse = %host.clickhouse_url,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ready"
        );
        super::dev::wait_for_stop().await;
        tracing::info!("stopping: no new requests; draining in-flight requests and batches");
        host.shutdown(GRACE).await;
        tracing::info!("stopped");
        Ok(())
    })
}
