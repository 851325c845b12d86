//! The customer approval page on the BFF: what `/approve?auth_req_id=…&binding_message=…` (the
//! provider's `login_uri`) shows ([`view`]) and the steps the customer takes there ([`step`]),
//! behind the page's server functions in `app::approve`.
//!
//! - The customer's progress lives in a [`CustomerSession`] behind the `__Host-countersign-approval`
//!   cookie ([`COOKIE`]), made at their first step and bound to the one request it was made
//!   for: a session made for request A never acts on request B. It gets a new id when the
//!   customer signs in, and lasts [`LIFETIME`].
//! - A GET changes nothing: mail scanners open links. The customer's first step records
//!   `link_opened` on the flow; signing in records `signed_in`; a decision records `approved` or
//!   `denied` at once (so the agent sees it and the poller asks the provider early).
//! - The customer's access token (from the one-time code) stays in the store, sealed
//!   ([`crate::sealed`]), between sign-in and decision; it is revoked and dropped once the
//!   decision is sent. Nothing the page gets holds a token, a code or the `auth_req_id`, and
//!   none of them is logged.
//! - On a request for a user id, the customer who signs in must be that user (the sign-in's ID
//!   token names them); anyone else is turned away before any decision and the flow records
//!   `wrong_person`.
//! - Code steps run only for a live (pending, unexpired) flow of this BFF. For any other
//!   `auth_req_id` the page answers as a real request answers a stranger who types an address
//!   that names nobody ("if it is yours, we sent a code"; then "that code is not right"), and
//!   nothing is sent: the page cannot be used to send codes to anyone, nor to tell customers
//!   from unknown addresses.
//! - Each code is sent for one approval session on one request: the session keeps a random
//!   `code_binding`, sent with the code to the embedded provider (which checks the code only
//!   under it), and a code is only ever checked under its own session's binding. With a
//!   provider that has no binding (Mosaic), a code is refused when a newer one went to the
//!   same customer for another session.
//! - Codes sent and wrong codes are counted per session across re-sends
//!   ([`CODES_PER_SESSION`], [`WRONG_CODES_PER_SESSION`]) and codes sent per request
//!   ([`limits::BffLimits::codes_per_request`]); the provider counts wrong codes per customer in a
//!   way that leaves a fresh code its first try, so a stranger cannot lock the customer out.
//!   Every answer comes from these counts, never from what the provider knows of the address:
//!   a known and an unknown address, the first and the sixth send, read the same.
//! - Every step counts against [`limits::BffLimits::approval_per_ip`] (the peer address), a wide allowance
//!   (mobile carriers put many customers behind one address); the page shows the wait while
//!   the address is over the limit.
//! - Refusals of the provider become plain sentences on the page ([`ApprovalOutcome`],
//!   [`ApprovalNotice`]); raw errors are only logged, and they never quote secrets.

use std::time::Duration;

use app::{
    approve::{ApprovalLink, ApprovalOutcome, ApprovalScreen, ApprovalStep, ApprovalView},
    refusal::Refusal,
};
use axum::http::{HeaderMap, request::Parts};
use infra::cookies;

use crate::{Bff, limits, session, store::Stage};

mod customer_session;
mod passkey;
mod rules;
mod steps;

use customer_session::{Context, is_live, opened, sessions, unavailable};
pub use passkey::DEVICE_COOKIE as PASSKEY_COOKIE;
use rules::{flow_outcome, plain_binding_message, screen, well_formed};
use steps::{decide, report, send_code, verify_code};

/// The approval cookie's name. `__Host-`: only this host sets it, always `Secure`, `Path=/`.
pub const COOKIE: &str = "__Host-countersign-approval";
/// How long an approval session lasts (from its start, and again from the sign-in).
pub const LIFETIME: Duration = Duration::from_secs(600);
/// The longest `auth_req_id` looked up.
const MAX_AUTH_REQ_ID: usize = 1024;
/// The longest email address or phone number accepted.
const MAX_IDENTIFIER: usize = 254;
/// Codes one approval session may have sent (the first and two new ones).
pub const CODES_PER_SESSION: i64 = 3;
/// Wrong codes one approval session may type, across its codes: one code's worth.
pub const WRONG_CODES_PER_SESSION: i64 = 5;

/// The cookie that holds approval session `id`.
///
/// `SameSite=Lax`, where the agent's session cookie is `Strict`: the customer arrives from a
/// link in a text message or an email, a navigation from outside the site, and goes back and
/// forth between the page and their messages (to read the code). `Strict` would leave the
/// cookie off every such navigation, so a customer who opens the link again would find their
/// progress gone. `Lax` sends it on top-level navigations only; cross-site posts still go
/// without it, and the CSRF guard checks their origin anyway.
pub fn cookie(id: &str) -> cookies::Cookie<'static> {
    cookies::set(
        COOKIE,
        id,
        cookies::Attributes {
            same_site: cookies::SameSite::Lax,
            secure: true,
            max_age: Some(LIFETIME),
        },
    )
}

/// The approval session id a request carries, if any.
pub fn id_from(headers: &HeaderMap) -> Option<String> {
    session::cookie_value(headers, COOKIE)
}

