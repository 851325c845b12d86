//! Customers' passkeys, a backend API in the style of Mosaic's (`/cis/v1/auth/webauthn/…`),
//! for the client that runs the approval page (the BFF). The browser talks only to that page;
//! the page's server calls these with its own tokens, and keeps the ceremony handles
//! server-side. See [`crate::passkeys`] for the rules.
//!
//! | call | bearer | body | answer |
//! |---|---|---|---|
//! | `POST …/registration/start` | the customer's access token (from a one-time-code sign-in) | `{}` | `{"ceremony_id", "expires_in", "options"}`: `options` is `navigator.credentials.create`'s argument |
//! | `POST …/registration/finish` | the same token | `{"ceremony_id", "credential"}` (the browser's `PublicKeyCredential` as JSON) | `{"credential_id"}` |
//! | `POST …/authentication/start` | a client access token | `{"identifier_type", "identifier"}` (as for a code) | `{"ceremony_id", "expires_in", "options"}` for `navigator.credentials.get`; `404` `not_found` if the customer has no passkey |
//! | `POST …/authentication/finish` | a client access token | `{"ceremony_id", "credential"}` | the customer's tokens, as a code sign-in answers, with `amr` `["hwk", "user"]` |
//!
//! Refusals are Mosaic-shaped errors: `400` for a body that cannot be read, `invalid_grant` for
//! a ceremony that is unknown, expired, used, of another client or customer, or an answer that
//! fails a check (origin, relying-party id, challenge, signature, user verification, user
//! handle, counter, a credential not the customer's). Nothing is stored half-way.

use axum::{Json, body::Bytes, extract::State, http::HeaderMap};
use serde::Deserialize;
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use super::otp::{IdentifierType, call, find_customer, signed_in};
use crate::{
    AppState,
    audit::{self, Event, Kind},
    error::{ErrorCode, OAuthError},
    passkeys::{CEREMONY_LIFETIME, MAX_PER_CUSTOMER, Passkeys},
    store::{Ceremony, Client, StoredPasskey, User},
    tokens,
};

