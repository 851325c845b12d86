//! The customer approval page, `/approve?auth_req_id=…&binding_message=…`: the link the provider
//! sends the customer (its `login_uri`).
//!
//! Mobile-first, and whole without JavaScript: the route renders completely on the server
//! (`SsrMode::Async`), and every step is an [`ActionForm`] posting to a server function. Without
//! the wasm, a post is a plain HTML form post: the server function does the step, keeps the
//! customer's progress on the BFF (behind the `__Host-countersign-approval` cookie) and answers
//! `303 See Other` back to the page, which reads that progress again. With the wasm, the same
//! forms post in the background and the page reloads its state. A GET of the page never changes
//! anything (mail scanners open links).
//!
//! Steps: who asks and the binding code → send a one-time code → enter it → approve or deny.
//! "I did not ask for this" is there at every step and needs no sign-in. The page never holds a
//! token, a code or a secret; the provider's `auth_req_id` appears only in the link itself and in
//! the forms' hidden fields, which post it back (the page cannot work without it before the
//! customer has a session, and it is already in the address bar).

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// What the approval page shows: who asks, the binding code, and the screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    /// The organisation that asks (`COUNTERSIGN_DISPLAY_NAME`).
    pub display_name: String,
    /// The agent's name, when the request is one this BFF started.
    pub agent: Option<String>,
    /// The code the agent reads out, when known.
    pub binding_code: Option<String>,
    /// Where the customer stands.
    pub screen: ApprovalScreen,
}

/// Where the customer stands on the approval page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
pub enum ApprovalScreen {
    /// Step 1: send a code, to `send_to` when the request names where, else to the email
    /// address or phone number the customer types.
    Start {
        /// Where the code goes, masked; `None`: ask the customer.
        send_to: Option<CodeDestination>,
        /// A message about the last attempt.
        notice: Option<ApprovalNotice>,
    },
    /// Step 2: enter the code.
    EnterCode {
        /// Where it went, masked.
        sent_to: CodeDestination,
        /// Whether the customer typed that address (they may type another).
        typed: bool,
        /// A message about the last attempt.
        notice: Option<ApprovalNotice>,
    },
    /// Step 3: approve or deny.
    Decide {
        /// A message about the last attempt.
        notice: Option<ApprovalNotice>,
    },
    /// Nothing more to do.
    Finished {
        /// Why.
        outcome: ApprovalOutcome,
    },
    /// Too many attempts from this address; wait this many seconds.
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
}

/// How a one-time code reaches the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeChannel {
    /// A text message.
    Sms,
    /// An email.
    Email,
}

/// Where a one-time code goes, as the customer may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeDestination {
    /// By text message or email.
    pub channel: CodeChannel,
    /// The phone number or address, masked (`•••0101`, `a•••e@example.com`).
    pub masked: String,
}

/// A final answer of the approval page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalOutcome {
    /// The customer approved.
    Approved,
    /// The customer denied.
    Denied,
    /// The customer said they did not ask for this; the request was stopped.
    Reported,
    /// The request expired.
    Expired,
    /// Someone already answered the request.
    AlreadyDecided,
    /// The signed-in customer is not the one the request is for.
    WrongPerson,
    /// The agent cancelled the request, or it could not go on.
    Ended,
    /// The link is incomplete.
    InvalidLink,
}

