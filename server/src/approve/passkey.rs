//! Passkeys on the approval page: what the page offers ([`offer`]), beginning a ceremony
//! ([`begin`], for `/passkey.js`) and finishing it with what the browser made ([`finish`]).
//!
//! - The provider keeps the passkeys and checks every assertion (origin, RP id, user handle,
//!   counter, user verification). The BFF keeps the provider's ceremony id sealed in the
//!   customer's session, never in the browser, and spends it on the first finish, whatever
//!   comes of it.
//! - A sign-in is always for the customer the request names (its email address, phone number or
//!   user id): the provider offers only that customer's passkeys, and the sign-in's `sub` is
//!   checked as a code sign-in's is. A passkey sign-in counts as the customer's sign-in; the
//!   decision made with its token carries `amr` `["hwk", "user"]` to the agent's card.
//! - When the customer has no passkey, the page answers with options of the same shape for a
//!   credential nobody has: a stranger holding the link cannot tell from the page whether the
//!   customer has one (the browser says "no passkey" either way, and finishing fails alike).
//! - Adding a passkey is offered once the customer signed in with a code (the provider also
//!   requires a code sign-in of the last 10 minutes). A browser that added or used a passkey
//!   here gets the `__Host-countersign-passkey` cookie ([`DEVICE_COOKIE`]), which names nobody;
//!   the page then offers the passkey before the code.
//! - A session may begin [`STARTS_PER_SESSION`] ceremonies; the code sign-in stays open after.

use std::time::Duration;

use app::{
    approve::{ApprovalNotice, ApprovalScreen, PasskeyOffer},
    refusal::Refusal,
};
use axum::http::HeaderMap;
use infra::{cookies, secret::Secret};
use serde_json::{Value, json};

use super::customer_session::{Context, Draft};
use super::steps::{is_the_customer, revoke, rotate_signed_in};
use super::{Stage, cookie};
use crate::{
    oidc::{OidcClient, OidcError},
    sealed::Purpose,
    session,
    store::{CustomerSession, PasskeyStep, StoreError},
};

/// The cookie a browser gets once it added or used a passkey on the approval page.
pub const DEVICE_COOKIE: &str = "__Host-countersign-passkey";
/// How long the browser keeps it (the most browsers allow: 400 days).
const DEVICE_COOKIE_LIFETIME: Duration = Duration::from_secs(400 * 24 * 3600);
/// Passkey ceremonies one approval session may begin.
pub const STARTS_PER_SESSION: i64 = 5;
/// The largest credential read from the browser, in bytes.
const MAX_CREDENTIAL: usize = 16 * 1024;

/// The device cookie: it says only that this browser has used passkeys here.
fn device_cookie() -> cookies::Cookie<'static> {
    cookies::set(
        DEVICE_COOKIE,
        "1",
        cookies::Attributes {
            same_site: cookies::SameSite::Lax,
            secure: true,
            max_age: Some(DEVICE_COOKIE_LIFETIME),
        },
    )
}

/// Whether this browser added or used a passkey here before.
pub(super) fn device_knows_passkeys(headers: &HeaderMap) -> bool {
    session::cookie_value(headers, DEVICE_COOKIE).is_some()
}

/// What the page offers with passkeys on `screen`: a sign-in before one happened, adding one
/// after a code sign-in; nothing on a request that is not live or a page without passkeys
/// (`enabled`: the provider keeps them for this page).
pub(super) fn offer(
    enabled: bool,
    live: bool,
    session: Option<&CustomerSession>,
    screen: &ApprovalScreen,
    device: bool,
) -> Option<PasskeyOffer> {
    if !enabled || !live || session.is_some_and(|s| s.passkey_starts >= STARTS_PER_SESSION) {
        return None;
    }
    match screen {
        ApprovalScreen::Start { .. } | ApprovalScreen::EnterCode { .. } => {
            Some(PasskeyOffer::SignIn { first: device })
        }
        ApprovalScreen::Decide { .. }
            if session.is_some_and(|s| {
                s.stage == Stage::SignedIn
                    && matches!(s.passkey_step, None | Some(PasskeyStep::Registering))
            }) =>
        {
            Some(PasskeyOffer::Add)
        }
        _ => None,
    }
}

