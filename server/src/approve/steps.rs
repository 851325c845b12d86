//! The customer's steps: send a code, check it, decide, or report the request.

use app::{
    approve::{ApprovalNotice, ApprovalOutcome},
    flow::{EventKind, HintType},
};
use infra::{cookies::Cookie, secret::Secret};

use super::customer_session::{Context, Draft, record};
use super::rules::{Target, lifetime_ms, purpose, sent_error_notice};
use super::{CODES_PER_SESSION, Stage, WRONG_CODES_PER_SESSION, cookie};
use crate::{
    flows::engine::FlowError,
    oidc::{CustomerSession as OtpSession, Expected, OidcClient, OidcError},
    sealed::Purpose,
    session,
    store::{CustomerSession, Flow, Json, Store, StoreError},
};

/// Step 2: send a code, where the request names, or to what the customer typed. Only a live
/// flow of this BFF sends anything; every answer depends on this BFF's counts alone.
pub(super) async fn send_code(
    context: &Context<'_>,
    identifier: Option<String>,
) -> Result<Option<Cookie<'static>>, StoreError> {
    if context
        .session
        .as_ref()
        .is_some_and(|s| matches!(s.stage, Stage::SignedIn | Stage::Decided))
    {
        return Ok(None);
    }
    let typed = identifier
        .map(|typed| typed.trim().to_owned())
        .filter(|typed| !typed.is_empty());
    let live = context.live_flow();
    let named = live.and_then(Target::of_flow);
    let target = match (&named, typed) {
        // The request names where: only there.
        (Some(named), _) => Some(named.clone()),
        (None, Some(typed)) => Target::typed(&typed),
        // "Send a new code": where the last one went.
        (None, None) => context.session.as_ref().and_then(Target::of_session),
    };
    let draft = Draft::of(context);
    let Some(target) = target else {
        return draft
            .notice(Some(ApprovalNotice::NeedIdentifier))
            .save(context)
            .await;
    };
    // This session's allowance, then the request's: the same answer for every address.
    if draft.row.codes_sent >= CODES_PER_SESSION {
        let retry_after =
            u64::try_from((draft.row.expires_at - context.now).max(1000) / 1000).unwrap_or(1);
        return draft
            .notice(Some(ApprovalNotice::TooManyCodes {
                retry_after: Some(retry_after),
            }))
            .save(context)
            .await;
    }
    let request = request_subject(&context.link.auth_req_id);
    if let Err(wait) = context
        .bff
        .hit_limit(context.bff.limits.codes_per_request, &request, context.now)
        .await?
    {
        return draft
            .notice(Some(ApprovalNotice::TooManyCodes {
                retry_after: Some(wait),
            }))
            .save(context)
            .await;
    }
    let again = context.session.as_ref().is_some_and(|s| {
        s.stage == Stage::CodeSent && s.identifier.as_deref() == Some(target.identifier.as_str())
    });
    // What the code is sent for: this session, on this request.
    let binding = Secret::new(session::new_id().0);
    let sent = match live {
        // No live flow of this BFF: nothing is sent, and the page answers as for an address
        // that names nobody.
        None => Err(OidcError::UnknownUser),
        Some(_) => match context.bff.oidc.client().await {
            Ok(client) => {
                let purpose = purpose(&context.bff.display_name);
                let bound =
                    (context.bff.provider_embedded).then_some((&binding, purpose.as_deref()));
                client
                    .otp_send(target.channel, target.hint_type, &target.identifier, bound)
                    .await
            }
            Err(error) => Err(error),
        },
    };
    let went = match sent {
        Ok(()) => Some(true),
        // An address that names nobody (or nobody with it verified), a customer the provider
        // will not send more to, a failed delivery: for a typed address, the same answer as a
        // sent code, so the page cannot be used to find out who has an account.
        Err(OidcError::UnknownUser | OidcError::Refused { .. }) => Some(false),
        Err(OidcError::RateLimited { .. } | OidcError::DeliveryFailed) if named.is_none() => {
            Some(false)
        }
        Err(_) => None,
    };
    let notice = match (went, sent_error_notice(&sent)) {
        (Some(went), _) => {
            let mut draft = draft.notice(again.then_some(ApprovalNotice::CodeResent));
            draft.row.stage = Stage::CodeSent;
            draft.row.identifier = Some(target.identifier.clone());
            draft.row.hint_type = Some(target.hint_type);
            draft.row.code_binding = went.then(|| binding.expose().to_owned());
            draft.row.code_sent_at = Some(context.now);
            draft.row.codes_sent = draft.row.codes_sent.saturating_add(1);
            return draft.save(context).await;
        }
        (None, notice) => notice,
    };
    draft.notice(Some(notice)).save(context).await
}

