//! `POST /cis/oidc/backchannel` (CIBA Core §7, Mosaic's Step 3) and
//! `POST /cis/auth/backchannel/complete` (Mosaic's Step 1 callback).

use axum::{Json, body::Bytes, extract::State, http::HeaderMap};
use infra::{
    retry::{Attempt, compare_and_set},
    secret::random_token,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{client_auth, form::Form};
use crate::{
    AppState,
    audit::{self, Event, Kind},
    ciba::{
        poll::{DEFAULT_INTERVAL, Status},
        request::{self, Channel, RawRequest},
    },
    crypto::Purpose,
    error::{ErrorCode, OAuthError},
    limits::Subject,
    sender::{self, Outgoing},
    store::Backchannel,
    tokens,
};

/// Starts a backchannel authentication request.
pub async fn backchannel(
    State(state): State<AppState>,
    peer: client_auth::Peer,
    headers: HeaderMap,
    form: Result<Form, OAuthError>,
) -> Result<Json<Value>, OAuthError> {
    let form = form.map_err(OAuthError::mosaic)?;
    start(&state, peer, &headers, form)
        .await
        .map_err(OAuthError::mosaic)
}

async fn start(
    state: &AppState,
    peer: client_auth::Peer,
    headers: &HeaderMap,
    form: Form,
) -> Result<Json<Value>, OAuthError> {
    let began = tokio::time::Instant::now();
    let now = state.clock.now();
    let client = client_auth::authenticate(state, peer, headers, &form).await?;
    state
        .limiter
        .hit(
            |l| l.backchannel_per_client,
            Subject::Client(&client.id),
            now,
        )
        .await?;
    let login_uri = match (&client.ciba_enabled, &client.login_uri) {
        (true, Some(uri)) => uri.clone(),
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "CIBA is not enabled for this client.",
            ));
        }
    };
    let valid = request::validate(&RawRequest::from(&form))?;
    let user = state
        .store
        .customer_by_hint(&client.app_id, &valid.hint)
        .await?
        .filter(|user| user.is_active())
        .ok_or_else(|| {
            OAuthError::new(
                ErrorCode::UnknownUserId,
                "No active user matches login_hint.",
            )
        })?;
    state
        .limiter
        .hit(|l| l.backchannel_per_user, Subject::User(&user.id), now)
        .await?;
    let recipient = match valid.channel {
        Channel::Sms => Some(
            user.phone
                .clone()
                .filter(|_| user.phone_verified)
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "The user has no verified phone number: choose another channel.",
                    )
                })?,
        ),
        Channel::Email => Some(
            user.email
                .clone()
                .filter(|_| user.email_verified)
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "The user has no verified email address: choose another channel.",
                    )
                })?,
        ),
        Channel::Link => None,
    };
    if let (Channel::Sms, Some(number)) = (valid.channel, &recipient) {
        state
            .limiter
            .hit(|l| l.sms_per_number, Subject::Number(number), now)
            .await?;
    }

    let auth_req_id = random_token();
    let id_hash = state
        .hash_key
        .hash(Purpose::AuthReqId, auth_req_id.expose())
        .to_vec();
    let mut query = vec![("auth_req_id", auth_req_id.expose())];
    if let Some(message) = &valid.binding_message {
        query.push(("binding_message", message.as_str()));
    }
    let query = serde_urlencoded::to_string(&query).map_err(OAuthError::internal)?;
    let separator = if login_uri.contains('?') { '&' } else { '?' };
    let link = format!("{login_uri}{separator}{query}");
    let expires_at = now.plus(valid.expiry);
    let record = Backchannel {
        id_hash: id_hash.clone(),
        client_id: client.id.clone(),
        user_id: user.id.clone(),
        scope: valid.scopes.join(" "),
        binding_message: valid
            .binding_message
            .as_ref()
            .map(|m| m.as_str().to_owned()),
        channel: valid.channel.as_str().to_owned(),
        status: Status::Pending.as_str().to_owned(),
        created_at: now.0,
        expires_at: expires_at.0,
        interval_secs: i64::try_from(DEFAULT_INTERVAL.as_secs()).unwrap_or(5),
        last_poll_at: None,
        decided_at: None,
        auth_time: None,
        amr: None,
        version: 0,
    };
    let sends = matches!(valid.channel, Channel::Sms | Channel::Email);
    if sends && began.elapsed() > state.start_budget {
        // Sending now could answer after the client stopped waiting: send nothing instead.
        tracing::warn!(client_id = %client.id, "backchannel request too slow to send; nothing sent");
        return Err(OAuthError::new(
            ErrorCode::DeliveryFailed,
            "The message could not be sent in time; no request was started. Try again.",
        ));
    }
    state.store.insert_backchannel(&record).await?;

    if let (Some(to), channel @ (Channel::Sms | Channel::Email)) = (recipient, valid.channel) {
        let message = Outgoing {
            channel: channel.as_str(),
            to,
            subject: (channel == Channel::Email)
                .then(|| format!("{}: confirm it's you", client.app_name)),
            body: format!("{}: {} {link}", client.app_name, valid.custom_message),
            link: Some(link.clone()),
        };
        // The request exists from here on, so a customer who opens the link at once finds
        // it. If the message is not handed over within the deadline, the request is deleted
        // again: its link, its polls and its completion are all refused, and the client hears
        // `delivery_failed`. That runs in a task of its own, so a client that hangs up early
        // cannot leave a request behind whose message failed.
        let task_state = state.clone();
        let task_client = client.clone();
        let user_id = user.id.clone();
        let undo = tokio::spawn(async move {
            let sent =
                sender::send_within(&*task_state.sender, &message, task_state.send_deadline).await;
            let Err(error) = sent else {
                return Ok(());
            };
            // No message, no request: the client may simply try again.
            task_state.store.delete_backchannel(&id_hash).await?;
            tracing::warn!(%error, client_id = %task_client.id, channel = channel.as_str(), "backchannel message not delivered");
            audit::record(
                &task_state,
                Event {
                    user_id: Some(&user_id),
                    detail: Some(channel.as_str()),
                    ..audit::about(Kind::BackchannelUndelivered, &task_client)
                },
            )
            .await;
            Err(OAuthError::new(
                ErrorCode::DeliveryFailed,
                "The message could not be sent; no request was started. Try again.",
            ))
        });
        undo.await.map_err(OAuthError::internal)??;
    }
    audit::record(
        state,
        Event {
            user_id: Some(&user.id),
            detail: Some(valid.channel.as_str()),
            ..audit::about(Kind::BackchannelStarted, &client)
        },
    )
    .await;

    let mut body = json!({
        "auth_req_id": auth_req_id.expose(),
        "expires_in": valid.expiry.as_secs(),
        "interval": DEFAULT_INTERVAL.as_secs(),
    });
    if valid.channel == Channel::Link {
        body["link"] = Value::String(link);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    auth_req_id: String,
    approved: bool,
}

