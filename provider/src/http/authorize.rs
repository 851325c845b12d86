//! `GET`/`POST /authorize`: the authorization code flow (OIDC Core §3.1) for workforce users,
//! with PKCE S256 required (RFC 7636) and the issuer in the response (RFC 9207).
//!
//! `GET` checks the request and shows a small server-rendered sign-in page (email and
//! password); it changes nothing. `POST` checks the request again, then the password (argon2id),
//! and redirects to the client with a one-minute, single-use code.
//!
//! A browser that signed in before carries a device cookie ([`super::device`]) and keeps its own
//! allowance of failures: a stranger spending the account's allowance from many addresses does
//! not lock the owner out of their own browser.
//!
//! Until the client and its redirect URI are known good, errors are shown as a page and never
//! redirected (§3.1.2.6). A registered loopback redirect URI matches on any port (RFC 8252 §7.3),
//! so a console on a free port works with the demo registration.

use axum::{
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use infra::{html::escape, secret::random_token};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{client_auth::Peer, device, form::Form};
use crate::{
    AppState,
    audit::{self, Event, Kind},
    ciba::request::ALLOWED_SCOPES,
    clock::Timestamp,
    crypto::Purpose,
    error::{ErrorCode, OAuthError},
    limits::{Limits, Rule, Subject},
    store::{AuthorizationCode, Client, User},
};

/// How long an authorization code lives.
pub const CODE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest `state` or `nonce` accepted.
const MAX_ECHOED: usize = 512;

/// A checked authorization request.
struct Checked {
    client: Client,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
}

/// Why a request was refused.
enum Refusal {
    /// The client or redirect URI is not known good: show a page, never redirect.
    Page(String),
    /// Tell the client, at its redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: ErrorCode,
        description: String,
    },
}

impl Refusal {
    fn into_response(self, issuer: &str) -> Response {
        match self {
            Self::Page(text) => page(StatusCode::BAD_REQUEST, "Sign-in failed", &text, None),
            Self::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => {
                let error = serde_json::to_value(error)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "invalid_request".to_owned());
                let mut params = vec![
                    ("error", error.as_str()),
                    ("error_description", description.as_str()),
                    ("iss", issuer),
                ];
                if let Some(state) = &state {
                    params.push(("state", state));
                }
                redirect(&redirect_uri, &params)
            }
        }
    }
}

/// Shows the sign-in page for a valid request.
pub async fn show(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let form = match Form::parse(query.unwrap_or_default().as_bytes()) {
        Ok(form) => form,
        Err(error) => return Refusal::Page(error.description).into_response(&state.issuer),
    };
    match check(&state, &form).await {
        Ok(checked) => sign_in_page(&checked, "", None, StatusCode::OK),
        Err(refusal) => refusal.into_response(&state.issuer),
    }
}