impl ApprovalOutcome {
    /// Every outcome.
    pub const ALL: [Self; 8] = [
        Self::Approved,
        Self::Denied,
        Self::Reported,
        Self::Expired,
        Self::AlreadyDecided,
        Self::WrongPerson,
        Self::Ended,
        Self::InvalidLink,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Reported => "reported",
            Self::Expired => "expired",
            Self::AlreadyDecided => "already_decided",
            Self::WrongPerson => "wrong_person",
            Self::Ended => "ended",
            Self::InvalidLink => "invalid_link",
        }
    }

    /// The outcome named `value`, if any.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == value)
    }

    /// The screen's heading.
    pub fn title(self) -> &'static str {
        match self {
            Self::Approved => "Approved",
            Self::Denied => "Denied",
            Self::Reported => "Thank you for telling us",
            Self::Expired => "This request has expired",
            Self::AlreadyDecided => "Already answered",
            Self::WrongPerson => "This request is not for you",
            Self::Ended => "This request is closed",
            Self::InvalidLink => "This link does not work",
        }
    }

    /// What the customer reads, in plain sentences.
    pub fn sentence(self, display_name: &str) -> String {
        match self {
            Self::Approved => "You can go back to your call.".to_owned(),
            Self::Denied => {
                "You said no, and the agent has been told. Nothing was shared. You can go back \
                 to your call."
                    .to_owned()
            }
            Self::Reported => format!(
                "We stopped this request and told {display_name}. Nothing was shared and \
                 nothing was changed. If someone is pressing you on a call, hang up."
            ),
            Self::Expired => {
                "This request has expired. Ask the agent to send a new one.".to_owned()
            }
            Self::AlreadyDecided => {
                "This request has already been answered. Nothing more is needed.".to_owned()
            }
            Self::WrongPerson => {
                "This request is for someone else. Nothing was changed.".to_owned()
            }
            Self::Ended => {
                "This request is no longer open. Nothing was changed. Ask the agent to send a new \
                 one if you still need it."
                    .to_owned()
            }
            Self::InvalidLink => {
                "Open the link from your message again, or ask the agent to send a new one."
                    .to_owned()
            }
        }
    }
}

/// A message about the customer's last attempt, shown above the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApprovalNotice {
    /// A new code went out.
    CodeResent,
    /// The customer must type an email address or phone number.
    NeedIdentifier,
    /// What was typed is not six digits.
    BadCode,
    /// The provider refused the code.
    WrongCode {
        /// Tries left, when the provider says.
        tries_left: Option<u32>,
    },
    /// Too many wrong codes on this page (across its codes): a new request is needed.
    CodeLocked,
    /// Too many codes were sent or tried; wait, if the provider said how long.
    TooManyCodes {
        /// Seconds.
        retry_after: Option<u64>,
    },
    /// The code could not be delivered.
    NotSent,
    /// Something failed on the way (the provider was down).
    Unavailable,
    /// The customer's sign-in ended before their decision.
    SignInAgain,
    /// A decision is being sent right now.
    Busy,
}

impl ApprovalNotice {
    /// What the customer reads.
    pub fn sentence(self) -> String {
        match self {
            Self::CodeResent => "We sent a new code.".to_owned(),
            Self::NeedIdentifier => "Type your email address or phone number.".to_owned(),
            Self::BadCode => "Type the 6 digits from the message.".to_owned(),
            Self::WrongCode {
                tries_left: Some(1),
            } => "That code is not right. 1 try left.".to_owned(),
            Self::WrongCode {
                tries_left: Some(n),
            } if n > 0 => format!("That code is not right. {n} tries left."),
            Self::WrongCode { .. } | Self::CodeLocked => {
                "That code is not right, and no tries are left. Ask the agent to send you a new \
                 request."
                    .to_owned()
            }
            Self::TooManyCodes {
                retry_after: Some(seconds),
            } => format!(
                "Too many codes were asked for. Try again in {}.",
                wait(seconds)
            ),
            Self::TooManyCodes { retry_after: None } => {
                "Too many codes were asked for. Try again later.".to_owned()
            }
            Self::NotSent => "We could not send the code. Try again.".to_owned(),
            Self::Unavailable => {
                "Something went wrong on our side. Try again in a moment.".to_owned()
            }
            Self::SignInAgain => {
                "Your sign-in has ended. Send a new code to sign in again.".to_owned()
            }
            Self::Busy => {
                "We are still sending your answer. Reload this page in a moment.".to_owned()
            }
        }
    }
}

