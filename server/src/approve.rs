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
    approve::{
        ApprovalLink, ApprovalNotice, ApprovalOutcome, ApprovalScreen, ApprovalStep, ApprovalView,
        CodeChannel, CodeDestination,
    },
    flow::{EventKind, FlowStatus, HintType, mask_email, mask_phone},
    ssr::Refusal,
};
use axum::http::{HeaderMap, request::Parts};
use infra::secret::Secret;

use crate::{
    Bff,
    flows::{engine::FlowError, provider::normalised_hint},
    limits,
    oidc::{CustomerSession as OtpSession, Expected, OidcClient, OidcError, OtpChannel},
    sealed::Purpose,
    session,
    store::{CustomerSession, Flow, StoreError},
};

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

/// The stages of a [`CustomerSession`].
mod stage {
    /// A step was taken, no code went out yet.
    pub const STARTED: &str = "started";
    /// A code went out; waiting for it.
    pub const CODE_SENT: &str = "code_sent";
    /// Signed in; waiting for the decision.
    pub const SIGNED_IN: &str = "signed_in";
    /// The decision is being sent, or the page has a final answer.
    pub const DECIDED: &str = "decided";
}

/// The `Set-Cookie` value for approval session `id`.
///
/// `SameSite=Lax`, where the agent's session cookie is `Strict`: the customer arrives from a
/// link in a text message or an email, a navigation from outside the site, and goes back and
/// forth between the page and their messages (to read the code). `Strict` would leave the
/// cookie off every such navigation, so a customer who opens the link again would find their
/// progress gone. `Lax` sends it on top-level navigations only; cross-site posts still go
/// without it, and the CSRF guard checks their origin anyway.
pub fn cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        LIFETIME.as_secs()
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
    };
    if !well_formed(&link.auth_req_id) {
        return Ok(view);
    }
    let now = bff.engine.now_ms();
    let store = bff.engine.store();
    let flow = store
        .flow_by_auth_req_id(&link.auth_req_id)
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
    Ok(view)
}

/// Does one step of the customer's; returns the `Set-Cookie` value to send, if any. What came
/// of it is kept in the customer's session for [`view`] to show, so refusals are `Ok` too.
pub async fn step(
    bff: &Bff,
    request: &Parts,
    link: &ApprovalLink,
    step: ApprovalStep,
) -> Result<Option<String>, Refusal> {
    if !well_formed(&link.auth_req_id) {
        return Ok(None);
    }
    let now = bff.engine.now_ms();
    let store = bff.engine.store();
    let address = limits::client_address(request, bff.trust_forwarded_for);
    if let Err(wait) = limits::hit(store, bff.limits.approval_per_ip, &address, now)
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
        .flow_by_auth_req_id(&link.auth_req_id)
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
        // Nothing left to do; the page says why.
        return Ok(None);
    }
    if let Some(flow) = &flow {
        opened(bff, flow).await;
    }
    let context = Context {
        bff,
        link,
        now,
        flow,
        session,
        other,
    };
    let result = match step {
        ApprovalStep::SendCode { identifier } => send_code(&context, identifier).await,
        ApprovalStep::VerifyCode { code } => verify_code(&context, code).await,
        ApprovalStep::Decide { approve } => decide(&context, approve).await,
        ApprovalStep::Report => report(&context).await,
    };
    result.map_err(unavailable)
}

/// What one step knows.
struct Context<'a> {
    bff: &'a Bff,
    link: &'a ApprovalLink,
    now: i64,
    /// The flow of the request, when this BFF started it.
    flow: Option<Flow>,
    /// The customer's live session for this request.
    session: Option<CustomerSession>,
    /// The customer's live session for another request, if that is what the cookie names.
    other: Option<CustomerSession>,
}