/// The per-request counter's subject: a hash of the `auth_req_id` (never the id itself).
pub(super) fn request_subject(auth_req_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(auth_req_id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Step 3: check the code; signed in, the session gets a new id and the customer's token.
pub(super) async fn verify_code(
    context: &Context<'_>,
    code: String,
) -> Result<Option<Cookie<'static>>, StoreError> {
    let Some(session) = context
        .session
        .as_ref()
        .filter(|s| s.stage == Stage::CodeSent)
    else {
        return Ok(None);
    };
    let Some(target) = Target::of_session(session) else {
        return Ok(None);
    };
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Draft::of(context)
            .notice(Some(ApprovalNotice::BadCode))
            .save(context)
            .await;
    }
    if session.wrong_codes >= WRONG_CODES_PER_SESSION {
        return Draft::of(context)
            .notice(Some(ApprovalNotice::CodeLocked))
            .save(context)
            .await;
    }
    // The try counts before it is checked; the answer to a wrong one comes from this count
    // alone, whatever the provider knows of the address.
    let counted = CustomerSession {
        wrong_codes: session.wrong_codes.saturating_add(1),
        ..session.clone()
    };
    let store = &*context.bff.store;
    if !store
        .update_customer_session(&counted, Stage::CodeSent)
        .await?
    {
        return Ok(None);
    }
    let wrong = || {
        let left = WRONG_CODES_PER_SESSION - counted.wrong_codes;
        let notice = if left > 0 {
            ApprovalNotice::WrongCode {
                tries_left: u32::try_from(left).ok(),
            }
        } else {
            ApprovalNotice::CodeLocked
        };
        Draft::update(counted.clone()).notice(Some(notice))
    };
    // Only a code this session sent, on a live request, is checked at all.
    let Some(binding) = session
        .code_binding
        .as_deref()
        .filter(|_| context.live_flow().is_some())
        .map(|binding| Secret::new(binding.to_owned()))
    else {
        return wrong().save(context).await;
    };
    let embedded = context.bff.provider_embedded;
    if !embedded
        && store
            .newest_code_session(&target.identifier, context.now)
            .await?
            .is_some_and(|newest| newest != session.id_hash)
    {
        // A provider without bindings keeps only the newest code, and another session (another
        // request, or another browser) asked for it: whatever is typed here is not this
        // session's code.
        tracing::info!("a code was typed on a session whose code was replaced by another's");
        return wrong().save(context).await;
    }
    let client = match context.bff.oidc.client().await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "a one-time code could not be checked");
            return Draft::of(context)
                .notice(Some(ApprovalNotice::Unavailable))
                .save(context)
                .await;
        }
    };
    let binding = embedded.then_some(&binding);
    let notice = match client
        .otp_authenticate(
            target.hint_type,
            &target.identifier,
            &Secret::new(code),
            binding,
        )
        .await
    {
        Ok(signed_in) => {
            match is_the_customer(&client, context.flow.as_ref(), &signed_in, context.now).await {
                Ok(true) => {}
                Ok(false) => {
                    revoke(&client, &signed_in.access_token).await;
                    tracing::info!(
                        flow_id = session.flow_id.as_deref(),
                        "a customer the request is not for signed in on its link"
                    );
                    if let Some(flow_id) = &session.flow_id {
                        record(context.bff, flow_id, EventKind::WrongPerson).await;
                    }
                    return Draft::of(context)
                        .finished(ApprovalOutcome::WrongPerson)
                        .save(context)
                        .await;
                }
                Err(error) => {
                    revoke(&client, &signed_in.access_token).await;
                    tracing::warn!(%error, "a customer's sign-in could not be checked");
                    return Draft::of(context)
                        .notice(Some(ApprovalNotice::Unavailable))
                        .save(context)
                        .await;
                }
            }
            // Signed in with a code: a passkey sign-in begun before is void.
            return rotate_signed_in(context, session, &client, &signed_in, None).await;
        }
        // Wrong, locked, limited, or an address that names nobody: one answer, from this
        // session's count.
        Err(
            OidcError::WrongCode { .. }
            | OidcError::UnknownUser
            | OidcError::Refused { .. }
            | OidcError::RateLimited { .. },
        ) => return wrong().save(context).await,
        Err(error) => {
            tracing::warn!(%error, "a one-time code could not be checked");
            ApprovalNotice::Unavailable
        }
    };
    Draft::of(context).notice(Some(notice)).save(context).await
}

