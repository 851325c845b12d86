//! `POST /oidc/token` and `POST /cis/oidc/token`: the CIBA grant (CIBA Core §10), and client
//! credentials (RFC 6749 §4.4) for the management and one-time-login APIs.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::{authorize, client_auth, form::Form};
use crate::{
    AppState,
    audit::{self, Event, Kind},
    ciba::poll::{self, Outcome, PollState, Status},
    clock::Timestamp,
    crypto::Purpose,
    error::{ErrorCode, OAuthError},
    store::{Backchannel, Client, CodeUse},
    tokens::{self, Authentication},
};

/// The CIBA grant type (CIBA Core §10.1).
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// The token endpoint.
pub async fn token(
    State(state): State<AppState>,
    client_auth::ClientForm { client, form }: client_auth::ClientForm,
) -> Result<Response, OAuthError> {
    let now = state.clock.now();
    let response = match form.require("grant_type")? {
        CIBA_GRANT => ciba(&state, &client, form.require("auth_req_id")?, now).await?,
        "authorization_code" => authorization_code(&state, &client, &form, now).await?,
        "refresh_token" => refresh(&state, &client, &form, now).await?,
        "client_credentials" => {
            tokens::for_client(&state, &client, now)?
                .store(&state)
                .await?
        }
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type must be urn:openid:params:grant-type:ciba, authorization_code, \
                 refresh_token or client_credentials.",
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
        if current.status == Status::Pending {
            // Most polls: paced in memory, nothing written (see `ciba::pacing`).
            let (outcome, next) = state.pacing.poll(&id_hash, current, now);
            return Err(outcome.error(next.interval).unwrap_or_else(invalid));
        }
        state.pacing.forget(&id_hash);
        let (mut outcome, mut next) = poll::decide(current, now);
        let user = match outcome {
            Outcome::Issue => state.store.user(&request.user_id).await?,
            Outcome::Refuse(_) => None,
        };
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
                &tokens::UserGrant {
                    scope: &request.scope,
                    authentication: &authentication,
                    origin: tokens::Origin::Ciba,
                    nonce: None,
                    grant_id: None,
                },
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
            audit::record(
                state,
                Event {
                    user_id: Some(&user.id),
                    ..audit::about(Kind::BackchannelRedeemed, client)
                },
            )
            .await;
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

/// The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6). A code works
/// once; a second try revokes the tokens the first gave (RFC 6749 §4.1.2).
async fn authorization_code(
    state: &AppState,
    client: &Client,
    form: &Form,
    now: Timestamp,
) -> Result<tokens::TokenResponse, OAuthError> {
    let code = form.require("code")?;
    let redirect_uri = form.require("redirect_uri")?;
    let verifier = form.require("code_verifier")?;
    let hash = state.hash_key.hash(Purpose::AuthorizationCode, code);
    let invalid = || OAuthError::invalid_grant("The code is not valid for this client.");
    let stored = match state.store.use_code(&hash, &client.id, now).await? {
        CodeUse::Fresh(stored) => stored,
        CodeUse::Replayed(stored) => {
            let revoked = state.store.revoke_grant(&stored.grant_id, now).await?;
            tracing::warn!(client_id = %client.id, revoked, "an authorization code was used twice: its tokens are revoked");
            audit::record(
                state,
                Event {
                    user_id: Some(&stored.user_id),
                    ..audit::about(Kind::CodeReplayed, client)
                },
            )
            .await;
            return Err(invalid());
        }
        CodeUse::Unknown => return Err(invalid()),
    };
    if stored.expires_at <= now.0 {
        return Err(invalid());
    }
    if stored.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request's.",
        ));
    }
    if !authorize::pkce_matches(verifier, &stored.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge.",
        ));
    }
    let user = state
        .store
        .user(&stored.user_id)
        .await?
        .filter(|user| user.is_active())
        .ok_or_else(invalid)?;
    let authentication = Authentication {
        auth_time: stored.auth_time,
        amr: vec!["pwd".to_owned()],
    };
    tokens::for_user(
        state,
        client,
        &user,
        &tokens::UserGrant {
            scope: &stored.scope,
            authentication: &authentication,
            origin: tokens::Origin::Login,
            nonce: stored.nonce.as_deref(),
            grant_id: Some(&stored.grant_id),
        },
        now,
    )?
    .store(state)
    .await
}