/// A wait in words: `45 seconds`, `1 minute`, `10 minutes`.
pub fn wait(seconds: u64) -> String {
    match seconds {
        0..=1 => "1 second".to_owned(),
        2..=59 => format!("{seconds} seconds"),
        60..=119 => "1 minute".to_owned(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// The link the customer opened: the provider's request and the binding message it carries.
#[derive(Clone, PartialEq, Eq)]
pub struct ApprovalLink {
    /// The provider's `auth_req_id` (a secret: never shown, never logged).
    pub auth_req_id: String,
    /// The `binding_message` of the link, if any (the BFF shows the one it knows instead).
    pub binding_message: Option<String>,
}

impl ApprovalLink {
    /// The link's parts, empty ones dropped.
    pub fn new(auth_req_id: String, binding_message: Option<String>) -> Self {
        Self {
            auth_req_id,
            binding_message: binding_message.filter(|message| !message.is_empty()),
        }
    }

    /// The page's own address, for the redirect back after a form post.
    pub fn page_url(&self) -> String {
        let mut url = format!("/approve?auth_req_id={}", encode(&self.auth_req_id));
        if let Some(message) = &self.binding_message {
            url.push_str("&binding_message=");
            url.push_str(&encode(message));
        }
        url
    }
}

impl std::fmt::Debug for ApprovalLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalLink")
            .field("auth_req_id", &"[redacted]")
            .field("binding_message", &self.binding_message)
            .finish()
    }
}

/// What the customer did on the page.
#[derive(Clone, PartialEq, Eq)]
pub enum ApprovalStep {
    /// Send a one-time code (again), to the address the request names or the one typed.
    SendCode {
        /// The email address or phone number the customer typed, if any.
        identifier: Option<String>,
    },
    /// Check the code the customer typed.
    VerifyCode {
        /// The code (a secret).
        code: String,
    },
    /// Approve (`true`) or deny.
    Decide {
        /// The decision.
        approve: bool,
    },
    /// "I did not ask for this."
    Report,
}

impl std::fmt::Debug for ApprovalStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SendCode { identifier } => f
                .debug_struct("SendCode")
                .field("identifier", &identifier.as_ref().map(|_| "[redacted]"))
                .finish(),
            Self::VerifyCode { .. } => f
                .debug_struct("VerifyCode")
                .field("code", &"[redacted]")
                .finish(),
            Self::Decide { approve } => f.debug_struct("Decide").field("approve", approve).finish(),
            Self::Report => f.write_str("Report"),
        }
    }
}

/// `value` percent-encoded for a query string (unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The approval page as the request's customer sees it. Changes nothing.
#[server(prefix = "/api", endpoint = "approval")]
pub async fn load_approval(
    auth_req_id: String,
    binding_message: Option<String>,
) -> Result<ApprovalView, ServerFnError> {
    let parts = server::parts()?;
    server::no_store();
    crate::ssr::backend()?
        .approval(parts, ApprovalLink::new(auth_req_id, binding_message))
        .await
        .map_err(crate::ssr::failure)
}

/// Sends the customer a one-time code.
#[server(prefix = "/api", endpoint = "approval-send-code")]
pub async fn send_approval_code(
    auth_req_id: String,
    binding_message: Option<String>,
    identifier: Option<String>,
) -> Result<(), ServerFnError> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::SendCode { identifier },
    )
    .await
}

/// Checks the customer's one-time code and signs them in.
#[server(prefix = "/api", endpoint = "approval-verify-code")]
pub async fn verify_approval_code(
    auth_req_id: String,
    binding_message: Option<String>,
    code: String,
) -> Result<(), ServerFnError> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::VerifyCode { code },
    )
    .await
}

/// Records the signed-in customer's decision (`decision` is `approve` or `deny`).
#[server(prefix = "/api", endpoint = "approval-decide")]
pub async fn decide_approval(
    auth_req_id: String,
    binding_message: Option<String>,
    decision: String,
) -> Result<(), ServerFnError> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::Decide {
            approve: decision == "approve",
        },
    )
    .await
}

/// "I did not ask for this": stops the request.
#[server(prefix = "/api", endpoint = "approval-report")]
pub async fn report_approval(
    auth_req_id: String,
    binding_message: Option<String>,
) -> Result<(), ServerFnError> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::Report,
    )
    .await
}

/// What the server functions share: the request, the cookie, the redirect back.
#[cfg(feature = "ssr")]
mod server {
    use http::{HeaderValue, StatusCode, header, request::Parts};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    use super::{ApprovalLink, ApprovalStep};

    /// The request being answered.
    pub fn parts() -> Result<Parts, ServerFnError> {
        use_context::<Parts>().ok_or_else(|| ServerFnError::new("the request is missing"))
    }

    /// Marks the response as not to be stored by any cache.
    pub fn no_store() {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }

