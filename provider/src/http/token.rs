//! `POST /oidc/token` and `POST /cis/oidc/token`: the CIBA grant (CIBA Core §10), and client
//! credentials (RFC 6749 §4.4) for the management and one-time-login APIs.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::{client_auth, form::Form};
use crate::{
    AppState,
    ciba::poll::{self, Outcome, PollState, Status},
    clock::Timestamp,
    crypto::Purpose,
    error::{ErrorCode, OAuthError},
    store::{Backchannel, Client},
    tokens::{self, Authentication},
};

/// The CIBA grant type (CIBA Core §10.1).
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// The token endpoint.
pub async fn token(
    State(state): State<AppState>,
    peer: client_auth::Peer,
    headers: HeaderMap,
    form: Result<Form, OAuthError>,
) -> Result<Response, OAuthError> {
    let form = form?;
    let now = state.clock.now();
    let client = client_auth::authenticate(&state, peer, &headers, &form).await?;
    let response = match form.require("grant_type")? {
        CIBA_GRANT => ciba(&state, &client, form.require("auth_req_id")?, now).await?,
        "client_credentials" => {
            tokens::for_client(&state, &client, now)?
                .store(&state)
                .await?
        }
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type must be urn:openid:params:grant-type:ciba or client_credentials.",
            ));
        }
    };
    let mut response = Json(response).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// One poll: decide with [`poll::decide`], write the new state only if nobody changed the
/// request in between, and retry from a fresh read if somebody did.
async fn ciba(
    state: &AppState,
    client: &Client,
    auth_req_id: &str,
    now: Timestamp,
) -> Result<tokens::TokenResponse, OAuthError> {
    let id_hash = state.hash_key.hash(Purpose::AuthReqId, auth_req_id);
    let invalid = || OAuthError::invalid_grant("The auth_req_id is not valid for this client.");
    for _attempt in 0..8 {
        let request = state
            .store
            .backchannel(&id_hash)
            .await?
            .ok_or_else(invalid)?;
        if request.client_id != client.id {
            return Err(invalid());
        }
        let current = poll_state(&request)?;
        let (mut outcome, mut next) = poll::decide(current, now);
        let user = state.store.user(&request.user_id).await?;
        let user = match (outcome, user) {
            (Outcome::Issue, Some(user)) if user.is_active() => Some(user),
            (Outcome::Issue, _) => {
                // The account was disabled (or removed) after the request: no tokens.
                outcome = Outcome::Refuse(ErrorCode::AccessDenied);
                next = PollState {
                    status: Status::Denied,
                    ..current
                };
                None
            }
            (_, user) => user,
        };
        let written = Backchannel {
            status: next.status.as_str().to_owned(),
            interval_secs: i64::try_from(next.interval.as_secs()).unwrap_or(i64::MAX),
            last_poll_at: next.last_poll.map(|t| t.0),
            ..request.clone()
        };
        if let (Outcome::Issue, Some(user)) = (outcome, &user) {
            let authentication = Authentication {
                auth_time: request.auth_time.unwrap_or(now.unix_seconds()),
                amr: request
                    .amr
                    .as_deref()
                    .and_then(|amr| serde_json::from_str(amr).ok())
                    .unwrap_or_default(),
            };
            let issued = tokens::for_user(
                state,
                client,
                user,
                &request.scope,
                &authentication,
                tokens::Origin::Ciba,
                now,
            )?;
            // Spending the request and storing its tokens is one transaction.
            if !state
                .store
                .redeem_backchannel(&written, request.version, &issued.records)
                .await?
            {
                continue;
            }
            tracing::info!(client_id = %client.id, user_id = %user.id, "backchannel request redeemed");
            return Ok(issued.response);
        }
        if next != current
            && !state
                .store
                .update_backchannel(&written, request.version)
                .await?
        {
            continue;
        }
        return Err(outcome.error(next.interval).unwrap_or_else(invalid));
    }
    Err(OAuthError::internal(
        "backchannel poll kept losing its compare-and-set",
    ))
}

fn poll_state(request: &Backchannel) -> Result<PollState, OAuthError> {
    Ok(PollState {
        status: Status::parse(&request.status)
            .ok_or_else(|| OAuthError::internal(format!("unknown status {:?}", request.status)))?,
        expires_at: Timestamp(request.expires_at),
        interval: Duration::from_secs(u64::try_from(request.interval_secs).unwrap_or(5)),
        last_poll: request.last_poll_at.map(Timestamp),
    })
}
