//! The customer's decision on a backchannel request (Mosaic's Step 1 callback), authorised by
//! the customer's own access token: who may decide, then a compare-and-set write that only a
//! pending, unexpired request takes, then the audit line. A function of the state, the
//! verified token, the decision and `now`.

use infra::retry::{Attempt, compare_and_set};

use super::poll::Status;
use crate::{
    AppState,
    audit::{self, Event, Kind},
    clock::Timestamp,
    crypto::Purpose,
    error::{ErrorCode, OAuthError},
    store::{Backchannel, TokenRecord},
};

/// Records the decision (`approved` or not) of the customer whose access token is `token` on
/// the request `auth_req_id`, and returns the request's new status.
pub async fn decide(
    state: &AppState,
    token: &TokenRecord,
    auth_req_id: &str,
    approved: bool,
    now: Timestamp,
) -> Result<Status, OAuthError> {
    let Some(user_id) = token.user_id.clone() else {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "Use the user's access token, not a client token.",
        ));
    };
    let id_hash = state.hash_key.hash(Purpose::AuthReqId, auth_req_id);
    let request = state
        .store
        .backchannel(&id_hash)
        .await?
        .ok_or_else(not_found)?;
    let (token_client, request_client) = (
        state.store.client(&token.client_id).await?,
        state.store.client(&request.client_id).await?,
    );
    let request_client = match (&token_client, request_client) {
        (Some(a), Some(b)) if a.app_id == b.app_id => b,
        _ => return Err(not_found()),
    };
    let refused = |why: &'static str| Event {
        user_id: Some(&user_id),
        detail: Some(why),
        ..audit::about(Kind::DecisionRefused, &request_client)
    };
    // Only the customer's own sign-in, made for this request, may decide it: not a token the
    // client got by redeeming an earlier request, and not a sign-in from before this request.
    let signed_in_for_this = token.origin == "login"
        && token.client_id == request.client_id
        && token
            .auth_time
            .is_some_and(|seconds| seconds >= request.created_at.div_euclid(1000));
    if !signed_in_for_this {
        audit::record(state, refused("not a sign-in made for this request")).await;
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "Sign the customer in again for this request; the token given may not decide it.",
        ));
    }
    if request.user_id != user_id {
        audit::record(state, refused("another customer's request")).await;
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "This request is for someone else; it was not changed.",
        ));
    }
    let active = state
        .store
        .user(&user_id)
        .await?
        .is_some_and(|user| user.is_active());
    if !active {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "The account is not active.",
        ));
    }
    let status = if approved {
        Status::Approved
    } else {
        Status::Denied
    };
    let sealed_token = request.notification_token.clone();
    write(state, &id_hash, request, token, status, now).await?;
    state
        .metrics
        .decision(if approved { "approved" } else { "denied" });
    // A ping client hears of the decision at the endpoint it registered (CIBA Core §10.2).
    if let (Some(endpoint), Some(sealed)) = (request_client.ping_endpoint(), sealed_token) {
        match state.hash_key.open_for_request(auth_req_id, &sealed) {
            Some(token) => {
                state
                    .pinger
                    .notify(endpoint, auth_req_id, infra::secret::Secret::new(token))
            }
            None => tracing::warn!(
                client_id = %request_client.id,
                "the request's notification token does not open; the client was not pinged"
            ),
        }
    }
    audit::record(
        state,
        Event {
            user_id: Some(&user_id),
            detail: Some(status.as_str()),
            ..audit::about(Kind::BackchannelDecided, &request_client)
        },
    )
    .await;
    Ok(status)
}

fn not_found() -> OAuthError {
    OAuthError::new(ErrorCode::NotFound, "No such backchannel request.")
}

/// Writes `status` onto the request, first read as `request`. A poll may change the request
/// between the read and the write; read again and retry while it is still pending. Another
/// decision ends it.
async fn write(
    state: &AppState,
    id_hash: &[u8],
    request: Backchannel,
    token: &TokenRecord,
    status: Status,
    now: Timestamp,
) -> Result<(), OAuthError> {
    let mut read = Some(request);
    let decided = compare_and_set(16, || {
        let known = read.take();
        async move {
            let request = match known {
                Some(request) => request,
                None => state
                    .store
                    .backchannel(id_hash)
                    .await?
                    .ok_or_else(not_found)?,
            };
            if now.0 >= request.expires_at {
                return Err(OAuthError::new(
                    ErrorCode::ExpiredToken,
                    "The request has expired; it was not changed.",
                ));
            }
            if request.status != Status::Pending.as_str() {
                return Err(OAuthError::new(
                    ErrorCode::Conflict,
                    "The request was already decided; it was not changed.",
                ));
            }
            let next = Backchannel {
                status: status.as_str().to_owned(),
                decided_at: Some(now.0),
                auth_time: token.auth_time,
                amr: token.amr.clone(),
                ..request.clone()
            };
            let written = state
                .store
                .update_backchannel(&next, request.version)
                .await?;
            Ok(Attempt::won(written, ()))
        }
    })
    .await?;
    decided
        .ok_or_else(|| OAuthError::internal("backchannel decision kept losing its compare-and-set"))
}