    /// Does `step` on the BFF, sets the approval cookie it gives, and, for a plain form post
    /// (no wasm: the browser asked for HTML), answers `303 See Other` back to the page, which
    /// then shows where the customer stands. Outcomes are kept on the BFF, so this answers
    /// `Ok` for them too; only a failure of the BFF itself is an error.
    pub async fn step(link: ApprovalLink, step: ApprovalStep) -> Result<(), ServerFnError> {
        let parts = parts()?;
        let plain_form = parts
            .headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("text/html"));
        let back = link.page_url();
        no_store();
        let cookie = crate::ssr::backend()?
            .approval_step(parts, link, step)
            .await
            .map_err(crate::ssr::failure)?;
        let response = use_context::<ResponseOptions>();
        if let (Some(response), Some(cookie)) = (&response, cookie) {
            let value = HeaderValue::from_str(&cookie)
                .map_err(|_| ServerFnError::new("the cookie cannot be sent"))?;
            response.append_header(header::SET_COOKIE, value);
        }
        if plain_form && let Some(response) = &response {
            let location = HeaderValue::from_str(&back)
                .map_err(|_| ServerFnError::new("the page address cannot be sent"))?;
            // Set here, so leptos_axum does not send the browser to the `Referer` instead.
            response.insert_header(header::LOCATION, location);
            response.set_status(StatusCode::SEE_OTHER);
        }
        Ok(())
    }
}

/// The hidden fields every form of the page posts: the link's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PageLink {
    auth_req_id: String,
    binding_message: Option<String>,
}

/// The page's forms, one server action each.
#[derive(Clone, Copy)]
struct Actions {
    send: ServerAction<SendApprovalCode>,
    verify: ServerAction<VerifyApprovalCode>,
    decide: ServerAction<DecideApproval>,
    report: ServerAction<ReportApproval>,
}

impl Actions {
    fn new() -> Self {
        Self {
            send: ServerAction::new(),
            verify: ServerAction::new(),
            decide: ServerAction::new(),
            report: ServerAction::new(),
        }
    }

    /// Changes whenever a form was posted (with the wasm), so the page reloads its state.
    fn versions(self) -> usize {
        self.send.version().get()
            + self.verify.version().get()
            + self.decide.version().get()
            + self.report.version().get()
    }
}

