//! Starting a backchannel authentication request (CIBA Core §7, Mosaic's Step 3), once the
//! client is authenticated and the request validated: find the customer, apply the per-user and
//! per-number limits, store the request, hand the message to the sender (or undo the request),
//! and audit it. A function of the state, the validated input and `now`.

use infra::secret::{Secret, random_token};
use tokio::time::Instant;

use super::{
    ping,
    poll::{DEFAULT_INTERVAL, Status},
    request::{Channel, ValidRequest},
};
use crate::{
    AppState,
    audit::{self, Event, Kind},
    clock::Timestamp,
    crypto::Purpose,
    error::{ErrorCode, OAuthError},
    limits::Subject,
    sender::Outgoing,
    store::{Backchannel, Client, User},
};

/// A started request, as the client is told of it.
pub struct Started {
    /// The request's id, for the client's polls.
    pub auth_req_id: Secret,
    /// How long the request lives.
    pub expires_in: std::time::Duration,
    /// The link to give the customer by hand (`Channel::Link` only: the other channels send it).
    pub link: Option<String>,
}

impl std::fmt::Debug for Started {
    /// The id and the link (which holds it) are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Admits `client` to the backchannel at `now` (its rate limit, then CIBA enabled for it) and
/// returns where its links point.
pub async fn admit(
    state: &AppState,
    client: &Client,
    now: Timestamp,
) -> Result<String, OAuthError> {
    state
        .limiter
        .hit(
            |l| l.backchannel_per_client,
            Subject::Client(&client.id),
            now,
        )
        .await?;
    match (&client.ciba_enabled, &client.login_uri) {
        (true, Some(uri)) => Ok(uri.clone()),
        _ => Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "CIBA is not enabled for this client.",
        )),
    }
}

/// Starts `valid` for `client`, whose links point at `login_uri`. `began` is when the request
/// came in: a message is sent only while the start budget lasts. `notification_token` is a ping
/// client's `client_notification_token` ([`notification_token`]).
pub async fn start(
    state: &AppState,
    client: &Client,
    login_uri: &str,
    valid: &ValidRequest,
    notification_token: Option<&str>,
    now: Timestamp,
    began: Instant,
) -> Result<Started, OAuthError> {
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
    let recipient = recipient(&user, valid.channel)?;
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
    let link = link(login_uri, auth_req_id.expose(), valid)?;
    let mut record = record(id_hash.clone(), client, &user, valid, now);
    if let Some(token) = notification_token {
        let sealed = state
            .hash_key
            .seal_for_request(auth_req_id.expose(), token)
            .ok_or_else(|| OAuthError::internal("the notification token could not be sealed"))?;
        record.notification_token = Some(sealed);
    }
    if recipient.is_some() && began.elapsed() > state.start_budget {
        // Sending now could answer after the client stopped waiting: send nothing instead.
        tracing::warn!(client_id = %client.id, "backchannel request too slow to send; nothing sent");
        return Err(OAuthError::new(
            ErrorCode::DeliveryFailed,
            "The message could not be sent in time; no request was started. Try again.",
        ));
    }
    state.store.insert_backchannel(&record).await?;
    if let Some(to) = recipient {
        deliver(state, client, &user, valid, to, &link, id_hash).await?;
    }
    audit::record(
        state,
        Event {
            user_id: Some(&user.id),
            detail: Some(valid.channel.as_str()),
            ..audit::about(Kind::BackchannelStarted, client)
        },
    )
    .await;
    Ok(Started {
        auth_req_id,
        expires_in: valid.expiry,
        link: (valid.channel == Channel::Link).then_some(link),
    })
}

