//! The provider's HTTP surface. Handlers only extract, call, and map the result.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use crate::AppState;

/// Builds the provider's router. Tests build the very same router through [`crate::Provider`].
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(state)
}

/// The body of `GET /healthz`.
#[derive(Debug, Serialize)]
struct Health<'a> {
    /// `ok`, or `unavailable` when the store does not answer.
    status: &'static str,
    issuer: &'a str,
    version: &'static str,
}

/// Liveness and readiness in one: answers 200 only when the store answers too.
async fn healthz(State(state): State<AppState>) -> Response {
    let (code, status) = match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::error!(%error, "health check: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let body = Health {
        status,
        issuer: &state.issuer,
        version: env!("CARGO_PKG_VERSION"),
    };
    let mut response = (code, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Any path the provider does not serve, in Mosaic's error shape.
async fn not_found() -> Response {
    let body = serde_json::json!({ "message": ["Not found"], "error_code": 404 });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