/// `/approve`: the customer's approval page.
#[component]
pub fn ApprovePage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    server::no_store();
    let query = use_query_map();
    let link = Memo::new(move |_| {
        query.with(|q| PageLink {
            auth_req_id: q.get("auth_req_id").unwrap_or_default(),
            binding_message: q.get("binding_message").filter(|m| !m.is_empty()),
        })
    });
    let actions = Actions::new();
    let state = Resource::new(
        move || (link.get(), actions.versions()),
        |(link, _)| load_approval(link.auth_req_id, link.binding_message),
    );

    view! {
        <Title text="Confirm it's you" />
        // The link carries the request's handle: never send it to another site as a Referer.
        <Meta name="referrer" content="same-origin" />
        <Meta name="robots" content="noindex, nofollow" />
        <main class="approve">
            <Suspense fallback=|| {
                view! { <p class="approve-lede">"Loading…"</p> }
            }>
                {move || Suspend::new(async move {
                    let link = link.get();
                    match state.await {
                        Ok(approval) => screen(approval, &link, actions),
                        Err(_) => {
                            view! {
                                <h1>"Something went wrong"</h1>
                                <p class="approve-lede">
                                    "We could not load this request. Try again in a moment."
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </main>
    }
}

/// One screen of the page.
fn screen(approval: ApprovalView, link: &PageLink, actions: Actions) -> AnyView {
    let ApprovalView {
        display_name,
        agent,
        binding_code,
        screen,
    } = approval;
    let asks = match &agent {
        Some(agent) => format!("{agent} at {display_name} asked us to check that it's you."),
        None => format!("{display_name} asked us to check that it's you."),
    };
    let brand = view! { <p class="approve-brand">{display_name.clone()}</p> };
    let code = binding_code.map(|code| {
        view! {
            <section class="approve-code" aria-labelledby="approve-code-label">
                <p id="approve-code-label" class="approve-code-label">
                    "Code from the agent"
                </p>
                <p class="approve-code-value" data-testid="binding-code">
                    {code}
                </p>
                <p class="approve-code-help">
                    "Check that this code matches the one the agent reads to you."
                </p>
            </section>
        }
    });
    let body = match screen {
        ApprovalScreen::Start { send_to, notice } => {
            let form = match send_to {
                Some(to) => {
                    let how = match to.channel {
                        CodeChannel::Sms => "by text message",
                        CodeChannel::Email => "by email",
                    };
                    let hidden = fields(link);
                    view! {
                        <ActionForm action=actions.send>
                            {hidden}
                            <button type="submit" class="approve-button approve-primary">
                                {format!("Send a code to {}", to.masked)}
                            </button>
                            <p class="approve-help">{format!("We send it {how}.")}</p>
                        </ActionForm>
                    }
                    .into_any()
                }
                None => identifier_form(link, actions, "Send me a code"),
            };
            view! {
                <h1>"Confirm it's you"</h1>
                <p class="approve-lede">{asks}</p>
                {code}
                {notice_view(notice)}
                {form}
            }
            .into_any()
        }
        ApprovalScreen::EnterCode {
            sent_to,
            typed,
            notice,
        } => {
            let sent = if typed {
                format!(
                    "If {} is yours, we sent a code to it. It expires in 10 minutes.",
                    sent_to.masked
                )
            } else {
                format!(
                    "We sent it to {}. It expires in 10 minutes.",
                    sent_to.masked
                )
            };
            let other = typed.then(|| {
                let form = identifier_form(link, actions, "Send a code there");
                view! {
                    <details class="approve-other">
                        <summary>"Use another email address or phone number"</summary>
                        {form}
                    </details>
                }
            });
            let (verify_fields, send_fields) = (fields(link), fields(link));
            view! {
                <h1>"Enter the 6-digit code"</h1>
                <p class="approve-lede">{sent}</p>
                {notice_view(notice)}
                <ActionForm action=actions.verify>
                    {verify_fields}
                    <label class="approve-label" for="approve-code-input">
                        "6-digit code"
                    </label>
                    <input
                        id="approve-code-input"
                        class="approve-input approve-otp"
                        type="text"
                        name="code"
                        inputmode="numeric"
                        autocomplete="one-time-code"
                        pattern="[0-9 ]*"
                        maxlength="8"
                        required=true
                        autofocus=true
                    />
                    <button type="submit" class="approve-button approve-primary">
                        "Continue"
                    </button>
                </ActionForm>
                <ActionForm action=actions.send>
                    {send_fields}
                    <button type="submit" class="approve-link">
                        "Send a new code"
                    </button>
                </ActionForm>
                {other}
                {code}
            }
            .into_any()
        }
        ApprovalScreen::Decide { notice } => {
            let who = agent.unwrap_or_else(|| "The agent".to_owned());
            let (yes_fields, no_fields) = (fields(link), fields(link));
            view! {
                <h1>"Approve this request?"</h1>
                <p class="approve-lede">
                    {format!(
                        "If you approve, {who} at {display_name} can help you with your account on this call.",
                    )}
                </p>
                {code}
                {notice_view(notice)}
                <div class="approve-choices">
                    <ActionForm action=actions.decide>
                        {yes_fields}
                        <input type="hidden" name="decision" value="approve" />
                        <button type="submit" class="approve-button approve-yes">
                            "Approve"
                        </button>
                    </ActionForm>
                    <ActionForm action=actions.decide>
                        {no_fields}
                        <input type="hidden" name="decision" value="deny" />
                        <button type="submit" class="approve-button approve-no">
                            "Deny"
                        </button>
                    </ActionForm>
                </div>
            }
            .into_any()
        }
        ApprovalScreen::Finished { outcome } => {
            return view! {
                {brand}
                <section class="approve-final" data-outcome=outcome.as_str()>
                    <h1>{outcome.title()}</h1>
                    <p class="approve-lede">{outcome.sentence(&display_name)}</p>
                </section>
            }
            .into_any();
        }
        ApprovalScreen::RateLimited { retry_after } => {
            #[cfg(feature = "ssr")]
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(http::StatusCode::TOO_MANY_REQUESTS);
                response.insert_header(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(retry_after),
                );
            }
            return view! {
                {brand}
                <section class="approve-final" data-outcome="rate_limited">
                    <h1>"Too many attempts"</h1>
                    <p class="approve-lede">
                        {format!("Wait {} and try again.", wait(retry_after))}
                    </p>
                </section>
            }
            .into_any();
        }
    };
    let report_fields = fields(link);
    view! {
        {brand}
        {body}
        <footer class="approve-report">
            <p>"Did someone ask you to approve this, or did you not expect it?"</p>
            <ActionForm action=actions.report>
                {report_fields}
                <button type="submit" class="approve-button approve-warn">
                    "I did not ask for this"
                </button>
            </ActionForm>
        </footer>
    }
    .into_any()
}

/// The form that asks for an email address or phone number.
fn identifier_form(link: &PageLink, actions: Actions, label: &'static str) -> AnyView {
    let hidden = fields(link);
    view! {
        <ActionForm action=actions.send>
            {hidden}
            <label class="approve-label" for="approve-identifier">
                "Your email address or phone number"
            </label>
            <input
                id="approve-identifier"
                class="approve-input"
                type="text"
                name="identifier"
                autocomplete="username"
                autocapitalize="none"
                spellcheck="false"
                maxlength="254"
                required=true
            />
            <button type="submit" class="approve-button approve-primary">
                {label}
            </button>
        </ActionForm>
    }
    .into_any()
}

/// The link's parts as hidden fields.
fn fields(link: &PageLink) -> AnyView {
    let message = link.binding_message.clone().map(|message| {
        view! { <input type="hidden" name="binding_message" value=message /> }
    });
    view! {
        <input type="hidden" name="auth_req_id" value=link.auth_req_id.clone() />
        {message}
    }
    .into_any()
}

fn notice_view(notice: Option<ApprovalNotice>) -> Option<AnyView> {
    notice.map(|notice| {
        view! {
            <p class="approve-notice" role="alert">
                {notice.sentence()}
            </p>
        }
        .into_any()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_and_read_plainly() {
        for outcome in ApprovalOutcome::ALL {
            assert_eq!(ApprovalOutcome::parse(outcome.as_str()), Some(outcome));
            let wire = serde_json::to_string(&outcome).unwrap_or_default();
            assert_eq!(wire, format!("\"{}\"", outcome.as_str()));
            assert!(!outcome.sentence("Demo Bank").is_empty());
        }
        assert_eq!(ApprovalOutcome::parse("nope"), None);
        assert_eq!(
            ApprovalOutcome::Approved.sentence("x"),
            "You can go back to your call."
        );
        assert_eq!(
            ApprovalOutcome::Expired.sentence("x"),
            "This request has expired. Ask the agent to send a new one."
        );
        assert_eq!(
            ApprovalOutcome::WrongPerson.sentence("x"),
            "This request is for someone else. Nothing was changed."
        );
        assert!(
            ApprovalOutcome::Reported
                .sentence("Demo Bank")
                .contains("Demo Bank")
        );
    }

    #[test]
    fn notices_say_how_many_tries_are_left() {
        let wrong = |tries_left| ApprovalNotice::WrongCode { tries_left }.sentence();
        assert_eq!(wrong(Some(3)), "That code is not right. 3 tries left.");
        assert_eq!(wrong(Some(1)), "That code is not right. 1 try left.");
        assert!(wrong(Some(0)).contains("no tries are left"));
        assert!(wrong(None).contains("no tries are left"));
        assert_eq!(
            ApprovalNotice::TooManyCodes {
                retry_after: Some(600)
            }
            .sentence(),
            "Too many codes were asked for. Try again in 10 minutes."
        );
        assert_eq!(wait(1), "1 second");
        assert_eq!(wait(45), "45 seconds");
        assert_eq!(wait(61), "1 minute");
        assert_eq!(wait(599), "10 minutes");
    }

    #[test]
    fn the_page_address_is_encoded_and_secrets_stay_out_of_debug() {
        let link = ApprovalLink::new("a.b_c-d+e/f".into(), Some("K7-42!".into()));
        assert_eq!(
            link.page_url(),
            "/approve?auth_req_id=a.b_c-d%2Be%2Ff&binding_message=K7-42%21"
        );
        assert_eq!(
            ApprovalLink::new("x".into(), Some(String::new())).page_url(),
            "/approve?auth_req_id=x"
        );
        let shown = format!(
            "{link:?} {:?} {:?}",
            ApprovalStep::VerifyCode {
                code: "123456".into()
            },
            ApprovalStep::SendCode {
                identifier: Some("alice@example.com".into())
            }
        );
        for secret in ["a.b_c", "123456", "alice@"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