/// Records the user's decision, authorised by the user's own access token.
pub async fn complete(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    decide(&state, &headers, &body).await.map_err(|error| {
        // CIBA Core §13 answers access_denied with 403 on its own endpoints.
        let error = if error.code == ErrorCode::AccessDenied {
            error.with_status(axum::http::StatusCode::FORBIDDEN)
        } else {
            error
        };
        error.mosaic()
    })
}

async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, OAuthError> {
    let now = state.clock.now();
    let token = tokens::bearer(state, headers, now).await?;
    let decision: Decision = serde_json::from_slice(body).map_err(|_| {
        OAuthError::invalid_request(
            "Send JSON {\"auth_req_id\": \"…\", \"approved\": true or false}.",
        )
    })?;
    let Some(user_id) = token.user_id.clone() else {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "Use the user's access token, not a client token.",
        ));
    };
    let id_hash = state
        .hash_key
        .hash(Purpose::AuthReqId, &decision.auth_req_id);
    let not_found = || OAuthError::new(ErrorCode::NotFound, "No such backchannel request.");
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
    let user = state
        .store
        .user(&user_id)
        .await?
        .filter(|user| user.is_active());
    if user.is_none() {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "The account is not active.",
        ));
    }
    let status = if decision.approved {
        Status::Approved
    } else {
        Status::Denied
    };
    // A poll may change the request between the read and the write; read again and retry
    // while it is still pending. Another decision ends it.
    let mut read = Some(request);
    let decided = compare_and_set(16, || {
        let known = read.take();
        let (id_hash, token) = (&id_hash, &token);
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
    if decided.is_none() {
        return Err(OAuthError::internal(
            "backchannel decision kept losing its compare-and-set",
        ));
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
    Ok(Json(json!({ "status": status.as_str() })))
}

/// The backchannel request's parameters as a form carries them (the endpoint and the fuzz
/// targets read them alike).
impl<'a> From<&'a Form> for RawRequest<'a> {
    fn from(form: &'a Form) -> Self {
        Self {
            scope: form.get("scope"),
            login_hint: form.get("login_hint"),
            login_hint_token: form.get("login_hint_token"),
            id_token_hint: form.get("id_token_hint"),
            binding_message: form.get("binding_message"),
            requested_expiry: form.get("requested_expiry"),
            request_context: form.get("request_context"),
            user_code: form.get("user_code"),
        }
    }
}