const REGISTRATION: &str = "registration";
const AUTHENTICATION: &str = "authentication";
/// The longest ceremony handle looked up.
const MAX_HANDLE: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Finish<T> {
    ceremony_id: String,
    credential: T,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartSignIn {
    identifier_type: IdentifierType,
    identifier: String,
}

fn relying_party(state: &AppState) -> Result<&Passkeys, OAuthError> {
    state.passkeys.as_ref().ok_or_else(|| {
        OAuthError::new(
            ErrorCode::NotFound,
            "Passkeys are not configured on this provider.",
        )
    })
}

/// How recent the code sign-in behind a registration must be.
pub const FRESH_SIGN_IN: std::time::Duration = std::time::Duration::from_secs(600);

/// The customer and client behind a customer's access token from a recent one-time-code
/// sign-in. Nothing else registers a passkey: not a token a client got by redeeming a CIBA
/// request (it would let the client make itself a key and approve its own requests), not a
/// passkey sign-in's own token, not an old session.
async fn customer_of(state: &AppState, headers: &HeaderMap) -> Result<(User, Client), OAuthError> {
    let now = state.clock.now();
    let token = tokens::bearer(state, headers, now).await?;
    let wrong = || {
        OAuthError::new(
            ErrorCode::InsufficientScope,
            "Use the customer's access token from a one-time-code sign-in of the last 10 minutes.",
        )
    };
    let by_code = token
        .amr
        .as_deref()
        .and_then(|amr| serde_json::from_str::<Vec<String>>(amr).ok())
        .is_some_and(|amr| amr.iter().any(|method| method == "otp"));
    let fresh = token.auth_time.is_some_and(|at| {
        at.saturating_add(i64::try_from(FRESH_SIGN_IN.as_secs()).unwrap_or(i64::MAX))
            >= now.unix_seconds()
    });
    if token.origin != "login" || !by_code || !fresh {
        return Err(wrong());
    }
    let user_id = token.user_id.as_deref().ok_or_else(wrong)?;
    let user = state
        .store
        .user(user_id)
        .await?
        .filter(|user| user.kind == "customer" && user.is_active())
        .ok_or_else(wrong)?;
    let client = state
        .store
        .client(&token.client_id)
        .await?
        .ok_or_else(OAuthError::invalid_token)?;
    Ok((user, client))
}

fn refused() -> OAuthError {
    OAuthError::invalid_grant("The passkey's answer was not accepted. Try again, or use a code.")
}

fn gone() -> OAuthError {
    OAuthError::invalid_grant("This passkey step expired or was already used. Start again.")
}

/// Stores a new ceremony (its webauthn-rs `kept` state) for `user` and `client`; answers its
/// handle and the browser's `options`.
async fn begin(
    state: &AppState,
    kind: &str,
    (client, user): (&Client, &User),
    kept: &impl serde::Serialize,
    options: &impl serde::Serialize,
) -> Result<Json<Value>, OAuthError> {
    let stored = serde_json::to_string(kept).map_err(OAuthError::internal)?;
    let options = serde_json::to_value(options).map_err(OAuthError::internal)?;
    let handle = infra::secret::random_token();
    let now = state.clock.now();
    state
        .store
        .insert_ceremony(
            &Ceremony {
                handle_hash: Passkeys::handle_hash(&state.hash_key, handle.expose()),
                kind: kind.to_owned(),
                client_id: client.id.clone(),
                user_id: user.id.clone(),
                state: stored,
                expires_at: now.plus(CEREMONY_LIFETIME).0,
            },
            now,
        )
        .await?;
    Ok(Json(json!({
        "ceremony_id": handle.expose(),
        "expires_in": CEREMONY_LIFETIME.as_secs(),
        "options": options,
    })))
}

/// Takes the ceremony `handle` names, of `kind`, begun by `client`.
async fn take(
    state: &AppState,
    kind: &str,
    client: &Client,
    handle: &str,
) -> Result<Ceremony, OAuthError> {
    if handle.is_empty() || handle.len() > MAX_HANDLE {
        return Err(gone());
    }
    state
        .store
        .take_ceremony(
            &Passkeys::handle_hash(&state.hash_key, handle),
            kind,
            &client.id,
            state.clock.now(),
        )
        .await?
        .ok_or_else(gone)
}

fn passkeys_of(stored: &[StoredPasskey]) -> Vec<Passkey> {
    stored
        .iter()
        .filter_map(|row| serde_json::from_str(&row.passkey).ok())
        .collect()
}

/// `POST /cis/v1/auth/webauthn/registration/start`.
pub async fn registration_start(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        let rp = relying_party(&state)?;
        let (user, client) = customer_of(&state, &headers).await?;
        let stored = state.store.passkeys(&user.id).await?;
        if stored.len() >= MAX_PER_CUSTOMER {
            return Err(OAuthError::invalid_request(format!(
                "This customer has {MAX_PER_CUSTOMER} passkeys, the most allowed."
            )));
        }
        let exclude = passkeys_of(&stored)
            .iter()
            .map(|passkey| passkey.cred_id().clone())
            .collect::<Vec<_>>();
        let (options, registration) = rp
            .webauthn
            .start_passkey_registration(
                Passkeys::user_handle(&state.hash_key, &user.id),
                // What the phone shows beside the passkey; never the internal user id.
                user.email
                    .as_deref()
                    .or(user.phone.as_deref())
                    .unwrap_or(&user.name),
                &user.name,
                Some(exclude),
            )
            .map_err(OAuthError::internal)?;
        begin(
            &state,
            REGISTRATION,
            (&client, &user),
            &registration,
            &options,
        )
        .await
    }
    .await;
    result.map_err(OAuthError::mosaic)
}

/// `POST /cis/v1/auth/webauthn/registration/finish`.
pub async fn registration_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        let rp = relying_party(&state)?;
        let (user, client) = customer_of(&state, &headers).await?;
        let request: Finish<RegisterPublicKeyCredential> =
            serde_json::from_slice(&body).map_err(|_| {
                OAuthError::invalid_request(
                    "Send JSON {\"ceremony_id\", \"credential\"} with the browser's credential.",
                )
            })?;
        let ceremony = take(&state, REGISTRATION, &client, &request.ceremony_id).await?;
        if ceremony.user_id != user.id {
            return Err(gone());
        }
        let registration: PasskeyRegistration =
            serde_json::from_str(&ceremony.state).map_err(OAuthError::internal)?;
        let passkey = rp
            .webauthn
            .finish_passkey_registration(&request.credential, &registration)
            .map_err(|error| {
                tracing::info!(%error, "a passkey registration was refused");
                refused()
            })?;
        let credential_id = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice())
        };
        let now = state.clock.now();
        // Counted again: registrations begun side by side must not pass the cap.
        if state.store.passkeys(&user.id).await?.len() >= MAX_PER_CUSTOMER {
            return Err(OAuthError::invalid_request(format!(
                "This customer has {MAX_PER_CUSTOMER} passkeys, the most allowed."
            )));
        }
        let added = state
            .store
            .insert_passkey(&StoredPasskey {
                credential_id: credential_id.clone(),
                user_id: user.id.clone(),
                passkey: serde_json::to_string(&passkey).map_err(OAuthError::internal)?,
                counter: 0,
                created_at: now.0,
                last_used_at: None,
            })
            .await?;
        if !added {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "This passkey is registered already.",
            ));
        }
        audit::record(
            &state,
            Event {
                user_id: Some(&user.id),
                ..audit::about(Kind::PasskeyRegistered, &client)
            },
        )
        .await;
        Ok(Json(json!({ "credential_id": credential_id })))
    }
    .await;
    result.map_err(OAuthError::mosaic)
}

