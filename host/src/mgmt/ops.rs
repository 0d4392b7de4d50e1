//! Operations endpoints of the management API: `/ps` (what runs, its lag and counts),
//! `/peek/{name}` (the last records of a stream or rows of a table) and `/logs` (the
//! host's recent log lines).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::MgmtState;
use moose_olap::ddl::quote_ident;
use moose_olap::OlapError;
use moose_streams::StreamError;
use moose_telemetry::events::Stage;
use moose_telemetry::logbuf;
use moose_telemetry::metrics::Outcome;

/// Records or rows `/peek` returns when no limit is given.
const DEFAULT_LIMIT: usize = 10;
/// The largest `limit` (and `tail`) accepted.
const MAX_LIMIT: usize = 1000;

/// Why `/peek` or `/logs` has no answer.
#[derive(Debug, thiserror::Error)]
enum OpsError {
    #[error("`{0}` is not a count from 1 to {MAX_LIMIT}")]
    BadCount(String),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Olap(#[from] OlapError),
    #[error("row of `{table}`: {source}")]
    Row {
        table: String,
        source: serde_json::Error,
    },
}

impl IntoResponse for OpsError {
    fn into_response(self) -> Response {
        let status = match self {
            OpsError::BadCount(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        error(status, self.to_string())
    }
}

/// `GET /ps`: every streaming function, table sync and windowed aggregation, with its
/// source stream, consumer group, total lag, record counts since the host started,
/// records taken in per second over the last 10 s (`per_second`, one decimal) and its last
/// failure (`last_error`); then every SQL aggregation (materialized view) with the rows it
/// failed on.
pub async fn ps(State(state): State<Arc<MgmtState>>) -> Response {
    let view = state.app.load_full();
    let mut rows = Vec::with_capacity(view.consumers.len() + view.aggregations.len());
    for (stream, group) in &view.consumers {
        let Some((stage, name)) = Stage::of_group(group) else {
            continue;
        };
        let lag = super::refresh_lag(&state, stream, group).await;
        let count = |outcome| state.metrics.records(stage, name, outcome);
        rows.push(json!({
            "kind": stage.label(), "name": name, "source": stream, "group": group, "lag": lag,
            "in": count(Outcome::In), "out": count(Outcome::Out), "failed": count(Outcome::Failed),
            "per_second": (state.metrics.per_second(stage, name) * 10.0).round() / 10.0,
            "last_error": state.metrics.last_failure(stage, name),
        }));
    }
    for (name, sources) in &view.aggregations {
        rows.push(json!({
            "kind": "aggregation", "name": name, "source": sources.join(", "), "group": null,
            "lag": null, "in": null, "out": null,
            "failed": state.metrics.records(Stage::Aggregation, name, Outcome::Failed),
            "per_second": null,
            "last_error": state.metrics.last_failure(Stage::Aggregation, name),
        }));
    }
    Json(json!({ "processes": rows })).into_response()
}

/// `GET /peek/{name}?limit=N&kind=stream|table`: the last `limit` records of a stream, or
/// the last `limit` rows of a table by its sort key. A name that is both prefers the
/// stream unless `kind=table`.
pub async fn peek(
    State(state): State<Arc<MgmtState>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let limit = match parse_limit(query.get("limit"), DEFAULT_LIMIT) {
        Ok(limit) => limit,
        Err(problem) => return problem.into_response(),
    };
    let wants = query.get("kind").map(String::as_str);
    if let Some(kind) = wants.filter(|k| !matches!(*k, "stream" | "table")) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("kind must be `stream` or `table`, not `{kind}`"),
        );
    }
    let view = state.app.load_full();
    let streams = catalog_names(&view.catalog, "streams");
    let tables = catalog_names(&view.catalog, "tables");
    let result = if wants != Some("table") && streams.contains(&name) {
        peek_stream(&state, &name, limit)
            .await
            .map(|records| ("stream", records))
    } else if wants != Some("stream") && tables.contains(&name) {
        let order_by = table_order(&view.catalog, &name);
        peek_table(&state, &name, &order_by, limit)
            .await
            .map(|rows| ("table", rows))
    } else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no stream or table named `{name}`; streams: {}; tables: {}",
                streams.join(", "),
                tables.join(", ")
            ),
        );
    };
    match result {
        Ok((kind, records)) => {
            Json(json!({ "name": name, "kind": kind, "records": records })).into_response()
        }
        Err(problem) => problem.into_response(),
    }
}

/// `GET /logs?tail=N`: the host's last `tail` log lines (default and most: all kept).
pub async fn logs(Query(query): Query<HashMap<String, String>>) -> Response {
    match parse_limit(query.get("tail"), logbuf::CAPACITY) {
        Ok(tail) => Json(json!({ "lines": logbuf::tail(tail) })).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// A positive count of at most [`MAX_LIMIT`]; `default` when absent.
fn parse_limit(value: Option<&String>, default: usize) -> Result<usize, OpsError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(OpsError::BadCount(value.clone())),
    }
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The names of the catalog's `streams` or `tables`.
fn catalog_names(catalog: &Value, section: &str) -> Vec<String> {
    catalog[section]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["name"].as_str().map(str::to_string))
        .collect()
}

/// The sort key of catalog table `name`: its `order_by`, `failed_at` for a dead-letter
/// table.
fn table_order(catalog: &Value, name: &str) -> Vec<String> {
    let Some(table) = catalog["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == name)
    else {
        return vec![];
    };
    if table["model"] == "DeadLetter" {
        return vec!["failed_at".into()];
    }
    table["order_by"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect()
}

/// The last `limit` records of `stream` over all its partitions, oldest first; values
/// that are not JSON come back as strings.
async fn peek_stream(
    state: &MgmtState,
    stream: &str,
    limit: usize,
) -> Result<Vec<Value>, OpsError> {
    // Any group gives the partitions' ends; this one never commits.
    let partitions = state.streams.lag(stream, "moose:peek").await?;
    let mut records = Vec::new();
    for p in partitions {
        let from = p.end.saturating_sub(limit as u64);
        let read = state.streams.read(stream, p.partition, from, limit).await?;
        records.extend(read);
    }
    records.sort_by_key(|r| (r.timestamp_ms, r.partition, r.offset));
    let skip = records.len().saturating_sub(limit);
    Ok(records
        .into_iter()
        .skip(skip)
        .map(|r| {
            serde_json::from_slice(&r.value)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.value).into_owned()))
        })
        .collect())
}

/// The last `limit` rows of `table` by its sort key (`order_by` in the catalog; a
/// dead-letter table's is `failed_at`), in sort-key order.
async fn peek_table(
    state: &MgmtState,
    table: &str,
    order_by: &[String],
    limit: usize,
) -> Result<Vec<Value>, OpsError> {
    let sql = if order_by.is_empty() {
        format!("SELECT * FROM {} LIMIT {limit}", quote_ident(table))
    } else {
        let keys: Vec<String> = order_by.iter().map(|k| quote_ident(k)).collect();
        let descending: Vec<String> = keys.iter().map(|k| format!("{k} DESC")).collect();
        format!(
            "SELECT * FROM (SELECT * FROM {} ORDER BY {} LIMIT {limit}) ORDER BY {}",
            quote_ident(table),
            descending.join(", "),
            keys.join(", ")
        )
    };
    let body = state
        .olap
        .fetch_bytes(
            &sql,
            "JSONEachRow",
            &[("output_format_json_quote_64bit_integers", "0")],
        )
        .await?;
    body.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_slice(line).map_err(|source| OpsError::Row {
                table: table.to_string(),
                source,
            })
        })
        .collect()
}
