//! `GET`/`POST /userinfo` (OIDC Core §5.3) and `POST /oidc/token/revocation` (RFC 7009).

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use serde_json::{Value, json};

use super::client_auth;
use crate::{
    AppState,
    audit::{self, Event, Kind},
    crypto::Purpose,
    error::OAuthError,
    tokens,
};

/// The signed-in user's claims, as far as the token's scopes allow.
pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthError> {
    let token = tokens::bearer(&state, &headers, state.clock.now()).await?;
    let user_id = token
        .user_id
        .as_deref()
        .ok_or_else(OAuthError::invalid_token)?;
    let user = state
        .store
        .user(user_id)
        .await?
        .filter(|user| user.is_active())
        .ok_or_else(OAuthError::invalid_token)?;
    let has = |wanted: &str| token.scope.split(' ').any(|s| s == wanted);
    let mut claims = json!({ "sub": user.id, "name": user.name });
    if let (true, Some(role)) = (user.kind == "workforce", &user.role) {
        claims["role"] = json!(role);
    }
    if has("email") {
        claims["email"] = json!(user.email);
        claims["email_verified"] = json!(user.email_verified);
    }
    if has("phone") {
        claims["phone_number"] = json!(user.phone);
        claims["phone_number_verified"] = json!(user.phone_verified);
    }
    Ok(Json(claims))
}

/// Revokes a token and every token of its grant. Answers 200 for unknown tokens too, as
/// RFC 7009 §2.2 asks, so the endpoint tells nothing about which tokens exist.
pub async fn revoke(
    State(state): State<AppState>,
    client_auth::ClientForm { client, form }: client_auth::ClientForm,
) -> Result<StatusCode, OAuthError> {
    let token = form.require("token")?;
    let hash = state.hash_key.hash(Purpose::Token, token);
    let record = state.store.token(&hash).await?;
    // Only the client the token was issued to may revoke it; others learn nothing either way.
    if let Some(record) = record.filter(|record| record.client_id == client.id) {
        state
            .store
            .revoke_grant(&record.grant_id, state.clock.now())
            .await?;
        audit::record(
            &state,
            Event {
                user_id: record.user_id.as_deref(),
                ..audit::about(Kind::TokensRevoked, &client)
            },
        )
        .await;
    }
    Ok(StatusCode::OK)
}
