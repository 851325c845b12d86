//! Customer one-time login, Mosaic's backend API: `POST /cis/v1/auth/otp/send` and
//! `POST /cis/v1/auth/otp/authenticate`, both with a client access token.
//!
//! Codes are six digits from the OS-seeded CSPRNG, stored as keyed hashes bound to the user and
//! client, valid for ten minutes, used once, and locked after five wrong attempts. Sending a new
//! code retires the earlier ones of the same binding.
//!
//! Two optional fields extend Mosaic's API (a client that does not send them gets Mosaic's
//! behaviour):
//! - `binding`: an opaque value the client chooses for what the code is sent for (the BFF sends
//!   one per code, tied to one approval session on one backchannel request). Its keyed hash is
//!   stored with the code, and `authenticate` finds the code only under the same `binding`: a
//!   code sent for one request never signs anyone in on another. Codes of different bindings do
//!   not retire each other, so a code someone else asks for does not void the customer's own.
//! - `purpose`: a short plain phrase the message names (`your call with Demo Bank`).
//!
//! Wrong codes are capped per code ([`MAX_ATTEMPTS`]) and per customer
//! (`wrong_codes_per_user`). The per-customer cap must not let a stranger lock the customer
//! out, so once it is reached a code still gets its first try (claimed atomically), and only
//! further tries on a code are refused: the customer's own fresh code still works, while a
//! guesser gets one try per code sent, and codes sent are capped per customer
//! (`codes_per_user`).

use std::time::Duration;

use axum::{Json, body::Bytes, extract::State, http::HeaderMap};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    audit::{self, Event, Kind},
    ciba::request,
    crypto::{Purpose, one_time_code},
    error::{ErrorCode, OAuthError},
    limits::{Limits, Subject},
    sender::Outgoing,
    store::{Client, NewOtp, User},
    tokens::{self, Authentication},
};

/// How long a code is valid.
pub const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Wrong attempts allowed per code.
pub const MAX_ATTEMPTS: i64 = 5;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum IdentifierType {
    Email,
    PhoneNumber,
    UserId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    channel: OtpChannel,
    identifier_type: IdentifierType,
    identifier: String,
    #[serde(default)]
    binding: Option<String>,
    #[serde(default)]
    purpose: Option<String>,
}

/// The longest `binding` accepted.
const MAX_BINDING: usize = 128;
/// The longest `purpose` accepted.
const MAX_PURPOSE: usize = 60;

/// A `binding`: 16 to 128 characters of `A-Za-z0-9._-`.
fn binding_ok(binding: &str) -> bool {
    (16..=MAX_BINDING).contains(&binding.len())
        && binding
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A `purpose`: plain words (letters, digits, spaces, `.,&'-`), no links, no markup.
fn purpose_ok(purpose: &str) -> bool {
    let trimmed = purpose.trim();
    !trimmed.is_empty()
        && purpose.chars().count() <= MAX_PURPOSE
        && purpose
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | ',' | '&' | '\'' | '-'))
        && !trimmed.contains("..")
        && !trimmed.to_ascii_lowercase().contains("www")
}

