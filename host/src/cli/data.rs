//! The app's data from the command line: `moose query` runs one read-only statement
//! against the app's store and prints the answer; `moose truncate` empties tables of the
//! dev store; `moose seed` copies rows from another ClickHouse into the dev store.
//!
//! `truncate` and `seed` write, so they only ever touch the app's embedded engine (the
//! running `moose dev`'s, or one started for the command): an app whose `[clickhouse] url`
//! names an external server is refused.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use super::olap;
use crate::config::Project;
use crate::infra_map::{state, InfraMap, TableKind};
use moose_olap::ddl::quote_ident;
use moose_olap::{OlapClient, OlapStore};

/// The longest a `moose query` statement may run, in seconds (ClickHouse's
/// `max_execution_time`).
pub const QUERY_SECONDS: u64 = 60;
/// The largest answer `moose query` prints, and the largest table copy `moose seed`
/// moves per table (ClickHouse's `max_result_bytes`, with `result_overflow_mode =
/// 'throw'`).
pub const MAX_RESULT_BYTES: u64 = 256 << 20;

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// One read-only statement: `SELECT`, `SHOW`, `DESCRIBE`, `EXPLAIN`, ...
    sql: String,
    /// The app directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Print one JSON object per row instead of a table.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Any ClickHouse output format: `CSV`, `TabSeparatedWithNames`, `Markdown`, ...
    #[arg(long)]
    format: Option<String>,
    /// The server to query (default: `[clickhouse] url`, else the app's embedded engine,
    /// started for the query when `moose dev` is not running).
    #[arg(long, value_name = "URL")]
    clickhouse_url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TruncateArgs {
    /// The tables to empty.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    tables: Vec<String>,
    /// Empty every table of the app (dead-letter tables included).
    #[arg(long)]
    all: bool,
    /// The app directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// The ClickHouse HTTP URL to copy from, e.g. `https://prod.example.com:8443`.
    #[arg(long, value_name = "URL")]
    from: String,
    /// The database to copy from (default: the app's `[clickhouse] database`).
    #[arg(long)]
    database: Option<String>,
    /// The user to copy as; its password is read from `MOOSE_SEED_PASSWORD`.
    #[arg(long, default_value = "default")]
    user: String,
    /// The tables to fill (default: the app's tables and windowed aggregation targets;
    /// aggregation targets fill from their sources through their views).
    #[arg(long = "table", value_name = "TABLE")]
    tables: Vec<String>,
    /// Rows per table at most.
    #[arg(long, default_value_t = 1000)]
    limit: u64,
    /// Ask for uncompressed answers, for endpoints without ClickHouse's block compression
    /// (some proxies, another app's embedded engine).
    #[arg(long)]
    uncompressed: bool,
    /// The app directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

/// `moose query`.
pub fn query(args: QueryArgs) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    let format = match (&args.format, args.json) {
        (Some(format), _) => format.clone(),
        (None, true) => "JSONEachRow".into(),
        (None, false) => "PrettyCompactMonoBlock".into(),
    };
    run_on_store(
        &project,
        args.clickhouse_url.as_deref(),
        |client| async move {
            let seconds = QUERY_SECONDS.to_string();
            let bytes = MAX_RESULT_BYTES.to_string();
            let answer = client
                .fetch_bytes(
                    &args.sql,
                    &format,
                    &[
                        ("readonly", "1"),
                        ("max_execution_time", &seconds),
                        ("max_result_bytes", &bytes),
                        ("result_overflow_mode", "throw"),
                        ("output_format_json_quote_64bit_integers", "0"),
                    ],
                )
                .await
                .context("the query failed")?;
            std::io::stdout().write_all(&answer)?;
            Ok(())
        },
    )
}

/// `moose truncate`.
pub fn truncate(args: TruncateArgs) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    refuse_external(&project, "truncate")?;
    run_on_store(&project, None, |client| async move {
        let map = applied_map(&client).await?;
        let tables = if args.all {
            map.tables.keys().cloned().collect()
        } else {
            known_tables(&map, args.tables)?
        };
        for table in tables {
            client
                .execute(&format!("TRUNCATE TABLE IF EXISTS {}", quote_ident(&table)))
                .await
                .with_context(|| format!("emptying table `{table}`"))?;
            eprintln!("Emptied table `{table}`.");
        }
        Ok(())
    })
}

