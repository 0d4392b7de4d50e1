//! The `moose` command line: parse, then call into the host's modules.

mod build;
mod data;
mod dev;
mod generate;
mod health;

mod init;
mod ls;
mod olap;
mod ops;
mod plan;
mod prod;
mod render;

use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Project;
use moose_runtime::{NoQueryService, Runtime};

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
pub struct Cli {
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
    /// Run a built artifact against external Kafka and ClickHouse (production).
    Prod(prod::Args),
    /// Show what applying the app would change in its database: safe and destructive.
    Plan(plan::Args),
    /// Run one read-only SQL statement against the app's store and print the answer.
    Query(data::QueryArgs),
    /// Empty tables of the dev store (the app's embedded engine).
    Truncate(data::TruncateArgs),
    /// Copy rows from another ClickHouse into the dev store's tables.
    Seed(data::SeedArgs),
    /// List a running host's functions and table syncs with their lag and record counts.
    Ps(ops::PsArgs),
    /// Print the last records of a stream or rows of a table of a running host.
    Peek(ops::PeekArgs),
    /// Print a running host's recent log lines.
    Logs(ops::LogsArgs),
    /// Work with the dead letters of a running host.
    #[command(subcommand)]
    Dlq(ops::DlqCommand),
    /// Exit 0 when a running host's `/health` answers 200 (the image's health check).
    Health(health::Args),
    /// Generate configuration values.
    #[command(subcommand)]
    Generate(generate::What),
}

/// How a command logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logging {
    /// JSON lines on stdout (`MOOSE_LOG_FORMAT=json`, the default of `moose prod`), else
    /// text on stderr.
    pub json: bool,
    /// The filter when `MOOSE_LOG` is not set.
    pub default_filter: &'static str,
}

/// Parses the process arguments.
pub fn parse() -> Cli {
    Cli::parse()
}

impl Cli {
    /// How this command logs, given `MOOSE_LOG_FORMAT` (`json` or `text`).
    pub fn logging(&self, format: Option<&str>) -> Logging {
        let prod = matches!(self.command, Command::Prod(_));
        Logging {
            json: format.map_or(prod, |f| f.eq_ignore_ascii_case("json")),
            default_filter: if prod {
                "info,kafka=warn"
            } else {
                "warn,guest=info"
            },
        }
    }

    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Init(args) => init::run(args),
            Command::Build(args) => build::run(args),
            Command::Ls(args) => ls::run(args),
            Command::Dev(args) => dev::run(args),
            Command::Prod(args) => prod::run(args),
            Command::Plan(args) => plan::run(args),
            Command::Query(args) => data::query(args),
            Command::Truncate(args) => data::truncate(args),
            Command::Seed(args) => data::seed(args),
            Command::Ps(args) => ops::ps(args),
            Command::Peek(args) => ops::peek(args),
            Command::Logs(args) => ops::logs(args),
            Command::Dlq(command) => ops::dlq(command),
            Command::Health(args) => health::run(args),
            Command::Generate(what) => generate::run(what),
        }
    }
}
