//! The query API HTTP routes and the mapping of guest answers to HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::params::parse_params;
use moose_model::types::ApiDef;
use moose_runtime::types::{ApiError, QueryError};
use moose_runtime::CallError;
use moose_runtime::ComponentHandle;
use moose_telemetry::events::{BatchDone, Event, Stage};
use moose_telemetry::metrics::Metrics;

/// One query API and the component that serves it.
pub struct ApiEndpoint {
    pub def: ApiDef,
    /// Read once per request: a reload swaps it between requests.
    pub component: ComponentHandle,
}

/// The APIs keyed by `name` or `name/version`.
pub type ApiEndpoints = BTreeMap<String, ApiEndpoint>;

/// Shared state of the API routes.
pub struct ApiState {
    /// Replaced as a whole when a reload adds, changes or removes APIs.
    pub apis: ArcSwap<ApiEndpoints>,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/{name}", get(unversioned))
        .route("/api/{name}/{version}", get(versioned))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn unversioned(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    call(state, name, query).await
}

async fn versioned(
    State(state): State<Arc<ApiState>>,
    Path((name, version)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    call(state, format!("{name}/{version}"), query).await
}

async fn call(state: Arc<ApiState>, api: String, query: Vec<(String, String)>) -> Response {
    let started = Instant::now();
    let apis = state.apis.load_full();
    let Some(endpoint) = apis.get(&api) else {
        let known: Vec<&String> = apis.keys().collect();
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no API `{api}`"), "apis": known })),
        )
            .into_response();
    };
    let params = match parse_params(&endpoint.def.params, &query) {
        Ok(params) => params.to_string().into_bytes(),
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let component = endpoint.component.load_full();
    let name = api.clone();
    let outcome = tokio::task::spawn_blocking(move || component.handle_api(&name, &params)).await;
    let response = match outcome {
        Ok(Ok(Ok(answer))) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                answer.body,
            )
                .into_response()
        }
        Ok(Ok(Err(api_error))) => api_error_response(api_error),
        Ok(Err(call_error)) => {
            tracing::error!(api = %api, "{call_error}");
            match call_error {
                CallError::Timeout { .. } => {
                    error(StatusCode::GATEWAY_TIMEOUT, "the API ran out of time")
                }
                _ => error(StatusCode::INTERNAL_SERVER_ERROR, "the API failed"),
            }
        }
        Err(join_error) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the API failed: {join_error}"),
        ),
    };
    let answered = response.status().is_success();
    BatchDone {
        stage: Stage::Api,
        name: &api,
        read: 0,
        written: u64::from(answered),
        failed: u64::from(!answered),
        first_error: None,
        seconds: started.elapsed().as_secs_f64(),
    }
    .record(&state.metrics);
    response
}

fn api_error_response(api_error: ApiError) -> Response {
    match api_error {
        ApiError::BadRequest(message) => error(StatusCode::BAD_REQUEST, message),
        ApiError::NotFound(message) => error(StatusCode::NOT_FOUND, message),
        ApiError::UnknownApi(name) => error(
            StatusCode::NOT_FOUND,
            format!("the component has no API `{name}`"),
        ),
        ApiError::Failed(message) => error(StatusCode::INTERNAL_SERVER_ERROR, message),
        ApiError::Query(query) => match query {
            QueryError::Invalid(message) => {
                error(StatusCode::BAD_REQUEST, format!("invalid query: {message}"))
            }
            QueryError::Denied(message) => {
                error(StatusCode::FORBIDDEN, format!("query denied: {message}"))
            }
            QueryError::Timeout => error(StatusCode::GATEWAY_TIMEOUT, "the query ran out of time"),
            QueryError::TooLarge(limit) => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the result is larger than {limit} bytes; narrow the request"),
            ),
            QueryError::Unavailable(message) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the data store is unavailable: {message}"),
            ),
            QueryError::Failed(message) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("query failed: {message}"),
            ),
        },
    }
}
