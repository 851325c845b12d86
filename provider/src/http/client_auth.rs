//! Client authentication at the token and backchannel endpoints: `client_secret_basic`
//! (RFC 6749 §2.3.1, HTTP Basic with form-encoded id and secret) and `client_secret_post` (the
//! same in the body). Using both at once is refused. Secrets are compared as keyed hashes in
//! constant time, and every failure answers the same `invalid_client`. Failures are counted per
//! IP address; past the limit the address gets 429 until its window ends, right secret or not.
//!
//! The clients are read through [`ClientCache`]: most requests are a few clients' polls, and a
//! store read per request costs more than the rest of a poll.

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, SocketAddr},
    sync::{Mutex, PoisonError},
};

use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{HeaderMap, header, request::Parts},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};

use super::form::Form;
use crate::{
    AppState,
    clock::Timestamp,
    crypto::Purpose,
    error::{ErrorCode, OAuthError},
    limits::{Limits, Subject},
    store::{Client, SharedStore, StoreError},
};

/// How long a client read from the store is used before it is read again, in ms.
const CLIENT_TTL_MS: i64 = 5_000;
/// Clients kept at most (there are few; past this the cache starts again).
const MAX_CACHED: usize = 1_000;

/// Clients as client authentication last read them, each for [`CLIENT_TTL_MS`]. A client's
/// secret hash never changes after the seed; a change of its CIBA settings through this
/// instance forgets the copy at once ([`ClientCache::forget`]), and reaches the other instances
/// of a cluster within the TTL. Only clients that exist are kept, so unknown ids cannot fill it.
#[derive(Debug, Default)]
pub struct ClientCache {
    clients: Mutex<HashMap<String, (Client, Timestamp)>>,
}

impl ClientCache {
    /// Client `id`, from the cache while fresh, else from `store`.
    pub async fn get(
        &self,
        store: &SharedStore,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Client>, StoreError> {
        // A clock that stepped back makes a copy stale, never fresh for longer.
        if let Some((client, read_at)) = self.lock().get(id)
            && (0..CLIENT_TTL_MS).contains(&now.0.saturating_sub(read_at.0))
        {
            return Ok(Some(client.clone()));
        }
        let found = store.client(id).await?;
        if let Some(client) = &found {
            let mut clients = self.lock();
            if clients.len() >= MAX_CACHED {
                clients.clear();
            }
            clients.insert(id.to_owned(), (client.clone(), now));
        }
        Ok(found)
    }

    /// Drops the copy of client `id` (its settings changed).
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Client, Timestamp)>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The address the request came from: the TCP peer, or behind a trusted reverse proxy the
/// address it appended last to `X-Forwarded-For` (earlier entries are the client's own claims).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub IpAddr);

impl FromRequestParts<AppState> for Peer {
    type Rejection = OAuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tcp = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| OAuthError::internal("the router was served without connect info"))?;
        let ip = crate::net::client_ip(Some(tcp), &parts.headers, state.trust_forwarded_for)
            .unwrap_or(tcp);
        Ok(Self(ip))
    }
}

/// A form posted by a client that authenticated with it (the token and revocation endpoints):
/// the form is read first, then the client is authenticated from it and the headers
/// ([`authenticate`]). Either refusal is the request's answer.
pub struct ClientForm {
    /// The authenticated client.
    pub client: Client,
    /// What it posted.
    pub form: Form,
}

impl fmt::Debug for ClientForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientForm")
            .field("client_id", &self.client.id)
            .finish_non_exhaustive()
    }
}

impl FromRequest<AppState> for ClientForm {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let peer = Peer::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let form = Form::from_request(Request::from_parts(parts, body), state).await?;
        let client = authenticate(state, peer, &headers, &form).await?;
        Ok(Self { client, form })
    }
}

/// Authenticates the client of a request from its headers and form, within the failure limit
/// of its address.
pub async fn authenticate(
    state: &AppState,
    peer: Peer,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Client, OAuthError> {
    let rule = |limits: &Limits| limits.client_failures_per_ip;
    let now = state.clock.now();
    // Only failures are counted, each at once, so a BFF's many parallel polls from one address
    // spend nothing (see `limits`); past the limit every answer is 429, right secret or wrong,
    // so no more than the limit's guesses ever learn whether they were right.
    let result = credentials(state, headers, form).await;
    if matches!(&result, Err(error) if error.code == ErrorCode::InvalidClient) {
        state.limiter.hit(rule, Subject::Ip(peer.0), now).await?;
    } else {
        state.limiter.check(rule, Subject::Ip(peer.0), now).await?;
    }
    result
}

async fn credentials(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Client, OAuthError> {
    let basic = basic_credentials(headers)?;
    if basic.is_some() && form.get("client_secret").is_some() {
        return Err(OAuthError::invalid_request(
            "Authenticate the client one way only: HTTP Basic or the client_secret parameter.",
        ));
    }
    let posted = match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        _ => None,
    };
    let (id, secret) = match (basic, posted) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "Authenticate the client one way only: HTTP Basic or the client_secret parameter.",
            ));
        }
        (Some(credentials), None) | (None, Some(credentials)) => credentials,
        (None, None) => return Err(OAuthError::invalid_client()),
    };
    // With HTTP Basic, a client_id in the body must name the same client.
    if form.get("client_id").is_some_and(|form_id| form_id != id) {
        return Err(OAuthError::invalid_client());
    }
    let now = state.clock.now();
    let Some(client) = state.clients.get(&state.store, &id, now).await? else {
        // Spend the same work as a real check, so timing does not tell which ids exist.
        let _ = state.hash_key.hash(Purpose::ClientSecret, &secret);
        return Err(OAuthError::invalid_client());
    };
    if state
        .hash_key
        .verify(Purpose::ClientSecret, &secret, &client.secret_hash)
    {
        Ok(client)
    } else {
        Err(OAuthError::invalid_client())
    }
}

/// The id and secret of an `Authorization: Basic` header, if there is one.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(OAuthError::invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client());
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| OAuthError::invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(OAuthError::invalid_client)?;
    // RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
    let unescape = |part: &str| -> Result<String, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}"))
            .map_err(|_| OAuthError::invalid_client())?;
        pairs
            .into_iter()
            .next()
            .map(|(_, value)| value)
            .ok_or_else(OAuthError::invalid_client)
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

#[cfg(test)]
mod tests;
