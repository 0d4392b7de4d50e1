use std::process::ExitCode;

/// mimalloc returns freed memory to the system within moments, where glibc's allocator
/// keeps what a burst (a large ingest body, a guest's big output) once needed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = moose_host::cli::parse();
    let logging = cli.logging(std::env::var("MOOSE_LOG_FORMAT").ok().as_deref());
    let filter = EnvFilter::try_from_env("MOOSE_LOG")
        .unwrap_or_else(|_| EnvFilter::new(logging.default_filter));
    // The console gets what MOOSE_LOG asks for: JSON lines on stdout or text on stderr;
    // `moose logs` gets INFO and up.
    let console = if logging.json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stdout)
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    };
    tracing_subscriber::registry()
        .with(console)
        .with(moose_telemetry::logbuf::layer().with_filter(LevelFilter::INFO))
        .init();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if logging.json {
                tracing::error!("{error:#}");
            }
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