/// What a ceremony is for, from where the session stands.
enum Kind {
    SignIn,
    Add,
}

fn kind_of(session: Option<&CustomerSession>) -> Option<Kind> {
    match session {
        None => Some(Kind::SignIn),
        Some(s) => match (s.stage, s.passkey_step) {
            (Stage::Started | Stage::CodeSent, _) => Some(Kind::SignIn),
            (Stage::SignedIn, None | Some(PasskeyStep::Registering)) => Some(Kind::Add),
            _ => None,
        },
    }
}

/// Begins the ceremony the page offers: the browser's options as JSON text, and the cookie of
/// a new approval session.
pub(super) async fn begin(
    context: &Context<'_>,
) -> Result<(String, Vec<cookies::Cookie<'static>>), Refusal> {
    let bff = context.bff;
    if !bff.passkeys {
        return Err(Refusal::NotFound(
            "Passkeys are not offered on this page.".to_owned(),
        ));
    }
    let Some(flow) = context.live_flow() else {
        return Err(Refusal::Invalid(
            "This request is no longer open.".to_owned(),
        ));
    };
    let Some(kind) = kind_of(context.session.as_ref()) else {
        return Err(Refusal::Invalid(
            "There is nothing to do with a passkey on this page now. Reload it.".to_owned(),
        ));
    };
    let draft = Draft::of(context);
    if draft.row.passkey_starts >= STARTS_PER_SESSION {
        return Err(Refusal::Invalid(
            "Too many passkey tries on this page. Use a code instead.".to_owned(),
        ));
    }
    let client = bff.oidc.client().await.map_err(provider_down)?;
    let rp_host = rp_host(&bff.public_url);
    let (options, ceremony, step) = match kind {
        Kind::SignIn => {
            let identifier = flow.hint_type.normalise(&flow.hint);
            match client
                .passkey_authentication_start(flow.hint_type, &identifier)
                .await
            {
                Ok(Some(ceremony)) => (
                    ceremony.options,
                    Some(ceremony.ceremony_id),
                    PasskeyStep::Authenticating,
                ),
                // No passkey (or nobody by that name): options for a credential nobody has.
                Ok(None) | Err(OidcError::UnknownUser) => {
                    let rp_id = bff.passkey_rp_id.as_deref().unwrap_or(&rp_host);
                    let stable = bff.sealer.lookup(&format!(
                        "passkey decoy {} {identifier}",
                        flow.hint_type.as_str()
                    ));
                    (decoy(rp_id, &stable), None, PasskeyStep::Authenticating)
                }
                Err(error) => return Err(provider_down(error)),
            }
        }
        Kind::Add => {
            let token = customer_token(context, &draft.row).ok_or_else(|| {
                Refusal::Invalid("Your sign-in has ended. Reload the page.".to_owned())
            })?;
            match client.passkey_registration_start(&token).await {
                Ok(ceremony) => (
                    ceremony.options,
                    Some(ceremony.ceremony_id),
                    PasskeyStep::Registering,
                ),
                Err(OidcError::Forbidden | OidcError::InvalidToken) => {
                    return Err(Refusal::Forbidden(
                        "A passkey can be added only just after signing in with a code.".to_owned(),
                    ));
                }
                Err(OidcError::Refused { .. }) => {
                    return Err(Refusal::Invalid(
                        "No more passkeys can be added to this account.".to_owned(),
                    ));
                }
                Err(error) => return Err(provider_down(error)),
            }
        }
    };
    let adding = matches!(step, PasskeyStep::Registering);
    if !options_for(&options, &rp_host) || !well_formed_options(&options, adding) {
        tracing::error!(
            "the provider's passkey options are malformed, or not for this page's origin \
             (check COUNTERSIGN_PROVIDER_PASSKEY_RP_ID)"
        );
        return Err(Refusal::Unavailable(
            "Passkeys do not work here right now. Use a code instead.".to_owned(),
        ));
    }
    let mut draft = draft;
    let sealed = match &ceremony {
        Some(id) => Some(
            bff.sealer
                .seal(Purpose::PasskeyCeremony, &draft.row.id_hash, id.expose())
                .ok_or(Refusal::Failed)?,
        ),
        None => None,
    };
    draft.row.passkey_step = Some(step);
    draft.row.passkey_ceremony = sealed;
    draft.row.passkey_starts = draft.row.passkey_starts.saturating_add(1);
    draft.row.notice = None;
    let store = &*bff.store;
    let cookies = match draft.id {
        Some(id) => {
            store
                .insert_customer_session(&draft.row)
                .await
                .map_err(super::unavailable)?;
            vec![cookie(&id)]
        }
        None => {
            if !store
                .update_customer_session(&draft.row, draft.expected)
                .await
                .map_err(super::unavailable)?
            {
                return Err(Refusal::Invalid(
                    "This page changed in another tab. Reload it.".to_owned(),
                ));
            }
            Vec::new()
        }
    };
    Ok((options.to_string(), cookies))
}

