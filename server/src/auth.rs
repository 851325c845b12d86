//! Agent sign-in and sign-out: the OIDC authorization code flow with PKCE (S256) against the
//! workforce identity provider, ending in a session of the BFF's own.
//!
//! - `GET /auth/login?return_to=/path`: counted against [`limits::BffLimits::sign_ins_per_ip`]; a fresh
//!   `state`, `nonce` and PKCE verifier, kept as a [`PendingLogin`] under the hash of `state`;
//!   then a 303 to the provider. Nothing else changes.
//! - `GET /auth/callback`: the pending sign-in is taken (single use, at most
//!   [`LOGIN_LIFETIME`] old), the code exchanged, the ID token validated with the nonce, the role
//!   checked (`agent` or `supervisor`), the provider's tokens revoked (the BFF keeps none), and a
//!   new session made with a new id; then a page that moves on to `return_to` (see
//!   [`html::moving_on`] for why not a 303).
//! - `POST /auth/logout`: the session is deleted and its cookie cleared; 303 to `/`.
//!
//! Errors are plain sentences on a small HTML page, everything escaped.

use std::time::Duration;

use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::Response,
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use infra::{
    cookies,
    secret::{Secret, random_token},
};
use sha2::{Digest, Sha256};

use html::{moving_on, page, see_other};

use crate::{
    AppState, limits,
    oidc::{Expected, OidcError},
    session::{self},
    store::{PendingLogin, Role, Session},
};

/// How long a sign-in may take between the redirect to the provider and the callback.
pub const LOGIN_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// The longest `return_to` kept.
const MAX_RETURN_TO: usize = 2048;
/// The longest provider `error_description` shown.
const MAX_DESCRIPTION: usize = 300;

/// The sign-in routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
}

/// Where the provider sends the browser back: `{public_url}/auth/callback`.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}/auth/callback", public_url.trim_end_matches('/'))
}

/// The `GET /auth/login` URL that signs in and comes back to `return_to` (a local path).
pub fn login_path(return_to: &str) -> String {
    format!(
        "/auth/login?return_to={}",
        crate::oidc::wire::form_encode(return_to)
    )
}

/// `return_to` if it is a path on this site, else `/`.
///
/// Only an absolute path is kept: it starts with one `/`, not `//` or `/\` (which browsers read
/// as another host), and holds only visible ASCII without `\` (browsers drop tabs and newlines
/// and read `\` as `/`, which would turn `/\t/evil` into `//evil`).
pub fn safe_return_to(requested: Option<&str>) -> String {
    match requested {
        Some(path)
            if path.len() <= MAX_RETURN_TO
                && path.starts_with('/')
                && !path.starts_with("//")
                && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The query parameters of `query` (the first of each name).
fn query_param(query: &str, name: &str) -> Option<String> {
    let mut url = reqwest::Url::parse("http://query.invalid/").ok()?;
    url.set_query(Some(query));
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Starts a sign-in.
async fn login(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: Parts,
) -> Response {
    let bff = &state.bff;
    let query = query.unwrap_or_default();
    let return_to = safe_return_to(query_param(&query, "return_to").as_deref());
    let now = bff.engine.now_ms();
    let address = limits::client_address(&request, bff.trust_forwarded_for);
    match bff
        .hit_limit(bff.limits.sign_ins_per_ip, &address, now)
        .await
    {
        Ok(Ok(())) => {}
        Ok(Err(wait)) => {
            bff.metrics.sign_in("rate_limited");
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-ins",
                &format!(
                    "Too many sign-ins were started from this network. Try again in {}.",
                    app::approve::wait(wait)
                ),
                Some((&login_path(&return_to), "Try again")),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return response;
        }
        Err(error) => {
            tracing::error!(%error, "sign-in: cannot count the sign-in");
            return unavailable_store(&return_to);
        }
    }
    sweep(&state, now).await;

    let client = match bff.oidc.client().await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "sign-in: the provider cannot be reached");
            return unavailable(&return_to);
        }
    };
    let login_state = random_token().expose().to_owned();
    let nonce = random_token().expose().to_owned();
    let verifier = random_token().expose().to_owned();
    let pending = PendingLogin {
        state_hash: session::hash(&login_state),
        nonce: nonce.clone(),
        code_verifier: verifier.clone(),
        return_to: return_to.clone(),
        created_at: now,
    };
    if let Err(error) = bff.store.insert_login(&pending).await {
        tracing::error!(%error, "sign-in: cannot store the pending sign-in");
        return unavailable_store(&return_to);
    }
    let url = client.authorization_url(
        &redirect_uri(&bff.public_url),
        &login_state,
        &nonce,
        &code_challenge(&verifier),
    );
    // The state also goes into a short-lived cookie: the callback must come back to the
    // browser that started the sign-in, or someone could sign another agent's browser into
    // their own session (login CSRF, RFC 9700 §4.7.1). Lax, because the provider's redirect
    // back is a cross-site navigation.
    see_other(&url, Some(&login_cookie(&login_state)))
}

