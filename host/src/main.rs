use std::process::ExitCode;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let filter =
        EnvFilter::try_from_env("MOOSE_LOG").unwrap_or_else(|_| EnvFilter::new("warn,guest=info"));
    // stderr gets what MOOSE_LOG asks for; `moose logs` gets INFO and up.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .with(moose_host::mgmt::logbuf::layer().with_filter(LevelFilter::INFO))
        .init();
    match moose_host::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