/// `POST /cis/v1/auth/webauthn/authentication/start`.
pub async fn authentication_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        let rp = relying_party(&state)?;
        let shape = "{\"identifier_type\", \"identifier\"}";
        let (client, request): (_, StartSignIn) = call(&state, &headers, &body, shape).await?;
        let user = find_customer(
            &state,
            &client,
            &request.identifier_type,
            &request.identifier,
        )
        .await?;
        let passkeys = passkeys_of(&state.store.passkeys(&user.id).await?);
        if passkeys.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::NotFound,
                "This customer has no passkey.",
            ));
        }
        let (options, authentication) = rp
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(OAuthError::internal)?;
        begin(
            &state,
            AUTHENTICATION,
            (&client, &user),
            &authentication,
            &options,
        )
        .await
    }
    .await;
    result.map_err(OAuthError::mosaic)
}

/// `POST /cis/v1/auth/webauthn/authentication/finish`.
pub async fn authentication_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        let rp = relying_party(&state)?;
        let shape = "{\"ceremony_id\", \"credential\"} with the browser's credential";
        let (client, request): (_, Finish<PublicKeyCredential>) =
            call(&state, &headers, &body, shape).await?;
        let ceremony = take(&state, AUTHENTICATION, &client, &request.ceremony_id).await?;
        let user = state
            .store
            .user(&ceremony.user_id)
            .await?
            .filter(User::is_active)
            .ok_or_else(|| {
                OAuthError::new(ErrorCode::AccessDenied, "The account is not active.")
            })?;
        // The user handle, when the authenticator sends one, must be this customer's.
        let handle = Passkeys::user_handle(&state.hash_key, &user.id);
        let refuse = async |why: &'static str| {
            tracing::info!(why, "a passkey sign-in was refused");
            audit::record(
                &state,
                Event {
                    user_id: Some(&user.id),
                    detail: Some(why),
                    ..audit::about(Kind::PasskeyRefused, &client)
                },
            )
            .await;
            refused()
        };
        if request
            .credential
            .response
            .user_handle
            .as_ref()
            .is_some_and(|sent| sent.as_slice() != handle.as_bytes())
        {
            return Err(refuse("user_handle").await);
        }
        let authentication: PasskeyAuthentication =
            serde_json::from_str(&ceremony.state).map_err(OAuthError::internal)?;
        let outcome = match rp
            .webauthn
            .finish_passkey_authentication(&request.credential, &authentication)
        {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::info!(%error, "the passkey's answer failed a check");
                return Err(refuse("check").await);
            }
        };
        if !outcome.user_verified() {
            return Err(refuse("user_verification").await);
        }
        let now = state.clock.now();
        let stored = state.store.passkeys(&user.id).await?;
        let Some((row, mut passkey)) = stored.iter().find_map(|row| {
            let passkey: Passkey = serde_json::from_str(&row.passkey).ok()?;
            (passkey.cred_id() == outcome.cred_id()).then_some((row, passkey))
        }) else {
            // It was in the ceremony's allowed set, so it was the customer's until a moment ago.
            return Err(refuse("unknown_credential").await);
        };
        // The counter against the stored one, not the ceremony's copy (another sign-in may
        // have moved it on meanwhile): where the authenticator keeps one, it must grow, and the
        // write is compare-and-set, so two answers with one value cannot both pass.
        let counter = i64::from(outcome.counter());
        if (counter > 0 || row.counter > 0) && counter <= row.counter {
            return Err(refuse("counter").await);
        }
        passkey.update_credential(&outcome);
        let kept = state
            .store
            .update_passkey(
                &row.credential_id,
                &serde_json::to_string(&passkey).map_err(OAuthError::internal)?,
                (row.counter, counter),
                now,
            )
            .await?;
        if !kept {
            return Err(refuse("counter").await);
        }
        let amr = vec!["hwk".to_owned(), "user".to_owned()];
        let mut answer = signed_in(&state, &client, &user, amr.clone(), "passkey", now).await?;
        answer.insert("amr".to_owned(), json!(amr));
        Ok(Json(Value::Object(answer)))
    }
    .await;
    state.metrics.sign_in(match &result {
        Ok(_) => "signed_in",
        Err(error) if error.code == ErrorCode::InvalidGrant => "passkey_refused",
        Err(_) => "refused",
    });
    result.map_err(OAuthError::mosaic)
}