/// Checks the password and redirects with a code.
pub async fn submit(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    form: Result<Form, OAuthError>,
) -> Response {
    if !same_origin(&headers, &state.issuer) {
        return page(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "This sign-in form was sent from another site.",
            None,
        );
    }
    let form = match form {
        Ok(form) => form,
        Err(error) => return Refusal::Page(error.description).into_response(&state.issuer),
    };
    let checked = match check(&state, &form).await {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(&state.issuer),
    };
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    let password = form.get("password").unwrap_or_default();
    let now = state.clock.now();
    let attempt = Attempt {
        peer,
        headers: &headers,
        email: &email,
        password,
    };
    match sign_in(&state, &checked.client, &attempt, now).await {
        Ok(user) => match issue_code(&state, &checked, &user, now).await {
            Ok(mut response) => {
                // This browser now knows the account: it keeps its own failure allowance.
                let value = device::issue(&state.hash_key, &email.to_lowercase(), now);
                if let Some(cookie) = device::set_cookie(&state.issuer, &value) {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                response
            }
            Err(error) => error.into_response(),
        },
        Err(SignInError::Wrong) => sign_in_page(
            &checked,
            &email,
            Some("The email or password is not right."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(SignInError::Limited(seconds)) => {
            let mut response = sign_in_page(
                &checked,
                &email,
                Some(&format!(
                    "Too many failed sign-ins. Try again in {} minutes.",
                    seconds.div_ceil(60)
                )),
                StatusCode::TOO_MANY_REQUESTS,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
        Err(SignInError::Internal(error)) => error.into_response(),
    }
}

async fn check(state: &AppState, form: &Form) -> Result<Checked, Refusal> {
    let client_id = form
        .get("client_id")
        .ok_or_else(|| Refusal::Page("The sign-in link has no client_id.".into()))?;
    let client = state
        .store
        .client(client_id)
        .await
        .map_err(|_| Refusal::Page("Sign-in is unavailable right now.".into()))?
        .ok_or_else(|| Refusal::Page("The sign-in link names an unknown application.".into()))?;
    let registered: Vec<String> = serde_json::from_str(&client.redirect_uris).unwrap_or_default();
    let redirect_uri = form
        .get("redirect_uri")
        .filter(|uri| registered.iter().any(|r| redirect_matches(r, uri)))
        .ok_or_else(|| {
            Refusal::Page("The sign-in link does not name a registered return address.".into())
        })?
        .to_owned();
    let echoed = |name: &str| {
        form.get(name)
            .filter(|v| v.len() <= MAX_ECHOED)
            .map(str::to_owned)
    };
    let state_param = echoed("state");
    let refuse = |error: ErrorCode, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state_param.clone(),
        error,
        description: description.to_owned(),
    };
    if form.get("state").is_some_and(|v| v.len() > MAX_ECHOED)
        || form.get("nonce").is_some_and(|v| v.len() > MAX_ECHOED)
    {
        return Err(refuse(
            ErrorCode::InvalidRequest,
            "state and nonce must be at most 512 bytes.",
        ));
    }
    if form.get("response_type") != Some("code") {
        return Err(refuse(
            ErrorCode::UnsupportedResponseType,
            "Only response_type=code is supported.",
        ));
    }
    if form
        .get("response_mode")
        .is_some_and(|mode| mode != "query")
    {
        return Err(refuse(
            ErrorCode::InvalidRequest,
            "Only response_mode=query is supported.",
        ));
    }
    if form.get("request").is_some() || form.get("request_uri").is_some() {
        return Err(refuse(
            ErrorCode::RequestNotSupported,
            "Request objects are not supported.",
        ));
    }
    if form.get("prompt") == Some("none") {
        return Err(refuse(
            ErrorCode::LoginRequired,
            "The user must sign in: there are no provider sessions.",
        ));
    }
    let scope = form.get("scope").unwrap_or_default();
    let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if !scopes.contains(&"openid") || scopes.iter().any(|s| !ALLOWED_SCOPES.contains(s)) {
        return Err(refuse(
            ErrorCode::InvalidScope,
            "scope must include openid and only: openid email phone offline_access.",
        ));
    }
    let challenge = form.get("code_challenge").unwrap_or_default();
    if form.get("code_challenge_method") != Some("S256") || !is_pkce_value(challenge) {
        return Err(refuse(
            ErrorCode::InvalidRequest,
            "PKCE is required: send code_challenge with code_challenge_method=S256.",
        ));
    }
    Ok(Checked {
        client,
        redirect_uri,
        scope: scopes.join(" "),
        state: state_param,
        nonce: echoed("nonce"),
        code_challenge: challenge.to_owned(),
    })
}

enum SignInError {
    Wrong,
    Limited(u64),
    Internal(OAuthError),
}

impl From<OAuthError> for SignInError {
    fn from(error: OAuthError) -> Self {
        match (error.code, error.retry_after) {
            (ErrorCode::RateLimited, Some(seconds)) => Self::Limited(seconds),
            _ => Self::Internal(error),
        }
    }
}

/// One sign-in attempt: who sends it, from which browser, and what they typed.
struct Attempt<'a> {
    peer: Peer,
    headers: &'a HeaderMap,
    email: &'a str,
    password: &'a str,
}

/// Checks a workforce user's password, within the failure limits of the address and of the
/// account, or of the browser's device cookie when it carries a valid one for the account.
async fn sign_in(
    state: &AppState,
    client: &Client,
    attempt: &Attempt<'_>,
    now: Timestamp,
) -> Result<User, SignInError> {
    let (peer, email) = (attempt.peer, attempt.email);
    let account = email.to_lowercase();
    let device = device::valid_for(
        &state.hash_key,
        &state.issuer,
        attempt.headers,
        &account,
        now,
    );
    // Every attempt counts before the password is checked, so parallel guesses all count; a
    // right password gives its counts back. A known browser counts against its own cookie
    // instead of the account, so failures elsewhere cannot lock it out.
    let mut rules: Vec<(RuleOf, Subject<'_>)> =
        vec![(|l| l.sign_in_failures_per_ip, Subject::Ip(peer.0))];
    match &device {
        Some(nonce) => rules.push((|l| l.sign_in_failures_per_device, Subject::Device(nonce))),
        None => {
            rules.push((
                |l| l.sign_in_failures_per_account,
                Subject::AccountFrom(&account, peer.0),
            ));
            rules.push((
                |l| l.sign_in_failures_per_account_total,
                Subject::User(&account),
            ));
        }
    }
    for (rule, subject) in &rules {
        state.limiter.hit(*rule, *subject, now).await?;
    }
    let user = state
        .store
        .workforce_by_email(&client.app_id, email)
        .await
        .map_err(|e| SignInError::Internal(e.into()))?;
    let hash = user
        .as_ref()
        .and_then(|user| user.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_owned());
    let password = attempt.password.to_owned();
    // argon2 takes tens of milliseconds of CPU: off the async workers. Unknown accounts are
    // checked against a dummy hash so the answer takes as long.
    // Each check holds 19 MiB for tens of milliseconds: a few at a time, the rest wait.
    let permit = ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|e| SignInError::Internal(OAuthError::internal(e)))?;
    let right = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| SignInError::Internal(OAuthError::internal(e)))?;
    drop(permit);
    match user {
        Some(user) if right && user.is_active() => {
            for (rule, subject) in &rules {
                state.limiter.refund(*rule, *subject, now).await?;
            }
            audit::record(
                state,
                Event {
                    user_id: Some(&user.id),
                    ..audit::about(Kind::WorkforceSignedIn, client)
                },
            )
            .await;
            Ok(user)
        }
        _ => {
            audit::record(
                state,
                Event {
                    user_id: user.as_ref().map(|user| user.id.as_str()),
                    ..audit::about(Kind::WorkforceSignInFailed, client)
                },
            )
            .await;
            Err(SignInError::Wrong)
        }
    }
}

/// Picks one rule of the limits.
type RuleOf = fn(&Limits) -> Rule;

/// Password checks running at once.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// An argon2id hash of a random string, for unknown accounts.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Hk3Fbq0u6sSQUBQxCbtD3lJWr5hF7D0iH7xcsuG5E/k";

fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordVerifier, phc::PasswordHash};
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

async fn issue_code(
    state: &AppState,
    checked: &Checked,
    user: &User,
    now: Timestamp,
) -> Result<Response, OAuthError> {
    let code = random_token();
    state
        .store
        .insert_code(&AuthorizationCode {
            code_hash: state
                .hash_key
                .hash(Purpose::AuthorizationCode, code.expose())
                .to_vec(),
            client_id: checked.client.id.clone(),
            user_id: user.id.clone(),
            redirect_uri: checked.redirect_uri.clone(),
            scope: checked.scope.clone(),
            nonce: checked.nonce.clone(),
            code_challenge: checked.code_challenge.clone(),
            auth_time: now.unix_seconds(),
            created_at: now.0,
            expires_at: now.plus(CODE_LIFETIME).0,
            used_at: None,
            grant_id: random_token().expose().to_owned(),
        })
        .await?;
    let mut params = vec![("code", code.expose()), ("iss", state.issuer.as_str())];
    if let Some(value) = &checked.state {
        params.push(("state", value));
    }
    Ok(redirect(&checked.redirect_uri, &params))
}

/// Whether `code_verifier` matches a stored S256 `code_challenge` (RFC 7636 §4.6).
pub fn pkce_matches(code_verifier: &str, code_challenge: &str) -> bool {
    if !is_pkce_value(code_verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
    computed.as_bytes().ct_eq(code_challenge.as_bytes()).into()
}

/// 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1, §4.2).
fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `requested` is the `registered` redirect URI: exactly, or for a loopback IP address
/// the same but for the port (RFC 8252 §7.3).
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let split = |uri: &str| -> Option<(String, String)> {
        let rest = uri.strip_prefix("http://")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']')?;
            let port = &v6[end + 1..];
            if !(port.is_empty() || port.strip_prefix(':')?.bytes().all(|b| b.is_ascii_digit())) {
                return None;
            }
            format!("[{}]", &v6[..end])
        } else {
            let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            host.to_owned()
        };
        matches!(host.as_str(), "127.0.0.1" | "[::1]").then(|| (host, path.to_owned()))
    };
    matches!((split(registered), split(requested)), (Some(a), Some(b)) if a == b)
}