/// Finishes the session's open ceremony with the browser's `credential`; returns the cookies
/// to set. What came of it is kept in the session for the page.
pub(super) async fn finish(
    context: &Context<'_>,
    credential: String,
) -> Result<Vec<cookies::Cookie<'static>>, StoreError> {
    let Some(session) = context.session.as_ref() else {
        return Ok(Vec::new());
    };
    // Only on a live request of this BFF (a sign-in is checked against its flow).
    if context.live_flow().is_none() {
        return Ok(Vec::new());
    }
    let adding = match (session.stage, session.passkey_step) {
        (Stage::Started | Stage::CodeSent, Some(PasskeyStep::Authenticating)) => false,
        (Stage::SignedIn, Some(PasskeyStep::Registering)) => true,
        _ => return Ok(Vec::new()),
    };
    let store = &*context.bff.store;
    // The ceremony is spent first: one finish per ceremony, whatever comes of it (of two posts,
    // the one that did not spend it does nothing).
    let ceremony = match session.passkey_ceremony.as_deref() {
        Some(sealed) => {
            if !store
                .take_passkey_ceremony(&session.id_hash, sealed)
                .await?
            {
                return Ok(Vec::new());
            }
            (context.bff.sealer)
                .open(Purpose::PasskeyCeremony, &session.id_hash, sealed)
                .map(Secret::new)
        }
        None => None,
    };
    let spent = CustomerSession {
        passkey_ceremony: None,
        notice: None,
        ..session.clone()
    };
    let failed = |notice| {
        let mut row = spent.clone();
        row.passkey_step = None;
        Draft::update(row).notice(Some(notice))
    };
    let failure = if adding {
        ApprovalNotice::PasskeyNotAdded
    } else {
        ApprovalNotice::PasskeyFailed
    };
    let (Some(ceremony), Some(credential)) = (ceremony, read_credential(&credential)) else {
        return failed(failure).save(context).await.map(Vec::from_iter);
    };
    let client = match context.bff.oidc.client().await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "a passkey ceremony could not be finished");
            return failed(ApprovalNotice::Unavailable)
                .save(context)
                .await
                .map(Vec::from_iter);
        }
    };
    if adding {
        let Some(token) = customer_token(context, &spent) else {
            return failed(failure).save(context).await.map(Vec::from_iter);
        };
        return match client
            .passkey_registration_finish(&token, &ceremony, &credential)
            .await
        {
            Ok(()) => {
                let mut row = spent.clone();
                row.passkey_step = Some(PasskeyStep::Added);
                Draft::update(row)
                    .notice(Some(ApprovalNotice::PasskeyAdded))
                    .save(context)
                    .await?;
                Ok(vec![device_cookie()])
            }
            Err(error) => {
                tracing::info!(%error, "a customer's passkey was not added");
                failed(failure).save(context).await.map(Vec::from_iter)
            }
        };
    }
    match client
        .passkey_authentication_finish(&ceremony, &credential)
        .await
    {
        Ok(signed_in) => {
            let mut cookies =
                Vec::from_iter(signed_in_by_passkey(context, &spent, &client, signed_in).await?);
            if !cookies.is_empty() {
                cookies.push(device_cookie());
            }
            Ok(cookies)
        }
        Err(error) => {
            tracing::info!(%error, "a customer's passkey sign-in was refused");
            failed(failure).save(context).await.map(Vec::from_iter)
        }
    }
}