/// What the approval page shows the customer who sent `request`. Changes nothing.
pub async fn view(
    bff: &Bff,
    request: &Parts,
    link: &ApprovalLink,
) -> Result<ApprovalView, Refusal> {
    let mut view = ApprovalView {
        display_name: bff.display_name.clone(),
        agent: None,
        binding_code: None,
        screen: ApprovalScreen::Finished {
            outcome: ApprovalOutcome::InvalidLink,
        },
        passkey: None,
    };
    if !well_formed(&link.auth_req_id) {
        return Ok(view);
    }
    let now = bff.engine.now_ms();
    let store = &*bff.store;
    let flow = store
        .flow_by_request_hash(&bff.sealer.lookup(&link.auth_req_id))
        .await
        .map_err(unavailable)?;
    let (session, _) = sessions(bff, &request.headers, link, now)
        .await
        .map_err(unavailable)?;
    let limited = limits::peek(
        store,
        bff.limits.approval_per_ip,
        &limits::client_address(request, bff.trust_forwarded_for),
        now,
    )
    .await
    .map_err(unavailable)?
    .err();
    view.agent = flow.as_ref().map(|flow| flow.agent_name.clone());
    view.binding_code = match &flow {
        Some(flow) => Some(flow.binding_message.clone()),
        None => link
            .binding_message
            .clone()
            .filter(|message| plain_binding_message(message)),
    };
    view.screen = screen(flow.as_ref(), session.as_ref(), limited, now);
    let live = flow
        .as_ref()
        .is_some_and(|flow| is_live(bff, link, flow, now));
    view.passkey = passkey::offer(
        bff.passkeys,
        live,
        session.as_ref(),
        &view.screen,
        passkey::device_knows_passkeys(&request.headers),
    );
    Ok(view)
}

/// Does one step of the customer's; returns the cookies to set. What came of it is kept in
/// the customer's session for [`view`] to show, so refusals are `Ok` too.
pub async fn step(
    bff: &Bff,
    request: &Parts,
    link: &ApprovalLink,
    step: ApprovalStep,
) -> Result<Vec<cookies::Cookie<'static>>, Refusal> {
    let Some(context) = prepare(bff, request, link).await? else {
        return Ok(Vec::new());
    };
    let result = match step {
        ApprovalStep::SendCode { identifier } => send_code(&context, identifier).await,
        ApprovalStep::VerifyCode { code } => verify_code(&context, code).await,
        ApprovalStep::Decide { approve } => decide(&context, approve).await,
        ApprovalStep::Report => report(&context).await,
        ApprovalStep::Passkey { credential } => {
            return passkey::finish(&context, credential)
                .await
                .map_err(unavailable);
        }
    };
    result.map(Vec::from_iter).map_err(unavailable)
}

/// Begins the passkey ceremony the page offers (for `/passkey.js`): the options for the
/// browser as JSON text, and the cookies to set.
pub async fn passkey_options(
    bff: &Bff,
    request: &Parts,
    link: &ApprovalLink,
) -> Result<(String, Vec<cookies::Cookie<'static>>), Refusal> {
    let Some(context) = prepare(bff, request, link).await? else {
        return Err(Refusal::Invalid(
            "There is nothing to do on this page now. Reload it.".to_owned(),
        ));
    };
    passkey::begin(&context).await
}

/// What every step does first: the address's allowance, the sweep, the flow and the sessions;
/// `None` when there is nothing left to do (a bad link, the address over its limit, a
/// finished request: the page says why).
async fn prepare<'a>(
    bff: &'a Bff,
    request: &Parts,
    link: &'a ApprovalLink,
) -> Result<Option<Context<'a>>, Refusal> {
    if !well_formed(&link.auth_req_id) {
        return Ok(None);
    }
    let now = bff.engine.now_ms();
    let store = &*bff.store;
    let address = limits::client_address(request, bff.trust_forwarded_for);
    if let Err(wait) = bff
        .hit_limit(bff.limits.approval_per_ip, &address, now)
        .await
        .map_err(unavailable)?
    {
        // The page shows the wait (it peeks at the same counter).
        tracing::info!(wait, "approval steps from one address are being limited");
        return Ok(None);
    }
    if let Err(error) = store.delete_expired_customer_sessions(now).await {
        tracing::warn!(%error, "expired approval sessions were not swept");
    }
    let flow = store
        .flow_by_request_hash(&bff.sealer.lookup(&link.auth_req_id))
        .await
        .map_err(unavailable)?;
    let (session, other) = sessions(bff, &request.headers, link, now)
        .await
        .map_err(unavailable)?;
    let finished = session.as_ref().is_some_and(|s| s.outcome.is_some())
        || flow
            .as_ref()
            .is_some_and(|f| flow_outcome(f, now).is_some());
    if finished {
        return Ok(None);
    }
    if let Some(flow) = &flow {
        opened(bff, flow).await;
    }
    Ok(Some(Context {
        bff,
        link,
        now,
        flow,
        session,
        other,
    }))
}

#[cfg(test)]
mod tests;
