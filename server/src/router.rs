//! The axum application: the BFF's own routes, the Leptos pages and server functions, the
//! static files, and the layers around them (body limit, CSRF guard, security headers).

use std::sync::Arc;

use app::{App, refusal::Refusal, shell, ssr::BackendHandle};
use axum::{
    Router,
    extract::{FromRef, State},
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::{Bff, audit, auth, csrf, events, notify, refusals, security};

/// State of every request: the Leptos options and the BFF's services.
#[derive(Clone, Debug)]
pub struct AppState {
    /// How the pages are served (output name, site root, address).
    pub leptos_options: LeptosOptions,
    /// The BFF's services.
    pub bff: Arc<Bff>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Builds the BFF's router.
///
/// Order of routing: the BFF's own endpoints, then the pages and server functions that Leptos
/// registers, then static files from the site root, then the app's "not found" page. Around
/// all of it: the CSRF guard, then the security headers ([`security`]).
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let backend = BackendHandle(state.bff.clone());
    let options = state.leptos_options.clone();
    let metrics = state.bff.metrics.clone();
    // Every Leptos handler (pages, server functions, the "not found" page) gets the backend
    // and this response's CSP nonce.
    let context = move || {
        provide_context(backend.clone());
        security::provide_leptos_nonce();
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(events::routes())
        .merge(audit::routes())
        .merge(auth::routes())
        .merge(notify::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        // Server function calls whose arguments cannot be read: 400, not 500.
        .layer(axum::middleware::from_fn(refusals::with_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(axum::middleware::from_fn(limit_body))
        // A refusal of a plain form post (the approval page without scripts) is shown as a
        // page, whoever inside refused it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refusals::as_page,
        ))
        // Refusals of the layers inside get the headers too.
        .layer(axum::middleware::from_fn(security::headers))
        // Every answer counted under its route's pattern (static files and unknown paths as
        // `other`).
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::metrics::count_requests(metrics.clone(), request, next)
        }))
        // Outermost: every answer and every log line of a request carries its id, and the
        // calls it makes to the provider send it on.
        .layer(axum::middleware::from_fn(infra::request_id::middleware))
        .with_state(state)
}

/// The longest request body the BFF takes. Its bodies are server-function arguments (an email
/// or phone number, a binding message, a flow id, a one-time code) and sign-out posts: a few
/// hundred bytes. Nothing takes uploads.
pub const MAX_BODY: usize = 64 * 1024;

/// Reads every request body whole, up to [`MAX_BODY`] bytes, before any route (or the CSRF
/// guard) sees it; a longer one is refused with 413 at once (before reading it, when
/// `Content-Length` says so), as a [`Refusal`] like the BFF's other refusals.
async fn limit_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match infra::serve::buffer_request(request, MAX_BODY).await {
        Ok(request) => next.run(request).await,
        Err(infra::serve::BodyError::TooLarge) => {
            Refusal::TooLarge(MAX_BODY / 1024).into_response()
        }
        Err(infra::serve::BodyError::Unreadable) => {
            Refusal::Invalid("The request body could not be read.".to_owned()).into_response()
        }
    }
}

/// Liveness: the process is up and serving.
async fn healthz() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        "ok",
    )
}

/// Readiness: 200 when the BFF's store answers and the provider is reachable (discovered), 503
/// with the reason otherwise. A load balancer sends customers and agents elsewhere meanwhile.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let bff = &state.bff;
    let store = bff.store.ping().await;
    let provider = bff.oidc.client().await;
    let (status, body) = match (&store, &provider) {
        (Ok(()), Ok(_)) => (StatusCode::OK, serde_json::json!({ "status": "ready" })),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({
                "status": "not ready",
                "store": if store.is_ok() { "ok" } else { "unavailable" },
                "provider": if provider.is_ok() { "ok" } else { "unreachable" },
            }),
        ),
    };
    if let Err(error) = &provider {
        tracing::warn!(%error, "not ready: the provider");
    }
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(body),
    )
}
