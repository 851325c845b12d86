//! Issuing tokens. Access and refresh tokens are random handles stored as keyed hashes; ID
//! tokens are signed JWTs. Lifetimes are fixed here.

use std::time::Duration;

use infra::secret::{Secret, random_token};
use jsonwebtoken::Algorithm;
use serde::Serialize;

use crate::{
    AppState,
    clock::Timestamp,
    crypto::Purpose,
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

/// Tokens made and signed but not yet stored: the response for the client and the records
/// that make its handles valid. Store them with [`Issued::store`], or together with another
/// change in one transaction (a CIBA redemption).
pub struct Issued {
    /// What the client receives.
    pub response: TokenResponse,
    /// What the store keeps (hashes only).
    pub records: Vec<TokenRecord>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("response", &self.response)
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// Stores the records and hands out the response.
    pub async fn store(self, state: &AppState) -> Result<TokenResponse, OAuthError> {
        if state.store.insert_tokens(&self.records).await? {
            Ok(self.response)
        } else {
            Err(OAuthError::invalid_grant(
                "The grant was revoked; sign in again.",
            ))
        }
    }
}

/// The fields every token of one grant shares.
struct Grant<'a> {
    state: &'a AppState,
    client: &'a Client,
    user: Option<&'a User>,
    scope: &'a str,
    authentication: Option<&'a Authentication>,
    grant_id: String,
    origin: &'static str,
    now: Timestamp,
}

impl Grant<'_> {
    /// A fresh handle of `kind` living `lifetime`, and its record.
    fn token(&self, kind: &str, lifetime: Duration) -> Result<(Secret, TokenRecord), OAuthError> {
        let token = random_token();
        let amr = self
            .authentication
            .map(|a| serde_json::to_string(&a.amr))
            .transpose()
            .map_err(OAuthError::internal)?;
        let record = TokenRecord {
            hash: self
                .state
                .hash_key
                .hash(Purpose::Token, token.expose())
                .to_vec(),
            kind: kind.to_owned(),
            client_id: self.client.id.clone(),
            user_id: self.user.map(|user| user.id.clone()),
            scope: self.scope.to_owned(),
            auth_time: self.authentication.map(|a| a.auth_time),
            amr: Some(amr.unwrap_or_else(|| "[]".to_owned())),
            issued_at: self.now.0,
            expires_at: self.now.plus(lifetime).0,
            revoked_at: None,
            grant_id: self.grant_id.clone(),
            origin: self.origin.to_owned(),
        };
        Ok((token, record))
    }
}

/// What a user grant carries besides its user and client.
#[derive(Clone, Copy, Debug)]
pub struct UserGrant<'a> {
    /// The granted scopes, space-separated.
    pub scope: &'a str,
    /// How the user authenticated.
    pub authentication: &'a Authentication,
    /// Where the grant comes from.
    pub origin: Origin,
    /// The client's `nonce`, echoed in the ID token.
    pub nonce: Option<&'a str>,
    /// The grant's id when it already has one (a refresh, or a code that is revoked with its
    /// tokens if replayed); a new one otherwise.
    pub grant_id: Option<&'a str>,
}

/// Makes an access token (and a refresh token with `offline_access`) and signs an ID token for
/// `user` to `client`. Nothing is stored yet.
pub fn for_user(
    state: &AppState,
    client: &Client,
    user: &User,
    request: &UserGrant<'_>,
    now: Timestamp,
) -> Result<Issued, OAuthError> {
    let scope = request.scope;
    let grant = Grant {
        state,
        client,
        user: Some(user),
        scope,
        authentication: Some(request.authentication),
        grant_id: request
            .grant_id
            .map_or_else(|| random_token().expose().to_owned(), str::to_owned),
        origin: request.origin.as_str(),
        now,
    };
    let (access, access_record) = grant.token("access", ACCESS_TOKEN_LIFETIME)?;
    let mut records = vec![access_record];
    let refresh = if scope.split(' ').any(|s| s == "offline_access") {
        let (refresh, record) = grant.token("refresh", REFRESH_TOKEN_LIFETIME)?;
        records.push(record);
        Some(refresh.expose().to_owned())
    } else {
        None
    };
    let id_token = id_token(state, client, user, request, now)?;
    Ok(Issued {
        response: TokenResponse {
            access_token: access.expose().to_owned(),
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
            scope: scope.to_owned(),
            id_token: Some(id_token),
            refresh_token: refresh,
        },
        records,
    })
}

/// Makes a client access token (client credentials grant): it speaks for the client alone.
pub fn for_client(state: &AppState, client: &Client, now: Timestamp) -> Result<Issued, OAuthError> {
    let grant = Grant {
        state,
        client,
        user: None,
        scope: "",
        authentication: None,
        grant_id: random_token().expose().to_owned(),
        origin: "client_credentials",
        now,
    };
    let (access, record) = grant.token("access", ACCESS_TOKEN_LIFETIME)?;
    Ok(Issued {
        response: TokenResponse {
            access_token: access.expose().to_owned(),
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
            scope: String::new(),
            id_token: None,
            refresh_token: None,
        },
        records: vec![record],
    })
}

/// Signs an ID token for `user`.
pub fn id_token(
    state: &AppState,
    client: &Client,
    user: &User,
    request: &UserGrant<'_>,
    now: Timestamp,
) -> Result<String, OAuthError> {
    let has = |wanted: &str| request.scope.split(' ').any(|s| s == wanted);
    let authentication = request.authentication;
    let acr = if authentication.amr.iter().any(|m| m == "pwd") {
        "urn:countersign:acr:pwd"
    } else {
        "urn:countersign:acr:otp"
    };
    let claims = IdTokenClaims {
        iss: &state.issuer,
        sub: &user.id,
        aud: &client.id,
        exp: now.plus(ID_TOKEN_LIFETIME).unix_seconds(),
        iat: now.unix_seconds(),
        auth_time: authentication.auth_time,
        amr: &authentication.amr,
        acr,
        nonce: request.nonce,
        role: (user.kind == "workforce")
            .then_some(user.role.as_deref())
            .flatten(),
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

/// The client behind a client access token (client credentials), or a refusal.
pub async fn calling_client(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Client, OAuthError> {
    let token = bearer(state, headers, state.clock.now()).await?;
    if token.user_id.is_some() {
        return Err(OAuthError::new(
            crate::error::ErrorCode::InsufficientScope,
            "Use a client access token.",
        ));
    }
    state
        .store
        .client(&token.client_id)
        .await?
        .ok_or_else(OAuthError::invalid_token)
}