impl Context<'_> {
    /// The flow, if it is live: this BFF's, pending and not expired. Only then are codes sent
    /// or checked.
    fn live_flow(&self) -> Option<&Flow> {
        self.flow.as_ref().filter(|flow| {
            FlowStatus::parse(&flow.status) == Some(FlowStatus::Pending)
                && self.now < flow.expires_at
                && flow.auth_req_id.as_deref() == Some(self.link.auth_req_id.as_str())
        })
    }
}

/// A session about to be written: the request's session, or a new one with its cookie value.
struct Draft {
    /// The new session's cookie value; `None` for an update.
    id: Option<String>,
    /// The stage the stored session must still be at (for an update).
    expected: String,
    row: CustomerSession,
}

impl Draft {
    /// The request's session, or a new one.
    fn of(context: &Context<'_>) -> Self {
        match &context.session {
            Some(session) => Self {
                id: None,
                expected: session.stage.clone(),
                row: session.clone(),
            },
            None => Self::new(context),
        }
    }

    /// A new session for the request.
    fn new(context: &Context<'_>) -> Self {
        let (id, id_hash) = session::new_id();
        Self {
            id: Some(id),
            expected: stage::STARTED.to_owned(),
            row: CustomerSession {
                id_hash,
                auth_req_id: context.link.auth_req_id.clone(),
                flow_id: context.flow.as_ref().map(|flow| flow.id.clone()),
                identifier: None,
                hint_type: None,
                access_token: None,
                stage: stage::STARTED.to_owned(),
                outcome: None,
                notice: None,
                created_at: context.now,
                expires_at: context.now.saturating_add(lifetime_ms()),
                code_binding: None,
                code_sent_at: None,
                codes_sent: 0,
                wrong_codes: 0,
            },
        }
    }

    fn notice(mut self, notice: Option<ApprovalNotice>) -> Self {
        self.row.notice = notice.and_then(|notice| serde_json::to_string(&notice).ok());
        self
    }

    fn finished(mut self, outcome: ApprovalOutcome) -> Self {
        self.row.stage = stage::DECIDED.to_owned();
        self.row.outcome = Some(outcome.as_str().to_owned());
        self.row.access_token = None;
        self.row.notice = None;
        self
    }

    /// Stores it; returns the `Set-Cookie` value for a new session. An update that lost a race
    /// (another tab moved the session on) is dropped: the page shows what won.
    async fn save(self, context: &Context<'_>) -> Result<Option<String>, StoreError> {
        let store = context.bff.engine.store();
        match self.id {
            Some(id) => {
                store.insert_customer_session(&self.row).await?;
                Ok(Some(cookie(&id)))
            }
            None => {
                store
                    .update_customer_session(&self.row, &self.expected)
                    .await?;
                Ok(None)
            }
        }
    }
}

/// Where a one-time code goes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    channel: OtpChannel,
    hint_type: HintType,
    identifier: String,
}

impl Target {
    /// Where the request names: its phone number or email address (a user id names none).
    fn of_flow(flow: &Flow) -> Option<Self> {
        Self::of(&flow.hint_type, &flow.hint)
    }

    /// Where a session's code went.
    fn of_session(session: &CustomerSession) -> Option<Self> {
        Self::of(
            session.hint_type.as_deref()?,
            session.identifier.as_deref()?,
        )
    }

    /// What the customer typed, if it is an email address or a phone number.
    fn typed(typed: &str) -> Option<Self> {
        if typed.chars().count() > MAX_IDENTIFIER {
            return None;
        }
        Self::of(HintType::detect(typed).as_str(), typed)
    }

    fn of(hint_type: &str, identifier: &str) -> Option<Self> {
        let (channel, hint_type) = match hint_type {
            "phone" => (OtpChannel::Sms, HintType::Phone),
            "email" => (OtpChannel::Email, HintType::Email),
            _ => return None,
        };
        let identifier = normalised_hint(hint_type, identifier);
        (!identifier.is_empty()).then_some(Self {
            channel,
            hint_type,
            identifier,
        })
    }

