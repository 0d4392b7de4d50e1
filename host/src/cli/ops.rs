//! `moose ps`, `moose peek` and `moose logs`: read a running host's management API.

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

/// `moose ps`: a table of the functions and table syncs with lag, record counts and
/// throughput (records in per second over the last 10 s).
pub fn ps(args: PsArgs) -> anyhow::Result<()> {
    let body = get(&args.target, &args.dir, "/ps")?;
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "KIND", "NAME", "SOURCE", "GROUP", "LAG", "IN", "OUT", "FAILED", "REC/S",
    ]);
    for p in body["processes"].as_array().into_iter().flatten() {
        let lag = match &p["lag"] {
            Value::Null => "?".to_string(),
            lag => lag.to_string(),
        };
        table.add_row([
            text(&p["kind"]),
            text(&p["name"]),
            text(&p["source"]),
            text(&p["group"]),
            lag,
            p["in"].to_string(),
            p["out"].to_string(),
            p["failed"].to_string(),
            p["per_second"]
                .as_f64()
                .map_or("?".to_string(), |r| format!("{r:.1}")),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// `moose peek`: the last records of a stream or rows of a table, one JSON line each.
pub fn peek(args: PeekArgs) -> anyhow::Result<()> {
    let kind = if args.table { "&kind=table" } else { "" };
    let path = format!("/peek/{}?limit={}{kind}", encode(&args.name), args.limit);
    let body = get(&args.target, &args.dir, &path)?;
    for record in body["records"].as_array().into_iter().flatten() {
        println!("{record}");
    }
    Ok(())
}

/// `moose logs`: the host's recent log lines.
pub fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let body = get(
        &args.target,
        &args.dir,
        &format!("/logs?tail={}", args.tail),
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

/// GETs `path` from the management API (with `MOOSE_ADMIN_TOKEN` as bearer token when
/// set) and returns the JSON body of a success.
fn get(target: &Target, dir: &Path, path: &str) -> anyhow::Result<Value> {
    let base = base_url(target, dir)?;
    let url = format!("{base}{path}");
    let mut request = Request::get(&url);
    if let Ok(token) = std::env::var("MOOSE_ADMIN_TOKEN") {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Body::empty())
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