/// The keyed hash of a checked `binding`, or an `invalid_request`.
fn binding_hash(state: &AppState, binding: Option<&str>) -> Result<Option<Vec<u8>>, OAuthError> {
    binding
        .map(|binding| {
            if binding_ok(binding) {
                Ok(state
                    .hash_key
                    .hash(Purpose::OneTimeCode, &format!("binding:{binding}"))
                    .to_vec())
            } else {
                Err(OAuthError::invalid_request(
                    "binding must be 16 to 128 characters of A-Za-z0-9._-".to_owned(),
                ))
            }
        })
        .transpose()
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OtpChannel {
    Sms,
    Email,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthenticateRequest {
    identifier_type: IdentifierType,
    identifier: String,
    passcode: String,
    #[serde(default)]
    binding: Option<String>,
}

/// The calling client (the one its client access token speaks for) and the JSON it sent, which
/// must be of the `shape` the refusal names.
pub(super) async fn call<T: for<'de> Deserialize<'de>>(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    shape: &str,
) -> Result<(Client, T), OAuthError> {
    let client = tokens::calling_client(state, headers).await?;
    let request = serde_json::from_slice(body)
        .map_err(|_| OAuthError::invalid_request(format!("Send JSON {shape}.")))?;
    Ok((client, request))
}

/// The active customer of `client`'s application that `identifier` names.
pub(super) async fn find_customer(
    state: &AppState,
    client: &Client,
    kind: &IdentifierType,
    identifier: &str,
) -> Result<User, OAuthError> {
    let hint = match kind {
        IdentifierType::Email => request::hint(identifier, request::HintType::Email)?,
        IdentifierType::PhoneNumber => request::hint(identifier, request::HintType::Phone)?,
        IdentifierType::UserId => request::hint(identifier, request::HintType::UserId)?,
    };
    state
        .store
        .customer_by_hint(&client.app_id, &hint)
        .await?
        .filter(User::is_active)
        .ok_or_else(|| {
            OAuthError::new(
                ErrorCode::UnknownUserId,
                "No active user matches the identifier.",
            )
        })
}

/// Signs `user` in for `client`, authenticated by `amr`: issues and stores their tokens,
/// audits the sign-in (its detail: `how`), and answers the tokens as Mosaic's sign-in calls do.
pub(super) async fn signed_in(
    state: &AppState,
    client: &Client,
    user: &User,
    amr: Vec<String>,
    how: &str,
    now: crate::clock::Timestamp,
) -> Result<serde_json::Map<String, Value>, OAuthError> {
    let authentication = Authentication {
        auth_time: now.unix_seconds(),
        amr,
    };
    let issued = tokens::for_user(
        state,
        client,
        user,
        &tokens::UserGrant {
            scope: "openid",
            authentication: &authentication,
            origin: tokens::Origin::Login,
            nonce: None,
            grant_id: None,
        },
        now,
    )?
    .store(state)
    .await?;
    audit::record(
        state,
        Event {
            user_id: Some(&user.id),
            detail: Some(how),
            ..audit::about(Kind::CustomerSignedIn, client)
        },
    )
    .await;
    let mut answer = serde_json::Map::new();
    answer.insert("access_token".to_owned(), json!(issued.access_token));
    answer.insert("id_token".to_owned(), json!(issued.id_token));
    answer.insert("token_type".to_owned(), json!(issued.token_type));
    answer.insert("expires_in".to_owned(), json!(issued.expires_in));
    Ok(answer)
}

/// Sends a one-time code to the user's verified phone or email.
pub async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        let shape = "{\"channel\", \"identifier_type\", \"identifier\"}";
        let (client, request): (_, SendRequest) = call(&state, &headers, &body, shape).await?;
        let binding_hash = binding_hash(&state, request.binding.as_deref())?;
        if request.purpose.as_deref().is_some_and(|p| !purpose_ok(p)) {
            return Err(OAuthError::invalid_request(
                "purpose must be a short plain phrase.".to_owned(),
            ));
        }
        let user = find_customer(
            &state,
            &client,
            &request.identifier_type,
            &request.identifier,
        )
        .await?;
        let (channel, to) = match request.channel {
            OtpChannel::Sms => ("sms", user.phone.clone().filter(|_| user.phone_verified)),
            OtpChannel::Email => ("email", user.email.clone().filter(|_| user.email_verified)),
        };
        let to = to.ok_or_else(|| {
            OAuthError::invalid_request(format!(
                "The user has no verified {} to send a code to.",
                if channel == "sms" {
                    "phone number"
                } else {
                    "email address"
                }
            ))
        })?;
        let now = state.clock.now();
        state
            .limiter
            .hit(|l| l.codes_per_user, Subject::User(&user.id), now)
            .await?;
        if channel == "sms" {
            state
                .limiter
                .hit(|l| l.sms_per_number, Subject::Number(&to), now)
                .await?;
        }
        let code = one_time_code();
        let code_hash = state.hash_key.hash(
            Purpose::OneTimeCode,
            &format!("{}:{}", user.id, code.expose()),
        );
        let id = state
            .store
            .insert_otp(&NewOtp {
                client_id: &client.id,
                user_id: &user.id,
                channel,
                code_hash: &code_hash,
                binding_hash: binding_hash.as_deref(),
                created_at: now.0,
                expires_at: now.plus(CODE_LIFETIME).0,
            })
            .await?;
        let message = Outgoing {
            channel,
            to,
            subject: (channel == "email")
                .then(|| format!("{}: your sign-in code", client.app_name)),
            body: match request.purpose.as_deref().map(str::trim) {
                Some(purpose) => format!(
                    "{}: your code is {}, for {purpose}. It expires in 10 minutes. Never share it.",
                    client.app_name,
                    code.expose()
                ),
                None => format!(
                    "{}: your code is {}. It expires in 10 minutes. Never share it.",
                    client.app_name,
                    code.expose()
                ),
            },
            link: None,
        };
        // What the audit says of this code: sent or not, to whom, by which channel.
        let about_code = |kind| Event {
            user_id: Some(&user.id),
            detail: Some(channel),
            ..audit::about(kind, &client)
        };
        if let Err(error) = state.deliver(&message).await {
            state.store.delete_otp(id).await?;
            tracing::warn!(%error, channel, "one-time code not delivered");
            audit::record(&state, about_code(Kind::CodeUndelivered)).await;
            return Err(OAuthError::new(
                ErrorCode::DeliveryFailed,
                "The code could not be sent. Try again.",
            ));
        }
        audit::record(&state, about_code(Kind::CodeSent)).await;
        Ok(Json(json!({ "message": "A code was sent." })))
    }
    .await;
    result.map_err(OAuthError::mosaic)
}

