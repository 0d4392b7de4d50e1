//! `moose dev`: the whole data stack of an app on this machine, embedded defaults, with
//! changed component sources rebuilt and hot-reloaded.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Project;
use crate::serve;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// How long a stop waits for in-flight requests and batches.
const GRACE: Duration = Duration::from_secs(30);

pub fn run(args: Args) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        eprintln!("Starting `{}`...", project.config.app.name);
        let mut progress = |line: &str| eprintln!("  {line}");
        let mut host = serve::start(&project, &mut progress).await?;
        host.watch()?;
        print_summary(&host, started.elapsed());
        wait_for_stop().await;
        eprintln!("Stopping: finishing in-flight requests and batches...");
        host.shutdown(GRACE).await;
        eprintln!("Stopped.");
        Ok(())
    })
}

fn print_summary(host: &serve::Host, elapsed: Duration) {
    let def = &host.app.def;
    println!("Ready in {elapsed:.1?}.");
    for ingest in &def.ingests {
        println!(
            "  ingest      POST http://{}/ingest/{}",
            host.api_addr,
            host.app.ingest_route(ingest)
        );
    }
    for api in &def.apis {
        let path = match &api.version {
            Some(version) => format!("{}/{version}", api.name),
            None => api.name.clone(),
        };
        println!("  api         GET  http://{}/api/{path}", host.api_addr);
    }
    for function in &def.functions {
        println!(
            "  function    {}: {} -> {}",
            function.name,
            function.source,
            function.destination.as_deref().unwrap_or("(none)")
        );
    }
    for sync in &host.infra.syncs {
        println!("  table       {} <- stream {}", sync.table, sync.stream);
    }
    println!("  clickhouse  {}", host.clickhouse_url);
    println!(
        "  management  http://{}/health /ready /metrics /catalog",
        host.management_addr
    );
    println!("Watching the component sources: changes are rebuilt and reloaded.");
    println!("Press Ctrl-C to stop.");
}

/// Returns on Ctrl-C (SIGINT) or SIGTERM.
pub(super) async fn wait_for_stop() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
