//! The provider's HTTP surface. Handlers only extract, call the protocol modules, and map the
//! result; every refusal is an [`OAuthError`](crate::error::OAuthError).

pub(crate) mod apps;
mod authorize;
mod ciba;
pub(crate) mod client_auth;
mod dev;
mod device;
mod discovery;
pub mod form;
pub(crate) mod otp;
mod token;
mod userinfo;
pub(crate) mod webauthn;

use axum::{
    Json, Router,
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;

use crate::{
    AppState,
    error::{InternalCause, OAuthError},
};

/// Builds the provider's router. Tests build the very same router through [`crate::Provider`].
///
/// Layers (outermost first): the internal-error logger, the body limit ([`MAX_BODY`]), then the
/// routes.
pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        // Where Mosaic's profile looks for the same document (a BFF pointed at a standalone
        // provider with its default profile).
        .route(
            "/cis/oidc/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/authorize", get(authorize::show).post(authorize::submit))
        .route("/cis/oidc/backchannel", post(ciba::backchannel))
        .route("/oidc/token", post(token::token))
        .route("/cis/oidc/token", post(token::token))
        .route("/oidc/token/revocation", post(userinfo::revoke))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/cis/auth/backchannel/complete", post(ciba::complete))
        .route("/cis/v1/audit", get(apps::audit))
        .route("/cis/v1/auth/otp/send", post(otp::send))
        .route("/cis/v1/auth/otp/authenticate", post(otp::authenticate))
        .route(
            "/cis/v1/auth/webauthn/registration/start",
            post(webauthn::registration_start),
        )
        .route(
            "/cis/v1/auth/webauthn/registration/finish",
            post(webauthn::registration_finish),
        )
        .route(
            "/cis/v1/auth/webauthn/authentication/start",
            post(webauthn::authentication_start),
        )
        .route(
            "/cis/v1/auth/webauthn/authentication/finish",
            post(webauthn::authentication_finish),
        )
        .route(
            "/cis/v1/applications/{app_id}/clients/{client_id}",
            get(apps::get).put(apps::put),
        );
    if state.dev_outbox {
        router = router
            .route("/dev/outbox", get(dev::outbox_html))
            .route("/dev/outbox.json", get(dev::outbox_json))
            .layer(middleware::map_response(no_store));
    }
    let metrics = state.metrics.clone();
    router
        .fallback(not_found)
        .layer(middleware::from_fn(limit_body))
        // Every answer is counted under its route's pattern (never the path a client sent;
        // unknown paths as `other`), the body limit's refusals too.
        .layer(middleware::from_fn(move |request, next| {
            count_requests(metrics.clone(), request, next)
        }))
        .layer(middleware::from_fn(log_internal_errors))
        // Outermost: every log line of a request carries its id.
        .layer(middleware::from_fn(infra::request_id::middleware))
        .with_state(state)
}

/// The longest request body any route takes: its forms and JSON bodies are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Reads every request body whole, up to [`MAX_BODY`] bytes, before any route sees it: a longer
/// one is refused with 413 at once (before reading it, when `Content-Length` says so).
async fn limit_body(request: Request, next: Next) -> Response {
    match crate::serve::buffer_request(request, MAX_BODY).await {
        Ok(request) => next.run(request).await,
        Err(crate::serve::BodyError::TooLarge) => OAuthError::invalid_request(format!(
            "The request body is larger than {} KiB.",
            MAX_BODY / 1024
        ))
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        .mosaic()
        .into_response(),
        Err(crate::serve::BodyError::Unreadable) => {
            OAuthError::invalid_request("The request body could not be read.").into_response()
        }
    }
}

/// Counts the answer to `request` in the metrics: its route's pattern, and `ok` or the error
/// code the provider answered with.
async fn count_requests(
    metrics: crate::metrics::Metrics,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let answer = match response.extensions().get::<crate::error::ErrorCode>() {
        Some(code) => code.as_str(),
        None if response.status().is_client_error() || response.status().is_server_error() => {
            "error"
        }
        None => "ok",
    };
    metrics.request(&endpoint, answer, started.elapsed().as_secs_f64());
    response
}

/// Marks a response as never to be cached.
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Writes the cause of every `server_error` to the log; the client saw only a generic message.
async fn log_internal_errors(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%method, %path, %cause, "internal error");
    }
    response
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