    /// As the customer may see it.
    fn destination(&self) -> CodeDestination {
        match self.channel {
            OtpChannel::Sms => CodeDestination {
                channel: CodeChannel::Sms,
                masked: mask_phone(&self.identifier),
            },
            OtpChannel::Email => CodeDestination {
                channel: CodeChannel::Email,
                masked: mask_email(&self.identifier),
            },
        }
    }
}

/// The screen for the customer: a final answer first (theirs, then the request's), then the
/// rate limit, then their step.
fn screen(
    flow: Option<&Flow>,
    session: Option<&CustomerSession>,
    limited: Option<u64>,
    now: i64,
) -> ApprovalScreen {
    if let Some(outcome) = session
        .and_then(|session| session.outcome.as_deref())
        .and_then(ApprovalOutcome::parse)
    {
        return ApprovalScreen::Finished { outcome };
    }
    if let Some(outcome) = flow.and_then(|flow| flow_outcome(flow, now)) {
        return ApprovalScreen::Finished { outcome };
    }
    if let Some(retry_after) = limited {
        return ApprovalScreen::RateLimited { retry_after };
    }
    let notice = session
        .and_then(|session| session.notice.as_deref())
        .and_then(|notice| serde_json::from_str(notice).ok());
    let named = flow.and_then(Target::of_flow);
    match session.map(|session| session.stage.as_str()) {
        Some(stage::CODE_SENT) => match session.and_then(Target::of_session) {
            Some(target) => ApprovalScreen::EnterCode {
                sent_to: target.destination(),
                typed: named.is_none(),
                notice,
            },
            None => ApprovalScreen::Start {
                send_to: named.map(|target| target.destination()),
                notice,
            },
        },
        Some(stage::SIGNED_IN) => ApprovalScreen::Decide { notice },
        Some(stage::DECIDED) => ApprovalScreen::Decide {
            notice: Some(ApprovalNotice::Busy),
        },
        _ => ApprovalScreen::Start {
            send_to: named.map(|target| target.destination()),
            notice,
        },
    }
}

/// The final answer a flow gives the page, if it ended (or its time is up).
fn flow_outcome(flow: &Flow, now: i64) -> Option<ApprovalOutcome> {
    match FlowStatus::parse(&flow.status)? {
        FlowStatus::Approved | FlowStatus::Denied => Some(ApprovalOutcome::AlreadyDecided),
        FlowStatus::Expired => Some(ApprovalOutcome::Expired),
        FlowStatus::Cancelled | FlowStatus::Failed => Some(ApprovalOutcome::Ended),
        FlowStatus::Pending if now >= flow.expires_at => Some(ApprovalOutcome::Expired),
        FlowStatus::Pending | FlowStatus::Starting => None,
    }
}

/// Step 2: send a code, where the request names, or to what the customer typed. Only a live
/// flow of this BFF sends anything; every answer depends on this BFF's counts alone.
async fn send_code(
    context: &Context<'_>,
    identifier: Option<String>,
) -> Result<Option<String>, StoreError> {
    if context
        .session
        .as_ref()
        .is_some_and(|s| matches!(s.stage.as_str(), stage::SIGNED_IN | stage::DECIDED))
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
    let store = context.bff.engine.store();
    let request = request_subject(&context.link.auth_req_id);
    if let Err(wait) = limits::hit(
        store,
        context.bff.limits.codes_per_request,
        &request,
        context.now,
    )
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
        s.stage == stage::CODE_SENT && s.identifier.as_deref() == Some(target.identifier.as_str())
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
            draft.row.stage = stage::CODE_SENT.to_owned();
            draft.row.identifier = Some(target.identifier.clone());
            draft.row.hint_type = Some(target.hint_type.as_str().to_owned());
            draft.row.code_binding = went.then(|| binding.expose().to_owned());
            draft.row.code_sent_at = Some(context.now);
            draft.row.codes_sent = draft.row.codes_sent.saturating_add(1);
            return draft.save(context).await;
        }
        (None, notice) => notice,
    };
    draft.notice(Some(notice)).save(context).await
}

