//! `moose ps`, `moose peek`, `moose logs` and `moose dlq replay`: a running host's
//! management API.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use comfy_table::Table;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::config::Project;

/// Where the host is and how to authenticate; shared by every operations command.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The management API's URL; read from the app's moose.config.toml when left out.
    #[arg(long)]
    url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, clap::Args)]
pub struct PeekArgs {
    /// The stream or table.
    name: String,
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// How many records or rows (1 to 1000).
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Read the table when a stream has the same name.
    #[arg(long)]
    table: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// How many of the last lines (1 to 1000).
    #[arg(long, default_value_t = 100)]
    tail: usize,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// Send the records of a dead-letter table back into their streams (see "Dead
    /// letters" in docs/dev.md).
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The dead-letter table, e.g. `enrich_order_dead_letter`.
    dead_letter: String,
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Only the dead letters matching this ClickHouse condition on `record`, `error`,
    /// `error_kind`, `source` and `failed_at`, e.g. "failed_at > '2024-05-01 12:00:00'".
    #[arg(long = "where", value_name = "SQL")]
    condition: Option<String>,
    /// Send every selected record to this stream instead of where it came from.
    #[arg(long, value_name = "STREAM")]
    to: Option<String>,
    #[command(flatten)]
    target: Target,
}

/// `moose dlq ...`.
pub fn dlq(command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::Replay(args) => replay(args),
    }
}

/// `moose dlq replay`: what was replayed where, what did not fit.
fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let request = serde_json::json!({
        "dead_letter": args.dead_letter, "where": args.condition, "to": args.to,
    });
    let body = call(&args.target, &args.dir, "/dlq/replay", Some(request))?;
    let streams: Vec<String> = body["streams"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(stream, n)| format!("{n} to {stream}"))
        .collect();
    println!(
        "replayed {} of {} dead letters from {}{}",
        body["replayed"],
        body["selected"],
        args.dead_letter,
        if streams.is_empty() {
            String::new()
        } else {
            format!(" ({})", streams.join(", "))
        }
    );
    if body["invalid"].as_u64().unwrap_or(0) > 0 {
        println!(
            "{} did not fit their stream's model and stay in the table; the first ones:",
            body["invalid"]
        );
        for problem in body["problems"].as_array().into_iter().flatten() {
            println!(
                "  {} -> {}: {}",
                text(&problem["record"]),
                text(&problem["stream"]),
                text(&problem["problem"])
            );
        }
    }
    for (source, n) in body["unroutable"].as_object().into_iter().flatten() {
        println!("{n} from `{source}` have no stream to go back to (use --to STREAM)");
    }
    Ok(())
}

/// `moose ps`: a table of the functions and table syncs with lag, record counts and
/// throughput (records in per second over the last 10 s).
pub fn ps(args: PsArgs) -> anyhow::Result<()> {
    let body = call(&args.target, &args.dir, "/ps", None)?;
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "KIND",
        "NAME",
        "SOURCE",
        "GROUP",
        "LAG",
        "IN",
        "OUT",
        "FAILED",
        "REC/S",
        "LAST ERROR",
    ]);
    // Aggregations have no group, lag, input or rate; a lag the backend cannot tell is `?`.
    let count = |value: &Value| match value {
        Value::Null => "-".to_string(),
        value => value.to_string(),
    };
    for p in body["processes"].as_array().into_iter().flatten() {
        let lag = match (&p["lag"], &p["group"]) {
            (Value::Null, Value::Null) => "-".to_string(),
            (Value::Null, _) => "?".to_string(),
            (lag, _) => lag.to_string(),
        };
        let mut last_error = p["last_error"].as_str().unwrap_or("").to_string();
        if let Some((cut, _)) = last_error.char_indices().nth(60) {
            last_error.truncate(cut);
            last_error.push('…');
        }
        table.add_row([
            text(&p["kind"]),
            text(&p["name"]),
            text(&p["source"]),
            p["group"].as_str().unwrap_or("-").to_string(),
            lag,
            count(&p["in"]),
            count(&p["out"]),
            count(&p["failed"]),
            p["per_second"]
                .as_f64()
                .map_or("-".to_string(), |r| format!("{r:.1}")),
            last_error,
        ]);
    }
    println!("{table}");
    Ok(())
}

/// `moose peek`: the last records of a stream or rows of a table, one JSON line each.
pub fn peek(args: PeekArgs) -> anyhow::Result<()> {
    let kind = if args.table { "&kind=table" } else { "" };
    let path = format!("/peek/{}?limit={}{kind}", encode(&args.name), args.limit);
    let body = call(&args.target, &args.dir, &path, None)?;
    for record in body["records"].as_array().into_iter().flatten() {
        println!("{record}");
    }
    Ok(())
}

/// `moose logs`: the host's recent log lines.
pub fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let body = call(
        &args.target,
        &args.dir,
        &format!("/logs?tail={}", args.tail),
        None,
    )?;
    for line in body["lines"].as_array().into_iter().flatten() {
        println!("{}", text(line));
    }
    Ok(())
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

/// Percent-encodes everything but unreserved characters, for a path segment.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The management API's base URL: `--url`, else `[http]` of the app's config.
fn base_url(target: &Target, dir: &Path) -> anyhow::Result<String> {
    if let Some(url) = &target.url {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let http = Project::load(dir)?.config.http;
    let host = match http.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1",
        host => host,
    };
    Ok(format!("http://{host}:{}", http.management_port))
}

/// GETs `path` from the management API, or POSTs `body` to it (with `MOOSE_ADMIN_TOKEN`
/// as bearer token when set), and returns the JSON body of a success.
fn call(target: &Target, dir: &Path, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
    let base = base_url(target, dir)?;
    let url = format!("{base}{path}");
    let mut request = match body {
        Some(_) => Request::post(&url).header(header::CONTENT_TYPE, "application/json"),
        None => Request::get(&url),
    };
    if let Ok(token) = std::env::var("MOOSE_ADMIN_TOKEN") {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .with_context(|| format!("`{url}` is not a valid URL"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, bytes) = runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
        let response = client.request(request).await.map_err(|e| {
            if e.is_connect() {
                anyhow!("no moose host answers at {base}: start it with `moose dev`")
            } else {
                anyhow!("requesting {url}: {e}")
            }
        })?;
        let status = response.status();
        let bytes = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        anyhow::Ok((status, bytes))
    })?;
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).trim().to_string()));
    match status {
        s if s.is_success() => Ok(body),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => bail!(
            "the management API at {base} refused the request ({status}): set MOOSE_ADMIN_TOKEN to an admin token"
        ),
        _ => {
            let message = body["error"].as_str().map_or_else(|| text(&body), str::to_string);
            bail!("{url} answered {status}: {message}")
        }
    }
}