/// The customer signed in (with a code, or a passkey: `passkey_step`): `session`, at its
/// stage, becomes a signed-in session under a new id, holding their token sealed, and
/// `signed_in` is recorded on the flow; answers the new cookie. If another tab signed in first,
/// or the token cannot be sealed, this sign-in's token is revoked (and for the latter the page
/// says to try again).
pub(super) async fn rotate_signed_in(
    context: &Context<'_>,
    session: &CustomerSession,
    client: &OidcClient,
    signed_in: &OtpSession,
    passkey_step: Option<crate::store::PasskeyStep>,
) -> Result<Option<Cookie<'static>>, StoreError> {
    let (id, id_hash) = session::new_id();
    let Some(sealed) = context.bff.sealer.seal(
        Purpose::CustomerToken,
        &id_hash,
        signed_in.access_token.expose(),
    ) else {
        revoke(client, &signed_in.access_token).await;
        return Draft::update(session.clone())
            .notice(Some(ApprovalNotice::Unavailable))
            .save(context)
            .await;
    };
    let next = CustomerSession {
        id_hash,
        access_token: Some(sealed),
        stage: Stage::SignedIn,
        notice: None,
        expires_at: context.now.saturating_add(lifetime_ms()),
        passkey_step,
        passkey_ceremony: None,
        ..session.clone()
    };
    if context
        .bff
        .store
        .rotate_customer_session(&session.id_hash, session.stage, &next)
        .await?
    {
        if let Some(flow_id) = &session.flow_id {
            record(context.bff, flow_id, EventKind::SignedIn).await;
        }
        return Ok(Some(cookie(&id)));
    }
    // Another tab signed in first: this sign-in is not needed.
    revoke(client, &signed_in.access_token).await;
    Ok(None)
}

/// Whether the customer who signed in is the one the request names. A request for an email
/// address or phone number sent the code there, so whoever holds it is that customer; a request
/// for a user id let the customer say where to send the code, so the sign-in's `sub` (from its
/// validated ID token, else from userinfo) must be that id. (Codes are only checked for live
/// flows of this BFF, so `flow` is there; without it, the provider decides when the customer
/// does.)
pub(super) async fn is_the_customer(
    client: &OidcClient,
    flow: Option<&Flow>,
    signed_in: &OtpSession,
    now_ms: i64,
) -> Result<bool, OidcError> {
    let Some(flow) = flow.filter(|flow| flow.hint_type == HintType::UserId) else {
        return Ok(true);
    };
    let wanted = HintType::UserId.normalise(&flow.hint);
    let sub = match &signed_in.id_token {
        Some(id_token) => {
            let expected = Expected {
                sub: None,
                nonce: None,
            };
            client
                .validate_id_token(id_token, expected, now_ms.div_euclid(1000))
                .await?
                .sub
        }
        None => client.userinfo(&signed_in.access_token).await?.sub,
    };
    Ok(sub == wanted)
}