/// `moose seed`.
pub fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    refuse_external(&project, "seed")?;
    let section = project.config.clickhouse.clone();
    run_on_store(&project, None, |client| async move {
        let database = args.database.as_deref().unwrap_or(&section.database);
        let source = super::olap::source(
            &section,
            &args.from,
            database,
            &args.user,
            args.uncompressed,
        )
        .await?;
        let map = applied_map(&client).await?;
        let tables = if args.tables.is_empty() {
            map.tables
                .iter()
                .filter(|(_, spec)| matches!(spec.kind, TableKind::Table | TableKind::WindowTarget))
                .map(|(name, _)| name.clone())
                .collect()
        } else {
            known_tables(&map, args.tables)?
        };
        let bytes = MAX_RESULT_BYTES.to_string();
        for table in tables {
            let columns: Vec<String> = map.tables[&table]
                .columns
                .iter()
                .filter(|c| !c.is_computed())
                .map(|c| c.name.clone())
                .collect();
            let listed: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
            let select = format!(
                "SELECT {} FROM {} LIMIT {}",
                listed.join(", "),
                quote_ident(&table),
                args.limit
            );
            let rows = source
                .fetch_bytes(
                    &select,
                    "Native",
                    &[
                        ("max_result_bytes", &bytes),
                        ("result_overflow_mode", "throw"),
                    ],
                )
                .await
                .with_context(|| {
                    format!(
                        "reading table `{table}` from database `{}` at {}",
                        source.database(),
                        args.from
                    )
                })?;
            let size = rows.len();
            client
                .insert_native(&table, &columns, rows)
                .await
                .with_context(|| format!("writing table `{table}` of the dev store"))?;
            let copied = count(&client, &table).await?;
            eprintln!("Seeded table `{table}` ({size} bytes read; it now holds {copied} rows).");
        }
        Ok(())
    })
}

/// Connects to the app's store (see [`olap::connect`]), runs `work`, and stops the
/// embedded engine if one was started for it.
fn run_on_store<F, Fut>(project: &Project, url: Option<&str>, work: F) -> anyhow::Result<()>
where
    F: FnOnce(OlapClient) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let (client, store): (OlapClient, Option<OlapStore>) =
            olap::connect(project, url, "for the command").await?;
        let result = work(client).await;
        if let Some(store) = store {
            store.shutdown().await?;
        }
        result
    })
}

/// Refuses a writing command on an app whose store is an external server.
fn refuse_external(project: &Project, command: &str) -> anyhow::Result<()> {
    if let Some(url) = &project.config.clickhouse.url {
        bail!(
            "`moose {command}` only writes to the dev store (the app's embedded engine), and \
             this app's [clickhouse] url is {url}: an external server it never changes"
        );
    }
    Ok(())
}

/// The infrastructure map the dev store last applied.
async fn applied_map(client: &OlapClient) -> anyhow::Result<InfraMap> {
    match state::read(client).await? {
        Some(applied) => Ok(applied.map),
        None => bail!(
            "nothing is applied in database `{}` yet: run `moose dev` once first",
            client.database()
        ),
    }
}

/// `names`, each checked to be a table of `map`.
fn known_tables(map: &InfraMap, names: Vec<String>) -> anyhow::Result<Vec<String>> {
    for name in &names {
        if !map.tables.contains_key(name) {
            let known: Vec<&str> = map.tables.keys().map(String::as_str).collect();
            bail!(
                "`{name}` is not a table of the app; its tables: {}",
                known.join(", ")
            );
        }
    }
    Ok(names)
}

async fn count(client: &OlapClient, table: &str) -> anyhow::Result<u64> {
    let sql = format!("SELECT count() FROM {}", quote_ident(table));
    let answer = client.fetch_bytes(&sql, "TabSeparated", &[]).await?;
    Ok(String::from_utf8_lossy(&answer).trim().parse()?)
}