/// What the page says when a code to the address the request names was not sent.
fn sent_error_notice(sent: &Result<(), OidcError>) -> ApprovalNotice {
    match sent {
        Err(OidcError::RateLimited { retry_after }) => ApprovalNotice::TooManyCodes {
            retry_after: retry_after.map(|wait| wait.as_secs()),
        },
        Err(OidcError::DeliveryFailed) => ApprovalNotice::NotSent,
        Err(error) => {
            tracing::warn!(%error, "a one-time code could not be sent");
            ApprovalNotice::Unavailable
        }
        Ok(()) => ApprovalNotice::Unavailable,
    }
}

/// What the code's message says it is for: "your call with Demo Bank", when the display name
/// is plain enough for a text message.
fn purpose(display_name: &str) -> Option<String> {
    let name = display_name.trim();
    let plain = !name.is_empty()
        && name.chars().count() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | ',' | '&' | '\'' | '-'))
        && !name.contains("..");
    plain.then(|| format!("your call with {name}"))
}

/// The per-request counter's subject: a hash of the `auth_req_id` (never the id itself).
fn request_subject(auth_req_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(auth_req_id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Step 3: check the code; signed in, the session gets a new id and the customer's token.
async fn verify_code(context: &Context<'_>, code: String) -> Result<Option<String>, StoreError> {
    let Some(session) = context
        .session
        .as_ref()
        .filter(|s| s.stage == stage::CODE_SENT)
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
    let store = context.bff.engine.store();
    if !store
        .update_customer_session(&counted, stage::CODE_SENT)
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
        Draft {
            id: None,
            expected: stage::CODE_SENT.to_owned(),
            row: counted.clone(),
        }
        .notice(Some(notice))
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
            let (id, id_hash) = session::new_id();
            let Some(sealed) = context.bff.sealer.seal(
                Purpose::CustomerToken,
                &id_hash,
                signed_in.access_token.expose(),
            ) else {
                revoke(&client, &signed_in.access_token).await;
                return Draft::of(context)
                    .notice(Some(ApprovalNotice::Unavailable))
                    .save(context)
                    .await;
            };
            let next = CustomerSession {
                id_hash,
                access_token: Some(sealed),
                stage: stage::SIGNED_IN.to_owned(),
                notice: None,
                expires_at: context.now.saturating_add(lifetime_ms()),
                ..session.clone()
            };
            let store = context.bff.engine.store();
            if store
                .rotate_customer_session(&session.id_hash, stage::CODE_SENT, &next)
                .await?
            {
                if let Some(flow_id) = &session.flow_id {
                    record(context.bff, flow_id, EventKind::SignedIn).await;
                }
                return Ok(Some(cookie(&id)));
            }
            // Another tab signed in first: this sign-in is not needed.
            revoke(&client, &signed_in.access_token).await;
            return Ok(None);
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

/// Whether the customer who signed in is the one the request names. A request for an email
/// address or phone number sent the code there, so whoever holds it is that customer; a request
/// for a user id let the customer say where to send the code, so the sign-in's `sub` (from its
/// validated ID token, else from userinfo) must be that id. (Codes are only checked for live
/// flows of this BFF, so `flow` is there; without it, the provider decides when the customer
/// does.)
async fn is_the_customer(
    client: &OidcClient,
    flow: Option<&Flow>,
    signed_in: &OtpSession,
    now_ms: i64,
) -> Result<bool, OidcError> {
    let Some(flow) = flow.filter(|flow| flow.hint_type == HintType::UserId.as_str()) else {
        return Ok(true);
    };
    let wanted = normalised_hint(HintType::UserId, &flow.hint);
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
async fn decide(context: &Context<'_>, approve: bool) -> Result<Option<String>, StoreError> {
    let store = context.bff.engine.store();
    let Some(session) = &context.session else {
        // A session made for another request may not decide this one.
        if context
            .other
            .as_ref()
            .is_some_and(|other| other.stage == stage::SIGNED_IN)
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
        .filter(|_| session.stage == stage::SIGNED_IN)
        .and_then(|sealed| {
            (context.bff.sealer).open(Purpose::CustomerToken, &session.id_hash, sealed)
        })
    else {
        return Ok(None);
    };
    let token = Secret::new(token);
    // Claim the decision: of two posts (a double tap, two tabs), one goes on.
    let claimed = CustomerSession {
        stage: stage::DECIDED.to_owned(),
        notice: None,
        ..session.clone()
    };
    if !store
        .update_customer_session(&claimed, stage::SIGNED_IN)
        .await?
    {
        return Ok(None);
    }
    let back_to = |notice: ApprovalNotice| CustomerSession {
        stage: stage::SIGNED_IN.to_owned(),
        notice: serde_json::to_string(&notice).ok(),
        ..session.clone()
    };
    let client = match context.bff.oidc.client().await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "a customer's decision could not be sent");
            store
                .update_customer_session(&back_to(ApprovalNotice::Unavailable), stage::DECIDED)
                .await?;
            return Ok(None);
        }
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
                stage: stage::STARTED.to_owned(),
                access_token: None,
                notice: serde_json::to_string(&ApprovalNotice::SignInAgain).ok(),
                ..session.clone()
            };
            store
                .update_customer_session(&again, stage::DECIDED)
                .await?;
            return Ok(None);
        }
        Err(error) => {
            tracing::warn!(%error, "a customer's decision could not be sent");
            store
                .update_customer_session(&back_to(ApprovalNotice::Unavailable), stage::DECIDED)
                .await?;
            return Ok(None);
        }
    };
    revoke(&client, &token).await;
    let done = Draft {
        id: None,
        expected: stage::DECIDED.to_owned(),
        row: claimed,
    }
    .finished(outcome);
    done.save(context).await
}