/// A browser POST is same-origin when it says so (`Sec-Fetch-Site`) or its `Origin` is the
/// issuer's. Requests without either (not from a browser) cannot be cross-site forgeries.
fn same_origin(headers: &HeaderMap, issuer: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match header("origin") {
        Some(origin) => {
            issuer.starts_with(origin) && {
                let rest = &issuer[origin.len()..];
                rest.is_empty() || rest.starts_with('/')
            }
        }
        None => true,
    }
}

fn redirect(uri: &str, params: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let separator = if uri.contains('?') { '&' } else { '?' };
    let mut response = Redirect::to(&format!("{uri}{separator}{query}")).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn sign_in_page(
    checked: &Checked,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut hidden = String::new();
    let mut field = |name: &str, value: &str| {
        hidden.push_str(&format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        ));
    };
    field("response_type", "code");
    field("client_id", &checked.client.id);
    field("redirect_uri", &checked.redirect_uri);
    field("scope", &checked.scope);
    field("code_challenge", &checked.code_challenge);
    field("code_challenge_method", "S256");
    if let Some(value) = &checked.state {
        field("state", value);
    }
    if let Some(value) = &checked.nonce {
        field("nonce", value);
    }
    let alert = error
        .map(|text| format!(r#"<p class="error" role="alert">{}</p>"#, escape(text)))
        .unwrap_or_default();
    let form = format!(
        r#"{alert}<form method="post" action="authorize">{hidden}
<label for="email">Work email</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus value="{}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>"#,
        escape(email)
    );
    page(
        status,
        &format!("Sign in to {}", checked.client.app_name),
        "Staff sign-in.",
        Some(&form),
    )
}

fn page(status: StatusCode, title: &str, lead: &str, form: Option<&str>) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}}
label{{display:block;margin-top:1rem;font-weight:600}}
input{{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #6b7280;border-radius:.3rem}}
button{{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;background:#1d4ed8;color:#fff;border:0;border-radius:.3rem}}
.error{{color:#991b1b;background:#fef2f2;padding:.6rem;border-radius:.3rem}}
</style></head>
<body><main><h1>{title}</h1><p>{lead}</p>{form}</main></body></html>"#,
        title = escape(title),
        lead = escape(lead),
        form = form.unwrap_or_default(),
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    no_store(&mut response);
    response
}

#[cfg(test)]
mod tests;