/// The cookie binding a sign-in to the browser that started it.
pub const LOGIN_COOKIE: &str = "__Host-countersign-login";

/// How the login cookie is set: `Lax`, because the provider's redirect back is a navigation
/// from another site, and for as long as a sign-in may take.
const LOGIN_ATTRIBUTES: cookies::Attributes = cookies::Attributes {
    same_site: cookies::SameSite::Lax,
    secure: true,
    max_age: Some(LOGIN_LIFETIME),
};

fn login_cookie(state: &str) -> cookies::Cookie<'static> {
    cookies::set(LOGIN_COOKIE, state, LOGIN_ATTRIBUTES)
}

fn cleared_login_cookie() -> cookies::Cookie<'static> {
    cookies::clear(LOGIN_COOKIE, LOGIN_ATTRIBUTES)
}

/// The sign-in state the browser's login cookie holds.
fn login_state_of(headers: &HeaderMap) -> Option<String> {
    session::cookie_value(headers, LOGIN_COOKIE)
}

/// The 503 page when the provider cannot be reached.
fn unavailable(return_to: &str) -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable",
        "The sign-in service cannot be reached right now.",
        Some((&login_path(return_to), "Try again")),
    )
}

/// The 503 page when the store cannot be used.
fn unavailable_store(return_to: &str) -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable",
        "Sign-in is unavailable right now.",
        Some((&login_path(return_to), "Try again")),
    )
}

/// Removes abandoned sign-ins and ended sessions. Failures only log: this is housekeeping.
async fn sweep(state: &AppState, now: i64) {
    let bff = &state.bff;
    let lifetime = i64::try_from(LOGIN_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    if let Err(error) = bff
        .store
        .delete_logins_before(now.saturating_sub(lifetime))
        .await
    {
        tracing::warn!(%error, "cannot remove abandoned sign-ins");
    }
    let idle = i64::try_from(bff.session_idle.as_millis()).unwrap_or(i64::MAX);
    if let Err(error) = bff.store.delete_expired_sessions(idle, now).await {
        tracing::warn!(%error, "cannot remove ended sessions");
    }
}

/// Why a callback did not sign anyone in.
#[derive(Debug)]
enum Refused {
    /// The answer does not belong to a sign-in in progress (no, unknown, used or old `state`).
    UnknownSignIn,
    /// The sign-in took longer than [`LOGIN_LIFETIME`].
    TooSlow,
    /// The provider said no (`error`, with its description).
    ByProvider(String),
    /// The provider could not be reached.
    Unavailable,
    /// The answer or the tokens did not check out.
    Invalid,
    /// The account has no console role.
    Role,
    /// The store failed.
    Store,
}

impl Refused {
    fn into_response(self, return_to: &str) -> Response {
        let again = login_path(return_to);
        let (status, title, text) = match self {
            Self::UnknownSignIn => (
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "This sign-in is not valid or was already used. Sign in again.".to_owned(),
            ),
            Self::TooSlow => (
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "This sign-in took too long. Sign in again.".to_owned(),
            ),
            Self::ByProvider(description) => (
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                format!("The sign-in service said: {description}"),
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable",
                "The sign-in service cannot be reached right now.".to_owned(),
            ),
            Self::Invalid => (
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "The sign-in could not be verified. Sign in again.".to_owned(),
            ),
            Self::Role => {
                return page(
                    StatusCode::FORBIDDEN,
                    "Access refused",
                    "Your account may not use the console.",
                    None,
                );
            }
            Self::Store => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable",
                "Sign-in is unavailable right now.".to_owned(),
            ),
        };
        page(status, title, &text, Some((&again, "Sign in again")))
    }
}

impl From<OidcError> for Refused {
    fn from(error: OidcError) -> Self {
        if error.is_transient() {
            tracing::warn!(%error, "sign-in: the provider is unavailable");
            Self::Unavailable
        } else {
            tracing::warn!(%error, "sign-in refused");
            Self::Invalid
        }
    }
}

/// The provider's `error_description` (or `error`), cut to a sentence's length, without
/// control characters.
fn provider_description(query: &str) -> String {
    let text = query_param(query, "error_description")
        .filter(|text| !text.trim().is_empty())
        .or_else(|| query_param(query, "error"))
        .unwrap_or_default();
    let mut clean: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DESCRIPTION)
        .collect();
    if clean.trim().is_empty() {
        clean = "the sign-in was not completed.".to_owned();
    }
    clean
}

