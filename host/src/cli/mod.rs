//! The `moose` command line: parse, then call into the host's modules.

mod build;
mod dev;
mod generate;

mod init;
mod ls;
mod ops;
mod plan;

use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Project;
use crate::runtime::{NoQueryService, Runtime};

/// A runtime for the project's components that serves no queries: for commands that
/// build and describe an app without running it.
fn offline_runtime(project: &Project) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(
        project.config.runtime.runtime_config(),
        project.component_cache_dir(),
        Arc::new(NoQueryService),
    )?)
}

/// Moose: declare data models, streaming functions and query APIs in Rust, and run the
/// whole data stack from them.
#[derive(Debug, Parser)]
#[command(name = "moose", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new app from the quickstart template.
    Init(init::Args),
    /// Build the app's components, describe and validate the app, and print it.
    Build(build::Args),
    /// List the app's data products from its last build.
    Ls(ls::Args),
    /// Run the app's whole data stack locally: embedded streams and ClickHouse.
    Dev(dev::Args),
    /// Show what applying the app would change in its database: safe and destructive.
    Plan(plan::Args),
    /// List a running host's functions and table syncs with their lag and record counts.
    Ps(ops::PsArgs),
    /// Print the last records of a stream or rows of a table of a running host.
    Peek(ops::PeekArgs),
    /// Print a running host's recent log lines.
    Logs(ops::LogsArgs),
    /// Generate configuration values.
    #[command(subcommand)]
    Generate(generate::What),
}

/// Parses the process arguments and runs the command.
pub fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Init(args) => init::run(args),
        Command::Build(args) => build::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Ps(args) => ops::ps(args),
        Command::Peek(args) => ops::peek(args),
        Command::Logs(args) => ops::logs(args),
        Command::Generate(what) => generate::run(what),
    }
}