/// Checks a one-time code and, if right, signs the user in (returns their tokens).
pub async fn authenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        let shape = "{\"identifier_type\", \"identifier\", \"passcode\"}";
        let (client, request): (_, AuthenticateRequest) =
            call(&state, &headers, &body, shape).await?;
        let user = find_customer(
            &state,
            &client,
            &request.identifier_type,
            &request.identifier,
        )
        .await?;
        let binding_hash = binding_hash(&state, request.binding.as_deref())?;
        let now = state.clock.now();
        let wrong_codes = |l: &Limits| l.wrong_codes_per_user;
        // Every attempt counts before the code is compared, so parallel guesses all count;
        // attempts that guessed nothing (no code, a stale one) or guessed right give it back.
        let over_cap = match state
            .limiter
            .hit_tentatively(wrong_codes, Subject::User(&user.id), now)
            .await
        {
            Ok(()) => None,
            Err(error) if error.retry_after.is_some() => Some(error),
            Err(error) => return Err(error),
        };
        let not_a_guess = || {
            state
                .limiter
                .refund(wrong_codes, Subject::User(&user.id), now)
        };
        let refused = |text: &str| OAuthError::invalid_grant(text.to_owned());
        let Some(otp) = state
            .store
            .current_otp(&user.id, &client.id, binding_hash.as_deref())
            .await?
        else {
            not_a_guess().await?;
            return Err(refused("There is no code to check: ask for a new one."));
        };
        if otp.expires_at <= now.0 {
            not_a_guess().await?;
            return Err(refused("The code has expired: ask for a new one."));
        }
        if otp.attempts >= MAX_ATTEMPTS {
            not_a_guess().await?;
            return Err(refused("Too many wrong codes: ask for a new one."));
        }
        // Past the customer's cap (someone has been guessing), a code keeps its first try, so
        // the customer's own fresh code still works; the try is claimed on the code first, so
        // parallel tries cannot all be first. Further tries on that code are refused.
        let first_try_claimed = match over_cap {
            Some(limited) => {
                if otp.attempts > 0 || !state.store.count_otp_attempt(otp.id, 1).await? {
                    state
                        .metrics
                        .refused(state.limiter.limits().wrong_codes_per_user.name);
                    return Err(limited);
                }
                true
            }
            None => false,
        };
        let right = state.hash_key.verify(
            Purpose::OneTimeCode,
            &format!("{}:{}", user.id, request.passcode.trim()),
            &otp.code_hash,
        );
        if !right {
            audit::record(
                &state,
                Event {
                    user_id: Some(&user.id),
                    ..audit::about(Kind::CodeRejected, &client)
                },
            )
            .await;
            let counted =
                first_try_claimed || state.store.count_otp_attempt(otp.id, MAX_ATTEMPTS).await?;
            let left = if first_try_claimed {
                0
            } else {
                MAX_ATTEMPTS - otp.attempts - 1
            };
            return Err(if counted && left > 0 {
                refused(&format!("Wrong code. {left} attempts left."))
            } else {
                refused("Too many wrong codes: ask for a new one.")
            });
        }
        if !state.store.consume_otp(otp.id, MAX_ATTEMPTS, now).await? {
            return Err(refused("The code was already used: ask for a new one."));
        }
        not_a_guess().await?;
        let amr = vec!["otp".to_owned(), otp.channel.clone()];
        let mut answer = signed_in(&state, &client, &user, amr, &otp.channel, now).await?;
        answer.insert(
            "session_id".to_owned(),
            Value::from(infra::secret::random_token().expose()),
        );
        Ok(Json(Value::Object(answer)))
    }
    .await;
    state.metrics.sign_in(match &result {
        Ok(_) => "signed_in",
        Err(error) if error.code == ErrorCode::RateLimited => "rate_limited",
        Err(error) if error.code == ErrorCode::InvalidGrant => "wrong_code",
        Err(_) => "refused",
    });
    result.map_err(OAuthError::mosaic)
}
