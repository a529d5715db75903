//! Operations endpoints: liveness, readiness (the database answers), Prometheus
//! metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use orgbase_domain::StoreError;

use crate::fault::Fault;
use crate::responses::ResultResponse;
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = ResultResponse<String>, description = "`ok`")))]
pub async fn healthz() -> Response {
    ResultResponse::of("ok").into_response()
}

/// Readiness: the database answers reads and takes writes.
///
/// Otherwise 503 `kUnavailable`, with `Retry-After`.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = ResultResponse<String>, description = "`ready`"), (status = 503, body = Fault)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => ResultResponse::of("ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            let reason = match e {
                StoreError::StorageFull(_) => "The database's storage is full.",
                _ => "The database is not reachable or cannot be written.",
            };
            Fault::not_ready(reason).into_response()
        }
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, body = String, content_type = "text/plain", description = "Prometheus text format")))]
pub async fn metrics() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::telemetry::render_metrics()).into_response()
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, body = Object, description = "This document (OpenAPI 3.1)")))]
pub async fn openapi() -> Response {
    axum::Json(crate::openapi::document()).into_response()
}
