//! Issuing tokens. Access and refresh tokens are random handles stored as keyed hashes; ID
//! tokens are signed JWTs. Lifetimes are fixed here.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Serialize;

use crate::{
    AppState,
    clock::Timestamp,
    crypto::{Purpose, Secret, random_handle},
    error::OAuthError,
    keys::IdTokenClaims,
    store::{Client, TokenRecord, User},
};

/// How long access tokens live.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How long refresh tokens live.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long ID tokens are valid.
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The granted scopes.
    pub scope: String,
    /// The ID token (user grants only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The refresh token (with `offline_access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Where user tokens come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The user signed in themselves (one-time code): these tokens may decide CIBA requests.
    Login,
    /// A client redeemed an approved CIBA request: these speak for the user to the client only.
    Ciba,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Ciba => "ciba",
        }
    }
}

/// How the user authenticated.
#[derive(Clone, Debug)]
pub struct Authentication {
    /// Seconds since the epoch.
    pub auth_time: i64,
    /// Methods (RFC 8176).
    pub amr: Vec<String>,
}

/// Issues an access token (and a refresh token with `offline_access`) and an ID token for
/// `user` to `client`.
pub async fn issue_for_user(
    state: &AppState,
    client: &Client,
    user: &User,
    scope: &str,
    authentication: &Authentication,
    origin: Origin,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let grant_id = random_handle();
    let origin = origin.as_str();
    let amr_json = serde_json::to_string(&authentication.amr).map_err(OAuthError::internal)?;
    let access = store_token(
        state,
        "access",
        client,
        Some(user),
        scope,
        Some(authentication),
        &amr_json,
        &grant_id,
        origin,
        now,
        ACCESS_TOKEN_LIFETIME,
    )
    .await?;
    let refresh = if scope.split(' ').any(|s| s == "offline_access") {
        Some(
            store_token(
                state,
                "refresh",
                client,
                Some(user),
                scope,
                Some(authentication),
                &amr_json,
                &grant_id,
                origin,
                now,
                REFRESH_TOKEN_LIFETIME,
            )
            .await?
            .expose()
            .to_owned(),
        )
    } else {
        None
    };
    let id_token = id_token(state, client, user, scope, authentication, now)?;
    Ok(TokenResponse {
        access_token: access.expose().to_owned(),
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
        scope: scope.to_owned(),
        id_token: Some(id_token),
        refresh_token: refresh,
    })
}

/// Issues a client access token (client credentials grant): it speaks for the client alone.
pub async fn issue_for_client(
    state: &AppState,
    client: &Client,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let grant_id = random_handle();
    let access = store_token(
        state,
        "access",
        client,
        None,
        "",
        None,
        "[]",
        &grant_id,
        "client_credentials",
        now,
        ACCESS_TOKEN_LIFETIME,
    )
    .await?;
    Ok(TokenResponse {
        access_token: access.expose().to_owned(),
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
        scope: String::new(),
        id_token: None,
        refresh_token: None,
    })
}

/// Signs an ID token for `user`.
pub fn id_token(
    state: &AppState,
    client: &Client,
    user: &User,
    scope: &str,
    authentication: &Authentication,
    now: Timestamp,
) -> Result<String, OAuthError> {
    let has = |wanted: &str| scope.split(' ').any(|s| s == wanted);
    let claims = IdTokenClaims {
        iss: &state.issuer,
        sub: &user.id,
        aud: &client.id,
        exp: now.plus(ID_TOKEN_LIFETIME).unix_seconds(),
        iat: now.unix_seconds(),
        auth_time: authentication.auth_time,
        amr: &authentication.amr,
        acr: "urn:countersign:acr:otp",
        email: has("email").then_some(user.email.as_deref()).flatten(),
        email_verified: (has("email") && user.email.is_some()).then_some(user.email_verified),
        phone_number: has("phone").then_some(user.phone.as_deref()).flatten(),
        phone_number_verified: (has("phone") && user.phone.is_some())
            .then_some(user.phone_verified),
        name: &user.name,
    };
    state
        .signer
        .sign(Algorithm::RS256, &claims)
        .map_err(OAuthError::internal)
}

#[allow(clippy::too_many_arguments)]
async fn store_token(
    state: &AppState,
    kind: &str,
    client: &Client,
    user: Option<&User>,
    scope: &str,
    authentication: Option<&Authentication>,
    amr_json: &str,
    grant_id: &Secret,
    origin: &str,
    now: Timestamp,
    lifetime: Duration,
) -> Result<Secret, OAuthError> {
    let token = random_handle();
    state
        .store
        .insert_token(&TokenRecord {
            hash: state.hash_key.hash(Purpose::Token, token.expose()).to_vec(),
            kind: kind.to_owned(),
            client_id: client.id.clone(),
            user_id: user.map(|user| user.id.clone()),
            scope: scope.to_owned(),
            auth_time: authentication.map(|a| a.auth_time),
            amr: Some(amr_json.to_owned()),
            issued_at: now.0,
            expires_at: now.plus(lifetime).0,
            revoked_at: None,
            grant_id: grant_id.expose().to_owned(),
            origin: origin.to_owned(),
        })
        .await?;
    Ok(token)
}

/// The live token a bearer header carries, or `invalid_token`.
pub async fn bearer(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    now: Timestamp,
) -> Result<TokenRecord, OAuthError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(OAuthError::invalid_token)?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(OAuthError::invalid_token)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(OAuthError::invalid_token());
    }
    let hash = state.hash_key.hash(Purpose::Token, token.trim());
    let record = state
        .store
        .token(&hash)
        .await?
        .ok_or_else(OAuthError::invalid_token)?;
    if record.kind != "access" || record.revoked_at.is_some() || record.expires_at <= now.0 {
        return Err(OAuthError::invalid_token());
    }
    Ok(record)
}
