//! The approval page itself: the screens and their forms.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use super::{
    ApprovalNotice, ApprovalScreen, ApprovalView, CodeChannel, PasskeyOffer, api::*, wait,
};

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
    passkey: ServerAction<ApprovalPasskey>,
}

impl Actions {
    fn new() -> Self {
        Self {
            send: ServerAction::new(),
            verify: ServerAction::new(),
            decide: ServerAction::new(),
            report: ServerAction::new(),
            passkey: ServerAction::new(),
        }
    }

    /// Changes whenever a form was posted (with the wasm), so the page reloads its state.
    fn versions(self) -> usize {
        self.send.version().get()
            + self.verify.version().get()
            + self.decide.version().get()
            + self.report.version().get()
            + self.passkey.version().get()
    }
}

/// `/approve`: the customer's approval page.
#[component]
pub fn ApprovePage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    super::api::server::no_store();
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
        passkey,
    } = approval;
    // Only where a passkey step is offered: the script that runs it (it shows the passkey's
    // buttons where the browser has passkeys; without it the page is the code sign-in alone).
    let script = passkey.map(|_| view! { <script src="/passkey.js" defer=true></script> });
    let sign_in = match passkey {
        Some(PasskeyOffer::SignIn { first }) => Some(first),
        _ => None,
    };
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
            let (before, after) = passkey_sign_in(link, actions, sign_in);
            view! {
                <h1>"Confirm it's you"</h1>
                <p class="approve-lede">{asks}</p>
                {code}
                {notice_view(notice)}
                {before}
                {form}
                {after}
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
                {passkey_sign_in(link, actions, sign_in.map(|_| false)).1}
                {code}
            }
            .into_any()
        }
        ApprovalScreen::Decide { notice } => {
            let who = agent.unwrap_or_else(|| "The agent".to_owned());
            let decide = actions.decide;
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
                    {choice(decide, link, "approve", "approve-yes", "Approve")}
                    {choice(decide, link, "deny", "approve-no", "Deny")}
                </div>
                {(passkey == Some(PasskeyOffer::Add)).then(|| passkey_add(link, actions))}
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
        {script}
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

/// "Sign in with a passkey", before the code form when `first` (this browser used one here),
/// else after it; nothing when not offered (`None`).
fn passkey_sign_in(
    link: &PageLink,
    actions: Actions,
    offer: Option<bool>,
) -> (Option<AnyView>, Option<AnyView>) {
    let Some(first) = offer else {
        return (None, None);
    };
    let (class, lead) = if first {
        ("approve-button approve-primary", None)
    } else {
        (
            "approve-button approve-secondary",
            Some(view! { <p class="approve-or">"Or, if you added a passkey on this phone:"</p> }),
        )
    };
    let section = view! {
        <section class="approve-passkey" data-passkey="sign-in" hidden=true>
            {lead}
            {passkey_form(link, actions, class, "Sign in with a passkey")}
            <p class="approve-help">"Use this phone's screen lock: fingerprint, face or PIN."</p>
            {first.then(|| view! { <p class="approve-or">"Or get a code instead:"</p> })}
        </section>
    }
    .into_any();
    if first {
        (Some(section), None)
    } else {
        (None, Some(section))
    }
}

/// After a code sign-in: "Next time, use this phone's screen lock".
fn passkey_add(link: &PageLink, actions: Actions) -> AnyView {
    view! {
        <section class="approve-passkey" data-passkey="add" hidden=true>
            <h2>"Next time, use this phone's screen lock"</h2>
            <p class="approve-help">
                "Add a passkey, and next time you can sign in with your fingerprint, face or PIN instead of a code."
            </p>
            {passkey_form(link, actions, "approve-button approve-secondary", "Add a passkey")}
        </section>
    }
    .into_any()
}

/// The form `/passkey.js` fills with the browser's credential and posts; its button starts the
/// ceremony (with the options from `/api/approval-passkey-options`).
fn passkey_form(
    link: &PageLink,
    actions: Actions,
    class: &'static str,
    label: &'static str,
) -> AnyView {
    let hidden = fields(link);
    view! {
        <ActionForm action=actions.passkey>
            {hidden}
            <input type="hidden" name="credential" value="" />
            <button type="button" class=class data-passkey-start=true>
                {label}
            </button>
            <p class="approve-notice" role="alert" data-passkey-error=true hidden=true></p>
        </ActionForm>
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

/// One answer to the request: a form of one button that posts `decision`.
fn choice(
    decide: ServerAction<DecideApproval>,
    link: &PageLink,
    decision: &'static str,
    class: &'static str,
    label: &'static str,
) -> impl IntoView {
    let fields = fields(link);
    view! {
        <ActionForm action=decide>
            {fields}
            <input type="hidden" name="decision" value=decision />
            <button type="submit" class=format!("approve-button {class}")>
                {label}
            </button>
        </ActionForm>
    }
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