/// "I did not ask for this": the flow ends for the agent at once, and a signed-in customer's
/// "no" also goes to the provider. No sign-in needed.
async fn report(context: &Context<'_>) -> Result<Option<String>, StoreError> {
    if let Some(session) = &context.session
        && session.stage == stage::SIGNED_IN
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

/// The customer's live session for this request, and one for another request (what else the
/// cookie may name).
async fn sessions(
    bff: &Bff,
    headers: &HeaderMap,
    link: &ApprovalLink,
    now: i64,
) -> Result<(Option<CustomerSession>, Option<CustomerSession>), StoreError> {
    let Some(id) = id_from(headers) else {
        return Ok((None, None));
    };
    let Some(found) = bff
        .engine
        .store()
        .customer_session(&session::hash(&id))
        .await?
        .filter(|found| found.is_live(now))
    else {
        return Ok((None, None));
    };
    if found.auth_req_id == link.auth_req_id {
        Ok((Some(found), None))
    } else {
        Ok((None, Some(found)))
    }
}

/// Records `link_opened` on the customer's first step for the flow (not on a GET: scanners).
async fn opened(bff: &Bff, flow: &Flow) {
    let seen = bff
        .engine
        .store()
        .events_for_flow(&flow.id, 0, 1000)
        .await
        .map(|events| {
            events
                .iter()
                .any(|event| event.kind == EventKind::LinkOpened.as_str())
        });
    match seen {
        Ok(true) => {}
        Ok(false) => record(bff, &flow.id, EventKind::LinkOpened).await,
        Err(error) => tracing::warn!(%error, flow_id = flow.id, "the flow's events were not read"),
    }
}

/// Records a customer's step on the flow; a flow that ended meanwhile is fine.
async fn record(bff: &Bff, flow_id: &str, kind: EventKind) {
    match bff.engine.record(flow_id, kind, None).await {
        Ok(()) | Err(FlowError::Ended | FlowError::NotFound) => {}
        Err(error) => {
            tracing::warn!(%error, flow_id, kind = kind.as_str(), "an approval step was not recorded");
        }
    }
}

/// Revokes the customer's token; a failure is logged (the token expires on its own).
async fn revoke(client: &OidcClient, token: &Secret) {
    if let Err(error) = client.revoke(token).await {
        tracing::warn!(%error, "a customer's token was not revoked");
    }
}

/// Whether `auth_req_id` is worth looking up: present, not huge, visible ASCII.
fn well_formed(auth_req_id: &str) -> bool {
    !auth_req_id.is_empty()
        && auth_req_id.len() <= MAX_AUTH_REQ_ID
        && auth_req_id.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether a link's `binding_message` may be shown: Mosaic's `^[a-zA-Z0-9-._+/!?#]{1,20}$`.
fn plain_binding_message(message: &str) -> bool {
    (1..=20).contains(&message.len())
        && message
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._+/!?#".contains(&b))
}

fn lifetime_ms() -> i64 {
    i64::try_from(LIFETIME.as_millis()).unwrap_or(i64::MAX)
}

fn unavailable(error: StoreError) -> Refusal {
    tracing::error!(%error, "the approval page's store failed");
    Refusal::Unavailable("Something went wrong on our side. Try again in a moment.".to_owned())
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn flow(hint_type: &str, hint: &str, status: &str) -> Flow {
        Flow {
            id: "flow-1".into(),
            agent_sub: "agent".into(),
            agent_name: "Agent Smith".into(),
            hint: hint.into(),
            hint_type: hint_type.into(),
            channel: "sms".into(),
            binding_message: "K7-42QX".into(),
            custom_message: None,
            auth_req_id: Some("req".into()),
            link: None,
            status: status.into(),
            created_at: NOW,
            expires_at: NOW + 300_000,
            interval_secs: 5,
            next_poll_at: NOW,
            poll_failures: 0,
            decided_at: None,
            ended_at: None,
            outcome_detail: None,
            customer: None,
            tokens: None,
            version: 0,
        }
    }

    fn session(stage: &str) -> CustomerSession {
        CustomerSession {
            id_hash: vec![1],
            auth_req_id: "req".into(),
            flow_id: None,
            identifier: Some("bob@example.com".into()),
            hint_type: Some("email".into()),
            access_token: None,
            stage: stage.into(),
            outcome: None,
            notice: None,
            created_at: NOW,
            expires_at: NOW + 600_000,
            code_binding: None,
            code_sent_at: None,
            codes_sent: 0,
            wrong_codes: 0,
        }
    }

    #[test]
    fn the_cookie_is_host_only_secure_script_proof_and_lax() {
        let set = cookie("abc");
        for part in [
            "__Host-countersign-approval=abc",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Max-Age=600",
        ] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set.contains("Domain"));
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-countersign=agent; __Host-countersign-approval=c"),
        );
        assert_eq!(id_from(&headers).as_deref(), Some("c"));
        assert_eq!(id_from(&HeaderMap::new()), None);
    }

    #[test]
    fn the_request_names_where_the_code_goes_unless_it_names_a_user_id() {
        let sms = Target::of_flow(&flow("phone", "+1 555 555 0101", "pending")).unwrap();
        assert_eq!(sms.channel, OtpChannel::Sms);
        assert_eq!(sms.identifier, "+15555550101");
        assert_eq!(sms.destination().masked, "•••0101");
        let email = Target::of_flow(&flow("email", "Alice@Example.com", "pending")).unwrap();
        assert_eq!(email.channel, OtpChannel::Email);
        assert_eq!(email.destination().masked, "a•••e@example.com");
        assert_eq!(Target::of_flow(&flow("user_id", "alice", "pending")), None);
        assert_eq!(Target::typed("alice"), None);
        assert_eq!(
            Target::typed(" bob@example.com ").map(|t| t.hint_type),
            Some(HintType::Email)
        );
        assert_eq!(
            Target::typed("+1 (555) 555-0102").map(|t| t.identifier),
            Some("+15555550102".to_owned())
        );
        assert_eq!(
            Target::typed(&format!("{}@x.example", "a".repeat(260))),
            None
        );
    }

    #[test]
    fn screens_follow_the_session_then_the_flow() {
        let pending = flow("phone", "+15555550101", "pending");
        let start = screen(Some(&pending), None, None, NOW);
        assert_eq!(
            start,
            ApprovalScreen::Start {
                send_to: Some(CodeDestination {
                    channel: CodeChannel::Sms,
                    masked: "•••0101".into()
                }),
                notice: None
            }
        );
        let by_id = flow("user_id", "alice", "pending");
        assert_eq!(
            screen(Some(&by_id), None, None, NOW),
            ApprovalScreen::Start {
                send_to: None,
                notice: None
            }
        );
        let mut sent = session(stage::CODE_SENT);
        sent.notice = Some(r#"{"kind":"wrong_code","tries_left":2}"#.into());
        assert_eq!(
            screen(Some(&by_id), Some(&sent), None, NOW),
            ApprovalScreen::EnterCode {
                sent_to: CodeDestination {
                    channel: CodeChannel::Email,
                    masked: "b•••b@example.com".into()
                },
                typed: true,
                notice: Some(ApprovalNotice::WrongCode {
                    tries_left: Some(2)
                })
            }
        );
        assert_eq!(
            screen(None, Some(&session(stage::SIGNED_IN)), None, NOW),
            ApprovalScreen::Decide { notice: None }
        );
        // Limited: the wait, unless there is a final answer.
        assert_eq!(
            screen(
                Some(&pending),
                Some(&session(stage::SIGNED_IN)),
                Some(30),
                NOW
            ),
            ApprovalScreen::RateLimited { retry_after: 30 }
        );
        let mut done = session(stage::DECIDED);
        done.outcome = Some("approved".into());
        let approved = flow("phone", "+15555550101", "approved");
        assert_eq!(
            screen(Some(&approved), Some(&done), Some(30), NOW),
            ApprovalScreen::Finished {
                outcome: ApprovalOutcome::Approved
            }
        );
        // Someone else's answer, an expiry, an agent's cancel.
        for (status, at, outcome) in [
            ("approved", NOW, ApprovalOutcome::AlreadyDecided),
            ("denied", NOW, ApprovalOutcome::AlreadyDecided),
            ("expired", NOW, ApprovalOutcome::Expired),
            ("pending", NOW + 300_000, ApprovalOutcome::Expired),
            ("cancelled", NOW, ApprovalOutcome::Ended),
            ("failed", NOW, ApprovalOutcome::Ended),
        ] {
            assert_eq!(
                screen(Some(&flow("email", "a@b.example", status)), None, None, at),
                ApprovalScreen::Finished { outcome },
                "{status}"
            );
        }
    }

    #[test]
    fn the_message_names_the_call_when_the_name_is_plain() {
        assert_eq!(
            purpose("Demo Bank").as_deref(),
            Some("your call with Demo Bank")
        );
        assert_eq!(
            purpose(" Smith & Sons ").as_deref(),
            Some("your call with Smith & Sons")
        );
        for odd in ["", "Bank <b>", "bank.example/x", "Ba..nk", &"x".repeat(41)] {
            assert_eq!(purpose(odd), None, "{odd}");
        }
        assert_ne!(request_subject("a"), request_subject("b"));
        assert!(!request_subject("secret-auth-req-id").contains("secret"));
    }

    #[test]
    fn links_are_checked_before_use() {
        assert!(well_formed("abc.DEF_-123"));
        assert!(!well_formed(""));
        assert!(!well_formed("has space"));
        assert!(!well_formed(&"x".repeat(MAX_AUTH_REQ_ID + 1)));
        assert!(plain_binding_message("K7-42QX"));
        assert!(!plain_binding_message("<b>hi</b>"));
        assert!(!plain_binding_message("x\u{202e}y"));
        assert!(!plain_binding_message(&"a".repeat(21)));
    }
}
