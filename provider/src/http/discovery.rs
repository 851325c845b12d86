//! `/.well-known/openid-configuration` (OIDC Discovery §3, with CIBA Core §4 metadata) and the
//! JWKS (RFC 7517).

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::token::CIBA_GRANT;
use crate::{AppState, ciba::request::ALLOWED_SCOPES};

/// The provider's metadata.
pub async fn openid_configuration(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/oidc/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "revocation_endpoint": format!("{issuer}/oidc/token/revocation"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "backchannel_authentication_endpoint": format!("{issuer}/cis/oidc/backchannel"),
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "backchannel_user_code_parameter_supported": false,
        "grant_types_supported": [CIBA_GRANT, "authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ALLOWED_SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "amr", "acr", "nonce", "role", "name",
            "email", "email_verified", "phone_number", "phone_number_verified"],
    }))
}

/// The public signing keys.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.signer.jwks().clone())
}
