//! `POST /cis/oidc/backchannel` (CIBA Core §7, Mosaic's Step 3) and
//! `POST /cis/auth/backchannel/complete` (Mosaic's Step 1 callback). The work is in
//! [`crate::ciba::start`] and [`crate::ciba::decide`].

use axum::{Json, body::Bytes, extract::State, http::HeaderMap};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{client_auth, form::Form};
use crate::{
    AppState,
    ciba::{
        decide,
        poll::DEFAULT_INTERVAL,
        request::{self, RawRequest},
        start,
    },
    error::{ErrorCode, OAuthError},
    tokens,
};

/// Starts a backchannel authentication request.
pub async fn backchannel(
    State(state): State<AppState>,
    peer: client_auth::Peer,
    headers: HeaderMap,
    form: Result<Form, OAuthError>,
) -> Result<Json<Value>, OAuthError> {
    let began = tokio::time::Instant::now();
    let form = form.map_err(OAuthError::mosaic)?;
    let answer = async {
        let now = state.clock.now();
        let client = client_auth::authenticate(&state, peer, &headers, &form).await?;
        let login_uri = start::admit(&state, &client, now).await?;
        let valid = request::validate(&RawRequest::from(&form))?;
        let token = start::notification_token(&client, form.get("client_notification_token"))?;
        start::start(&state, &client, &login_uri, &valid, token, now, began).await
    };
    let started = answer.await.map_err(OAuthError::mosaic)?;
    let mut body = json!({
        "auth_req_id": started.auth_req_id.expose(),
        "expires_in": started.expires_in.as_secs(),
        "interval": DEFAULT_INTERVAL.as_secs(),
    });
    if let Some(link) = started.link {
        body["link"] = Value::String(link);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    auth_req_id: String,
    approved: bool,
}

/// Records the user's decision, authorised by the user's own access token.
pub async fn complete(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let answer = async {
        let now = state.clock.now();
        let token = tokens::bearer(&state, &headers, now).await?;
        let decision: Decision = serde_json::from_slice(&body).map_err(|_| {
            OAuthError::invalid_request(
                "Send JSON {\"auth_req_id\": \"…\", \"approved\": true or false}.",
            )
        })?;
        decide::decide(
            &state,
            &token,
            &decision.auth_req_id,
            decision.approved,
            now,
        )
        .await
    };
    match answer.await {
        Ok(status) => Ok(Json(json!({ "status": status.as_str() }))),
        // CIBA Core §13 answers access_denied with 403 on its own endpoints.
        Err(error) if error.code == ErrorCode::AccessDenied => Err(error
            .with_status(axum::http::StatusCode::FORBIDDEN)
            .mosaic()),
        Err(error) => Err(error.mosaic()),
    }
}

/// The backchannel request's parameters as a form carries them (the endpoint and the fuzz
/// targets read them alike).
impl<'a> From<&'a Form> for RawRequest<'a> {
    fn from(form: &'a Form) -> Self {
        Self {
            scope: form.get("scope"),
            login_hint: form.get("login_hint"),
            login_hint_token: form.get("login_hint_token"),
            id_token_hint: form.get("id_token_hint"),
            binding_message: form.get("binding_message"),
            requested_expiry: form.get("requested_expiry"),
            request_context: form.get("request_context"),
            user_code: form.get("user_code"),
        }
    }
}