/// Ends a sign-in: the provider's redirect back.
async fn callback(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    match finish(&state, &query, &headers).await {
        Ok((cookie, return_to)) => {
            state.bff.metrics.sign_in("signed_in");
            moving_on(&return_to, &cookie)
        }
        Err((refused, return_to)) => {
            state.bff.metrics.sign_in(match refused {
                Refused::Unavailable | Refused::Store => "unavailable",
                _ => "failed",
            });
            refused.into_response(&return_to)
        }
    }
}

/// The work of [`callback`]: the session cookie and where to go, or why not (and where to come
/// back to after signing in again).
async fn finish(
    state: &AppState,
    query: &str,
    headers: &HeaderMap,
) -> Result<(cookies::Cookie<'static>, String), (Refused, String)> {
    let bff = &state.bff;
    let now = bff.engine.now_ms();
    let fallback = |refused| (refused, "/".to_owned());
    let login_state = query_param(query, "state")
        .filter(|value| !value.is_empty())
        .ok_or_else(|| fallback(Refused::UnknownSignIn))?;
    // Only the browser that started this sign-in may finish it.
    let same_browser = login_state_of(headers).is_some_and(|cookie| {
        use subtle::ConstantTimeEq as _;
        bool::from(cookie.as_bytes().ct_eq(login_state.as_bytes()))
    });
    if !same_browser {
        tracing::warn!("sign-in refused: the callback came to another browser");
        return Err(fallback(Refused::UnknownSignIn));
    }
    let login = bff
        .store
        .take_login(&session::hash(&login_state))
        .await
        .map_err(|error| {
            tracing::error!(%error, "sign-in: cannot read the pending sign-in");
            fallback(Refused::Store)
        })?
        .ok_or_else(|| fallback(Refused::UnknownSignIn))?;
    let return_to = safe_return_to(Some(&login.return_to));
    let fail = |refused| (refused, return_to.clone());
    let lifetime = i64::try_from(LOGIN_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    if now.saturating_sub(login.created_at) > lifetime {
        return Err(fail(Refused::TooSlow));
    }
    if query_param(query, "error").is_some() {
        return Err(fail(Refused::ByProvider(provider_description(query))));
    }

    let client = bff
        .oidc
        .client()
        .await
        .map_err(|error| fail(error.into()))?;
    let code = client
        .authorization_code(query, &login_state)
        .map_err(|error| fail(error.into()))?;
    let redirect = redirect_uri(&bff.public_url);
    let tokens = client
        .exchange_code(&code, &redirect, &Secret::new(login.code_verifier.clone()))
        .await
        .map_err(|error| fail(error.into()))?;
    let claims = client
        .validate_id_token(
            &tokens.id_token,
            Expected {
                sub: None,
                nonce: Some(&login.nonce),
            },
            now.div_euclid(1000),
        )
        .await;
    // The session is the BFF's own: the provider's tokens are not kept, whatever comes next.
    for token in std::iter::once(&tokens.access_token).chain(tokens.refresh_token.as_ref()) {
        if let Err(error) = client.revoke(token).await {
            tracing::warn!(%error, "sign-in: cannot revoke the agent's token");
        }
    }
    let claims = claims.map_err(|error| fail(error.into()))?;
    let role = match claims.role.as_deref().and_then(Role::parse) {
        Some(role) => role,
        None => {
            tracing::info!(sub = %claims.sub, "sign-in refused: no console role");
            return Err(fail(Refused::Role));
        }
    };

    // A sign-in replaces whatever session this browser had.
    if let Some(old) = session::id_from(headers) {
        let _ = bff.store.delete_session(&session::hash(&old)).await;
    }
    let max = i64::try_from(bff.session_max.as_millis()).unwrap_or(i64::MAX);
    let email = claims.email.clone().unwrap_or_default();
    let name = claims
        .name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .or_else(|| Some(email.clone()).filter(|email| !email.is_empty()))
        .unwrap_or_else(|| claims.sub.clone());
    let (id, id_hash) = session::new_id();
    let new = Session {
        id_hash,
        agent_sub: claims.sub.clone(),
        agent_name: name,
        agent_email: email,
        role,
        created_at: now,
        last_seen_at: now,
        expires_at: now.saturating_add(max),
    };
    bff.store.insert_session(&new).await.map_err(|error| {
        tracing::error!(%error, "sign-in: cannot store the session");
        fail(Refused::Store)
    })?;
    tracing::info!(sub = %new.agent_sub, role = %new.role.as_str(), "agent signed in");
    Ok((session::cookie(&id), return_to))
}

/// Signs out: the session ends, the cookie goes.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session::id_from(&headers) {
        match state.bff.store.delete_session(&session::hash(&id)).await {
            Ok(true) => tracing::info!("agent signed out"),
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, "sign-out: cannot delete the session");
                return page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sign-out failed",
                    "Signing out did not work. Try again.",
                    None,
                );
            }
        }
    }
    see_other("/", Some(&session::cleared_cookie()))
}

pub(crate) mod html;
#[cfg(test)]
mod tests;
