//! The floor for the token-endpoint benchmark (`make bench`, P1): a bare axum handler that
//! reads the same form a CIBA poll sends and answers the same `400 slow_down` as a provider
//! would, with no client check, no store and no clock. Countersign's provider is measured
//! against it on the same machine in the same run.
//!
//! `cargo run --release -p provider --example bare-token -- 127.0.0.1:PORT`

use std::collections::HashMap;

use axum::{Form, Json, Router, http::StatusCode, routing::post};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3009".to_owned());
    let app = Router::new().route("/oidc/token", post(answer));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}

/// `400 slow_down`, after reading the form as the provider does.
async fn answer(Form(form): Form<HashMap<String, String>>) -> (StatusCode, Json<Value>) {
    let known = form.contains_key("auth_req_id");
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "error": if known { "slow_down" } else { "invalid_request" },
            "error_description": "Poll less often: wait 10 seconds between polls.",
        })),
    )
}
