//! Agent sessions: a random id in a `__Host-` cookie (`Secure`, `HttpOnly`, `SameSite=Strict`,
//! `Path=/`), stored only as its SHA-256 in the BFF's store, with idle and absolute timeouts.
//! [`AgentSession`] is the extractor every agent-only route and server function uses.

use app::refusal::Refusal;
use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, request::Parts},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use infra::cookies::{self, Cookie};
use rand::RngExt as _;
use sha2::{Digest, Sha256};

use crate::{AppState, Bff, flows::engine::Agent, store::Session};

/// The session cookie's name. `__Host-` makes browsers insist on `Secure`, `Path=/` and no
/// `Domain`, so no other host can set or overwrite it.
pub const COOKIE: &str = "__Host-countersign";

/// A new session id (256 bits) and the hash the store keeps.
pub fn new_id() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::rng().random();
    let id = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&id);
    (id, hash)
}

/// What the store keeps of a session id.
pub fn hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// How the session cookie is set: HTTPS only, never sent from another site, for as long as the
/// browser runs (the store ends the session).
const ATTRIBUTES: cookies::Attributes = cookies::Attributes {
    same_site: cookies::SameSite::Strict,
    secure: true,
    max_age: None,
};

/// The cookie that holds session `id`.
pub fn cookie(id: &str) -> Cookie<'static> {
    cookies::set(COOKIE, id, ATTRIBUTES)
}

/// The cookie that removes the session cookie.
pub fn cleared_cookie() -> Cookie<'static> {
    cookies::clear(COOKIE, ATTRIBUTES)
}

/// The session id a request carries, if any.
pub fn id_from(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE)
}

/// The value of the cookie `name` a request carries, if any and not empty.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    infra::cookies::values(headers, name)
        .next()
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// A signed-in agent.
#[derive(Clone, Debug)]
pub struct AgentSession {
    /// Who they are, as the flow engine knows them.
    pub agent: Agent,
    /// Their email.
    pub email: String,
    /// Their session's hash (for sign-out).
    pub id_hash: Vec<u8>,
}

/// What an agent is told when the store cannot say whether their session is live.
fn sessions_unavailable() -> Refusal {
    Refusal::Unavailable("Sessions are unavailable right now. Try again.".to_owned())
}

impl FromRequestParts<AppState> for AgentSession {
    type Rejection = Refusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        from_headers(&state.bff, &parts.headers).await
    }
}

/// The live agent session a request's cookie names. A session past its idle or absolute
/// timeout is deleted, so its id is useless from then on; a live one is marked as used now.
pub async fn from_headers(bff: &Bff, headers: &HeaderMap) -> Result<AgentSession, Refusal> {
    let id = id_from(headers).ok_or(Refusal::SignedOut)?;
    let id_hash = hash(&id);
    let now = bff.engine.now_ms();
    let session = bff
        .store
        .session(&id_hash)
        .await
        .map_err(|_| sessions_unavailable())?
        .ok_or(Refusal::SignedOut)?;
    let idle = i64::try_from(bff.session_idle.as_millis()).unwrap_or(i64::MAX);
    if !session.is_live(idle, now) {
        let _ = bff.store.delete_session(&id_hash).await;
        return Err(Refusal::SignedOut);
    }
    bff.store
        .touch_session(&id_hash, now)
        .await
        .map_err(|_| sessions_unavailable())?;
    Ok(AgentSession::from_session(&session))
}

impl AgentSession {
    /// The agent of a stored session.
    pub fn from_session(session: &Session) -> Self {
        Self {
            agent: Agent {
                sub: session.agent_sub.clone(),
                name: session.agent_name.clone(),
                supervisor: session.is_supervisor(),
            },
            email: session.agent_email.clone(),
            id_hash: session.id_hash.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