/// The passkey sign-in worked at the provider: the same checks and the same new session as a
/// code sign-in, marked as a passkey's.
async fn signed_in_by_passkey(
    context: &Context<'_>,
    session: &CustomerSession,
    client: &OidcClient,
    signed_in: crate::oidc::CustomerSession,
) -> Result<Option<cookies::Cookie<'static>>, StoreError> {
    match is_the_customer(client, context.flow.as_ref(), &signed_in, context.now).await {
        Ok(true) => {}
        Ok(false) => {
            // The provider offered only the named customer's passkeys; this should not happen.
            revoke(client, &signed_in.access_token).await;
            tracing::warn!(
                flow_id = session.flow_id.as_deref(),
                "a passkey sign-in named another customer than the request's"
            );
            return Draft::update(session.clone())
                .notice(Some(ApprovalNotice::PasskeyFailed))
                .save(context)
                .await;
        }
        Err(error) => {
            revoke(client, &signed_in.access_token).await;
            tracing::warn!(%error, "a customer's passkey sign-in could not be checked");
            return Draft::update(session.clone())
                .notice(Some(ApprovalNotice::Unavailable))
                .save(context)
                .await;
        }
    }
    rotate_signed_in(
        context,
        session,
        client,
        &signed_in,
        Some(PasskeyStep::SignedIn),
    )
    .await
}

/// The signed-in customer's access token, opened.
fn customer_token(context: &Context<'_>, session: &CustomerSession) -> Option<Secret> {
    let sealed = session.access_token.as_deref()?;
    (context.bff.sealer)
        .open(Purpose::CustomerToken, &session.id_hash, sealed)
        .map(Secret::new)
}

/// The browser's credential: a JSON object of bounded size.
fn read_credential(text: &str) -> Option<Value> {
    if text.is_empty() || text.len() > MAX_CREDENTIAL {
        return None;
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
}

/// The host of the page's origin, which a passkey's RP id must be (or be a parent of).
pub(super) fn rp_host(public_url: &str) -> String {
    reqwest::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// Whether `options` name an RP id this page may use: its host, or a domain the host is in.
pub(super) fn options_for(options: &Value, host: &str) -> bool {
    let public_key = options.get("publicKey");
    let rp_id = public_key
        .and_then(|key| key.get("rpId"))
        .or_else(|| public_key.and_then(|key| key.get("rp")?.get("id")))
        .and_then(Value::as_str);
    rp_id.is_some_and(|rp_id| {
        let rp_id = rp_id.to_ascii_lowercase();
        !rp_id.is_empty()
            && (host == rp_id
                || host
                    .strip_suffix(rp_id.as_str())
                    .is_some_and(|rest| rest.ends_with('.')))
    })
}

/// Whether `options` are what the browser needs for the kind asked: a challenge, and for adding
/// a passkey the relying party and the user; for a sign-in, no user (the script would make a
/// passkey instead). Bounded in size.
pub(super) fn well_formed_options(options: &Value, adding: bool) -> bool {
    const MAX_OPTIONS: usize = 16 * 1024;
    let Some(key) = options.get("publicKey").filter(|key| key.is_object()) else {
        return false;
    };
    let has = |name: &str| key.get(name).is_some_and(|value| !value.is_null());
    options.to_string().len() <= MAX_OPTIONS
        && key.get("challenge").is_some_and(Value::is_string)
        && if adding {
            has("rp") && has("user")
        } else {
            !has("user")
        }
}

/// Sign-in options for a credential nobody has, shaped as the provider's: a fresh challenge
/// and one credential id of a platform passkey's length, the same each time for the same
/// customer (`stable`: a keyed hash of who the request names), as a real passkey's id is.
pub(super) fn decoy(rp_id: &str, stable: &[u8]) -> Value {
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let challenge: [u8; 32] = rand::random();
    let credential = &stable[..stable.len().min(16)];
    json!({
        "publicKey": {
            "challenge": encode(&challenge),
            "timeout": 300_000,
            "rpId": rp_id,
            "allowCredentials": [{ "type": "public-key", "id": encode(credential) }],
            "userVerification": "required",
        }
    })
}

fn provider_down(error: OidcError) -> Refusal {
    tracing::warn!(%error, "a passkey ceremony could not be begun");
    Refusal::Unavailable("Passkeys do not work right now. Use a code instead.".to_owned())
}