/// Where the message goes: the user's verified number or address (`None` for a link the client
/// hands over itself).
fn recipient(user: &User, channel: Channel) -> Result<Option<String>, OAuthError> {
    let (value, verified, missing) = match channel {
        Channel::Sms => (
            &user.phone,
            user.phone_verified,
            "The user has no verified phone number: choose another channel.",
        ),
        Channel::Email => (
            &user.email,
            user.email_verified,
            "The user has no verified email address: choose another channel.",
        ),
        Channel::Link => return Ok(None),
    };
    value
        .clone()
        .filter(|_| verified)
        .map(Some)
        .ok_or_else(|| OAuthError::invalid_request(missing))
}

/// The customer's link: `login_uri` with the request's id and binding message added.
fn link(login_uri: &str, auth_req_id: &str, valid: &ValidRequest) -> Result<String, OAuthError> {
    let mut query = vec![("auth_req_id", auth_req_id)];
    if let Some(message) = &valid.binding_message {
        query.push(("binding_message", message.as_str()));
    }
    let query = serde_urlencoded::to_string(&query).map_err(OAuthError::internal)?;
    let separator = if login_uri.contains('?') { '&' } else { '?' };
    Ok(format!("{login_uri}{separator}{query}"))
}

/// The stored request, pending from `now`.
fn record(
    id_hash: Vec<u8>,
    client: &Client,
    user: &User,
    valid: &ValidRequest,
    now: Timestamp,
) -> Backchannel {
    Backchannel {
        id_hash,
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
        expires_at: now.plus(valid.expiry).0,
        interval_secs: i64::try_from(DEFAULT_INTERVAL.as_secs()).unwrap_or(5),
        last_poll_at: None,
        decided_at: None,
        auth_time: None,
        amr: None,
        version: 0,
        notification_token: None,
    }
}

/// The `client_notification_token` a request of `client` carries: required and checked for a
/// ping client ([`ping::token_ok`]); a poll client's is not used (`None`).
pub fn notification_token<'a>(
    client: &Client,
    token: Option<&'a str>,
) -> Result<Option<&'a str>, OAuthError> {
    if client.ping_endpoint().is_none() {
        return Ok(None);
    }
    match token {
        Some(token) if ping::token_ok(token) => Ok(Some(token)),
        _ => Err(OAuthError::invalid_request(ping::TOKEN_RULE)),
    }
}

/// Hands the message with `link` to the sender. The request exists from before this, so a
/// customer who opens the link at once finds it. If the message is not handed over within the
/// deadline, the request is deleted again: its link, its polls and its completion are all
/// refused, and the client hears `delivery_failed`. That runs in a task of its own, so a client
/// that hangs up early cannot leave a request behind whose message failed.
async fn deliver(
    state: &AppState,
    client: &Client,
    user: &User,
    valid: &ValidRequest,
    to: String,
    link: &str,
    id_hash: Vec<u8>,
) -> Result<(), OAuthError> {
    let channel = valid.channel;
    let message = Outgoing {
        channel: channel.as_str(),
        to,
        subject: (channel == Channel::Email)
            .then(|| format!("{}: confirm it's you", client.app_name)),
        body: format!("{}: {} {link}", client.app_name, valid.custom_message),
        link: Some(link.to_owned()),
    };
    let (state, client, user_id) = (state.clone(), client.clone(), user.id.clone());
    let undo = tokio::spawn(async move {
        let sent = state.deliver(&message).await;
        let Err(error) = sent else {
            return Ok(());
        };
        // No message, no request: the client may simply try again.
        state.store.delete_backchannel(&id_hash).await?;
        tracing::warn!(%error, client_id = %client.id, channel = channel.as_str(), "backchannel message not delivered");
        audit::record(
            &state,
            Event {
                user_id: Some(&user_id),
                detail: Some(channel.as_str()),
                ..audit::about(Kind::BackchannelUndelivered, &client)
            },
        )
        .await;
        Err(OAuthError::new(
            ErrorCode::DeliveryFailed,
            "The message could not be sent; no request was started. Try again.",
        ))
    });
    undo.await.map_err(OAuthError::internal)?
}
