//! Agent sessions: a random id in a `__Host-` cookie (`Secure`, `HttpOnly`, `SameSite=Strict`,
//! `Path=/`), stored only as its SHA-256 in the BFF's store, with idle and absolute timeouts.
//! [`AgentSession`] is the extractor every agent-only route and server function uses.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
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

/// The `Set-Cookie` value for session `id`.
pub fn cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session id a request carries, if any.
pub fn id_from(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE)
}

/// The value of the cookie `name` a request carries, if any and not empty.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
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

/// Why a request has no agent session.
#[derive(Debug)]
pub enum NoSession {
    /// Not signed in, or the session ended.
    SignedOut,
    /// The store failed.
    Unavailable,
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Self::SignedOut => (StatusCode::UNAUTHORIZED, "Sign in to continue."),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sessions are unavailable right now. Try again.",
            ),
        };
        (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(serde_json::json!({ "error": text })),
        )
            .into_response()
    }
}

impl FromRequestParts<AppState> for AgentSession {
    type Rejection = NoSession;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        from_headers(&state.bff, &parts.headers).await
    }
}

/// The live agent session a request's cookie names. A session past its idle or absolute
/// timeout is deleted, so its id is useless from then on; a live one is marked as used now.
pub async fn from_headers(bff: &Bff, headers: &HeaderMap) -> Result<AgentSession, NoSession> {
    let id = id_from(headers).ok_or(NoSession::SignedOut)?;
    let id_hash = hash(&id);
    let now = bff.engine.now_ms();
    let session = bff
        .store
        .session(&id_hash)
        .await
        .map_err(|_| NoSession::Unavailable)?
        .ok_or(NoSession::SignedOut)?;
    let idle = i64::try_from(bff.session_idle.as_millis()).unwrap_or(i64::MAX);
    if !session.is_live(idle, now) {
        let _ = bff.store.delete_session(&id_hash).await;
        return Err(NoSession::SignedOut);
    }
    bff.store
        .touch_session(&id_hash, now)
        .await
        .map_err(|_| NoSession::Unavailable)?;
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
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_cookie_is_host_only_secure_and_script_proof() {
        let (id, hash_of_id) = new_id();
        assert_eq!(id.len(), 43);
        assert_eq!(hash(&id), hash_of_id);
        let set = cookie(&id);
        for part in [
            "__Host-countersign=",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
        ] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set.contains("Domain"));
        assert!(cleared_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn the_session_id_is_read_from_any_cookie_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(id_from(&headers), None);
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("x=y; __Host-countersign=abc; z=1"),
        );
        assert_eq!(id_from(&headers).as_deref(), Some("abc"));
        let mut empty = HeaderMap::new();
        empty.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-countersign="),
        );
        assert_eq!(id_from(&empty), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A cookie name (an RFC 6265 token).
        const NAME: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}";
        /// A cookie value (RFC 6265 cookie-octets), base64 padding included.
        const VALUE: &str = "[A-Za-z0-9!#$%&'()*+./:<=>?@\\[\\]^_`{|}~-]{1,40}";

        proptest! {
            /// Any Cookie header: an answer, never a panic, and never an empty value.
            #[test]
            fn any_cookie_header_gets_an_answer(
                bytes in proptest::collection::vec(any::<u8>(), 0..80),
                name in NAME,
            ) {
                if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                    let mut headers = HeaderMap::new();
                    headers.insert(header::COOKIE, value);
                    let found = cookie_value(&headers, &name);
                    prop_assert!(found.is_none_or(|v| !v.is_empty()));
                    let _ = id_from(&headers);
                }
            }

            /// A cookie set among others, in one header or several, reads back as set; a
            /// cookie whose name merely contains it does not.
            #[test]
            fn a_cookie_reads_back_among_others(
                name in NAME,
                value in VALUE,
                others in proptest::collection::vec((NAME, VALUE), 0..4),
                split in any::<bool>(),
            ) {
                let others: Vec<(String, String)> =
                    others.into_iter().filter(|(other, _)| *other != name).collect();
                let mut pairs: Vec<String> =
                    others.iter().map(|(n, v)| format!("{n}={v}")).collect();
                pairs.insert(pairs.len() / 2, format!("{name}={value}"));
                pairs.push(format!("x{name}=decoy"));
                let mut headers = HeaderMap::new();
                if split {
                    for pair in &pairs {
                        headers.append(header::COOKIE, HeaderValue::from_str(pair).unwrap());
                    }
                } else {
                    headers.insert(header::COOKIE, HeaderValue::from_str(&pairs.join("; ")).unwrap());
                }
                prop_assert_eq!(cookie_value(&headers, &name), Some(value));
            }

            /// Session ids this BFF makes read back from the cookie it sets.
            #[test]
            fn new_session_ids_round_trip(_run in 0..8u8) {
                let (id, id_hash) = new_id();
                let set = cookie(&id);
                let pair = set.split(';').next().unwrap_or_default();
                let mut headers = HeaderMap::new();
                headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
                prop_assert_eq!(id_from(&headers).map(|id| hash(&id)), Some(id_hash));
            }
        }
    }
}
