//! The ingest HTTP routes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};

use super::parse::{parse_body, Parsed};
use crate::mgmt::metrics::{Metrics, Outcome};
use crate::records::{DeadLetter, ErrorKind, FieldError, ModelValidator};
use crate::stream::{Record, Streams};

/// One ingest endpoint and what it needs to check and route records.
pub struct IngestEndpoint {
    pub name: String,
    pub stream: String,
    pub dead_letter: Option<String>,
    pub validator: ModelValidator,
    /// Fields whose values make a record's stream key.
    pub key_fields: Vec<String>,
}

/// The ingest endpoints keyed by route: `name`, or `name/version` for a versioned model.
pub type IngestEndpoints = BTreeMap<String, IngestEndpoint>;

/// Shared state of the ingest routes.
pub struct IngestState {
    /// Read once per request; replaced as a whole when a reload changes the endpoints.
    pub endpoints: ArcSwap<IngestEndpoints>,
    pub streams: Arc<dyn Streams>,
    pub metrics: Arc<Metrics>,
}

/// `POST /ingest/{endpoint}` and `POST /ingest/{endpoint}/{version}` with bodies of at
/// most `max_body_bytes` (413 beyond, with a JSON error like every other answer).
pub fn router(state: Arc<IngestState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/ingest/{endpoint}", post(unversioned))
        .route("/ingest/{endpoint}/{version}", post(versioned))
        // Refuses a declared oversize body before reading it, and caps streamed ones.
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            max_body_bytes,
        ))
        .layer(axum::middleware::map_response(
            move |response: Response| async move {
                if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the body is larger than {max_body_bytes} bytes ([http] max_body_bytes); \
                             send the records in smaller bodies"
                        ),
                        json!({ "max_body_bytes": max_body_bytes }),
                    )
                } else {
                    response
                }
            },
        ))
        .with_state(state)
}

#[derive(Serialize)]
struct RecordProblem {
    index: usize,
    field: String,
    problem: String,
}

fn error(status: StatusCode, message: String, extra: Value) -> Response {
    let mut body = json!({ "error": message });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    (status, Json(body)).into_response()
}

async fn unversioned(
    State(state): State<Arc<IngestState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    ingest(&state, name, &body).await
}

async fn versioned(
    State(state): State<Arc<IngestState>>,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    ingest(&state, format!("{name}/{version}"), &body).await
}

async fn ingest(state: &IngestState, name: String, body: &[u8]) -> Response {
    let started = Instant::now();
    let endpoints = state.endpoints.load_full();
    let Some(endpoint) = endpoints.get(&name) else {
        let known: Vec<&String> = endpoints.keys().collect();
        return error(
            StatusCode::NOT_FOUND,
            format!("no ingest endpoint `{name}`"),
            json!({ "endpoints": known }),
        );
    };
    let parsed = match parse_body(body) {
        Ok(parsed) => parsed,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string(), json!({})),
    };

    let now = chrono::Utc::now().timestamp_millis();
    let mut good = Vec::with_capacity(parsed.len());
    let mut bad = Vec::new();
    let mut problems = Vec::new();
    for (index, Parsed { raw, value }) in parsed.into_iter().enumerate() {
        let checked = value
            .map_err(|problem| {
                vec![FieldError {
                    field: String::new(),
                    problem,
                }]
            })
            .and_then(|value| endpoint.validator.validate(&value).map(|()| value));
        match checked {
            Ok(value) => good.push(Record {
                key: record_key(&value, &endpoint.key_fields),
                value: value.to_string().into_bytes(),
                timestamp_ms: now,
            }),
            Err(errors) => {
                let message = errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                bad.push(Record {
                    key: None,
                    value: DeadLetter::new(
                        raw,
                        message,
                        ErrorKind::Validation,
                        format!("ingest:{name}"),
                    )
                    .to_json(),
                    timestamp_ms: now,
                });
                problems.extend(errors.into_iter().map(|e| RecordProblem {
                    index,
                    field: e.field,
                    problem: e.problem,
                }));
            }
        }
    }

    let accepted = good.len();
    let rejected = bad.len();
    if !good.is_empty() {
        if let Err(e) = state.streams.produce(&endpoint.stream, good).await {
            tracing::error!(endpoint = %name, "writing to stream `{}` failed: {e}", endpoint.stream);
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the records could not be stored, none was accepted: {e}"),
                json!({}),
            );
        }
    }
    if let (Some(dead_letter), false) = (&endpoint.dead_letter, bad.is_empty()) {
        if let Err(e) = state.streams.produce(dead_letter, bad).await {
            tracing::error!(endpoint = %name, "writing to dead-letter stream `{dead_letter}` failed: {e}");
        }
    }
    state
        .metrics
        .count("ingest", &name, Outcome::In, accepted as u64);
    state
        .metrics
        .count("ingest", &name, Outcome::Failed, rejected as u64);
    state
        .metrics
        .batch("ingest", &name, started.elapsed().as_secs_f64());

    if problems.is_empty() {
        (StatusCode::OK, Json(json!({ "accepted": accepted }))).into_response()
    } else {
        error(
            StatusCode::BAD_REQUEST,
            format!("{rejected} record(s) failed validation; the other {accepted} were accepted"),
            json!({ "accepted": accepted, "rejected": rejected, "problems": problems }),
        )
    }
}

/// The stream key of a record: its key fields' JSON values, separated by 0x1f.
pub fn record_key(record: &Value, key_fields: &[String]) -> Option<Vec<u8>> {
    if key_fields.is_empty() {
        return None;
    }
    let mut key = Vec::new();
    for (i, field) in key_fields.iter().enumerate() {
        if i > 0 {
            key.push(0x1f);
        }
        key.extend_from_slice(
            record
                .get(field)
                .unwrap_or(&Value::Null)
                .to_string()
                .as_bytes(),
        );
    }
    Some(key)
}