/// Step 4: approve or deny with the customer's own token, then revoke it.
pub(super) async fn decide(
    context: &Context<'_>,
    approve: bool,
) -> Result<Option<Cookie<'static>>, StoreError> {
    let store = &*context.bff.store;
    let Some(session) = &context.session else {
        // A session made for another request may not decide this one.
        if context
            .other
            .as_ref()
            .is_some_and(|other| other.stage == Stage::SignedIn)
        {
            tracing::info!("a customer signed in for another request tried to decide this one");
            return Draft::new(context)
                .finished(ApprovalOutcome::WrongPerson)
                .save(context)
                .await;
        }
        return Ok(None);
    };
    let Some(token) = session
        .access_token
        .as_deref()
        .filter(|_| session.stage == Stage::SignedIn)
        .and_then(|sealed| {
            (context.bff.sealer).open(Purpose::CustomerToken, &session.id_hash, sealed)
        })
    else {
        return Ok(None);
    };
    let token = Secret::new(token);
    // Claim the decision: of two posts (a double tap, two tabs), one goes on.
    let claimed = CustomerSession {
        stage: Stage::Decided,
        notice: None,
        ..session.clone()
    };
    if !store
        .update_customer_session(&claimed, Stage::SignedIn)
        .await?
    {
        return Ok(None);
    }
    let client = match context.bff.oidc.client().await {
        Ok(client) => client,
        Err(error) => return unsent(store, session, &error).await,
    };
    let auth_req_id = Secret::new(context.link.auth_req_id.clone());
    let outcome = match client.complete(&token, &auth_req_id, approve).await {
        Ok(()) => {
            if let Some(flow_id) = &session.flow_id {
                let kind = if approve {
                    EventKind::Approved
                } else {
                    EventKind::Denied
                };
                record(context.bff, flow_id, kind).await;
            }
            if approve {
                ApprovalOutcome::Approved
            } else {
                ApprovalOutcome::Denied
            }
        }
        Err(OidcError::Forbidden) => {
            tracing::info!(
                flow_id = session.flow_id.as_deref(),
                "the provider refused a decision by a customer the request is not for"
            );
            ApprovalOutcome::WrongPerson
        }
        Err(OidcError::AlreadyDecided) => ApprovalOutcome::AlreadyDecided,
        Err(OidcError::Expired | OidcError::NotFound) => ApprovalOutcome::Expired,
        Err(OidcError::InvalidToken) => {
            // The sign-in ended before the decision: sign in again.
            let again = CustomerSession {
                stage: Stage::Started,
                access_token: None,
                notice: Some(Json(ApprovalNotice::SignInAgain)),
                ..session.clone()
            };
            store
                .update_customer_session(&again, Stage::Decided)
                .await?;
            return Ok(None);
        }
        Err(error) => return unsent(store, session, &error).await,
    };
    revoke(&client, &token).await;
    let done = Draft::update(claimed).finished(outcome);
    done.save(context).await
}

/// The decision did not reach the provider: the customer's claim on it is given back, signed
/// in as before, with a notice to try again.
async fn unsent(
    store: &dyn Store,
    session: &CustomerSession,
    error: &OidcError,
) -> Result<Option<Cookie<'static>>, StoreError> {
    tracing::warn!(%error, "a customer's decision could not be sent");
    let back = CustomerSession {
        stage: Stage::SignedIn,
        notice: Some(Json(ApprovalNotice::Unavailable)),
        ..session.clone()
    };
    store.update_customer_session(&back, Stage::Decided).await?;
    Ok(None)
}

/// "I did not ask for this": the flow ends for the agent at once, and a signed-in customer's
/// "no" also goes to the provider. No sign-in needed.
pub(super) async fn report(context: &Context<'_>) -> Result<Option<Cookie<'static>>, StoreError> {
    if let Some(session) = &context.session
        && session.stage == Stage::SignedIn
        && let Some(token) = session.access_token.as_deref().and_then(|sealed| {
            (context.bff.sealer).open(Purpose::CustomerToken, &session.id_hash, sealed)
        })
        && let Ok(client) = context.bff.oidc.client().await
    {
        let token = Secret::new(token);
        let auth_req_id = Secret::new(context.link.auth_req_id.clone());
        if let Err(error) = client.complete(&token, &auth_req_id, false).await {
            tracing::info!(%error, "a reported request was not denied at the provider");
        }
        revoke(&client, &token).await;
    }
    if let Some(flow) = &context.flow {
        match context.bff.engine.report(&flow.id).await {
            Ok(_) | Err(FlowError::Ended | FlowError::NotFound | FlowError::NoSession) => {}
            Err(FlowError::Store(error)) => return Err(error),
        }
    }
    Draft::of(context)
        .finished(ApprovalOutcome::Reported)
        .save(context)
        .await
}

/// Revokes the customer's token; a failure is logged (the token expires on its own).
pub(super) async fn revoke(client: &OidcClient, token: &Secret) {
    if let Err(error) = client.revoke(token).await {
        tracing::warn!(%error, "a customer's token was not revoked");
    }
}