/// The refresh token grant (RFC 6749 §6), rotating: each refresh token works once. Using a
/// spent one again means it leaked, so the whole grant is revoked (RFC 9700 §4.14.2).
async fn refresh(
    state: &AppState,
    client: &Client,
    form: &Form,
    now: Timestamp,
) -> Result<tokens::TokenResponse, OAuthError> {
    let presented = form.require("refresh_token")?;
    let hash = state.hash_key.hash(Purpose::Token, presented);
    let invalid = || OAuthError::invalid_grant("The refresh token is not valid for this client.");
    let record = state.store.token(&hash).await?.ok_or_else(invalid)?;
    if record.kind != "refresh" || record.client_id != client.id {
        return Err(invalid());
    }
    if record.revoked_at.is_some() {
        return Err(refresh_replayed(state, client, &record, now).await);
    }
    if record.expires_at <= now.0 {
        return Err(invalid());
    }
    let user_id = record.user_id.as_deref().ok_or_else(invalid)?;
    let Some(user) = state
        .store
        .user(user_id)
        .await?
        .filter(|user| user.is_active())
    else {
        state.store.revoke_grant(&record.grant_id, now).await?;
        return Err(invalid());
    };
    // A narrower scope may be asked for, never a wider one (RFC 6749 §6).
    let granted: Vec<&str> = record.scope.split(' ').collect();
    let scope = match form.get("scope") {
        None => record.scope.clone(),
        Some(asked) => {
            let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
            if asked.is_empty() || asked.iter().any(|s| !granted.contains(s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "A refresh may only narrow the granted scope.",
                ));
            }
            asked.join(" ")
        }
    };
    let authentication = Authentication {
        auth_time: record.auth_time.unwrap_or(now.unix_seconds()),
        amr: record
            .amr
            .as_deref()
            .and_then(|amr| serde_json::from_str(amr).ok())
            .unwrap_or_default(),
    };
    let origin = match record.origin.as_str() {
        "ciba" => tokens::Origin::Ciba,
        _ => tokens::Origin::Login,
    };
    // The new refresh token keeps the old one's expiry: rotation does not extend the grant.
    let mut issued = tokens::for_user(
        state,
        client,
        &user,
        &tokens::UserGrant {
            scope: &scope,
            authentication: &authentication,
            origin,
            nonce: None,
            grant_id: Some(&record.grant_id),
        },
        now,
    )?;
    if !scope.split(' ').any(|s| s == "offline_access") {
        // Narrowed without offline_access: the grant ends with this response's access token.
        issued.response.refresh_token = None;
        issued.records.retain(|r| r.kind != "refresh");
    }
    for token in &mut issued.records {
        if token.kind == "refresh" {
            token.expires_at = record.expires_at;
        }
    }
    // Spending the old token and storing the new ones is one transaction; losing it means a
    // concurrent refresh spent the token first (or the grant was revoked meanwhile).
    if !state
        .store
        .rotate_refresh(&hash, now, &issued.records)
        .await?
    {
        return Err(refresh_replayed(state, client, &record, now).await);
    }
    Ok(issued.response)
}

/// A spent refresh token came back: it leaked, so its whole grant is revoked.
async fn refresh_replayed(
    state: &AppState,
    client: &Client,
    record: &crate::store::TokenRecord,
    now: Timestamp,
) -> OAuthError {
    match state.store.revoke_grant(&record.grant_id, now).await {
        Ok(revoked) => {
            tracing::warn!(client_id = %client.id, revoked, "a spent refresh token was used again: its grant is revoked");
        }
        Err(error) => return error.into(),
    }
    audit::record(
        state,
        Event {
            user_id: record.user_id.as_deref(),
            ..audit::about(Kind::RefreshReplayed, client)
        },
    )
    .await;
    OAuthError::invalid_grant("The refresh token is not valid for this client.")
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
