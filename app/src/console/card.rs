//! The live card of one verification: the binding code to read aloud, where it stands, its
//! timeline and countdown, the link as a QR code (link channel), the verified customer, and
//! Cancel or Dismiss.

use leptos::{html, prelude::*, task::spawn_local};

use super::{Board, time};
use crate::{
    api::{cancel_verification, end_customer_session},
    flow::{Channel, EventKind, FlowStatus, FlowView, TimelineEntry, VerifiedCustomer},
    qr::QrCodeSvg,
    refusal::Refusal,
};

/// Words for a channel.
pub(super) fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "Text message",
        Channel::Email => "Email",
        Channel::Link => "Link / QR code",
    }
}

/// A short name for where a flow stands (badges, the history).
pub(super) fn status_label(flow: &FlowView) -> &'static str {
    if reported(flow) {
        return "Reported";
    }
    match flow.status {
        FlowStatus::Starting => "Starting",
        FlowStatus::Pending => "Waiting",
        FlowStatus::Approved => "Verified",
        FlowStatus::Denied => "Denied",
        FlowStatus::Expired => "Expired",
        FlowStatus::Cancelled => "Cancelled",
        FlowStatus::Failed => "Failed",
    }
}

/// Whether the customer said they did not ask for this.
pub(super) fn reported(flow: &FlowView) -> bool {
    flow.timeline
        .iter()
        .any(|entry| entry.kind == EventKind::Reported)
}

/// Where a flow stands, as a sentence.
pub(super) fn status_sentence(flow: &FlowView) -> String {
    let last = flow.timeline.last().map(|entry| entry.kind);
    let said = |default: &str| flow.outcome.clone().unwrap_or_else(|| default.to_owned());
    match flow.status {
        FlowStatus::Starting => "Sending the request…".to_owned(),
        FlowStatus::Pending => match last {
            Some(EventKind::LinkOpened) => "The customer opened the link.".to_owned(),
            Some(EventKind::SignedIn) => "The customer signed in and is deciding.".to_owned(),
            Some(EventKind::WrongPerson) => {
                "Someone else signed in on the link and was turned away. Waiting for the customer."
                    .to_owned()
            }
            Some(EventKind::Approved) => {
                "The customer approved. Checking their identity…".to_owned()
            }
            _ if flow.channel == Channel::Link => {
                "Waiting for the customer to scan the code or open the link.".to_owned()
            }
            _ => "Waiting for the customer to open the link.".to_owned(),
        },
        FlowStatus::Approved => match &flow.customer {
            Some(customer) => format!("Verified: {}.", customer.name),
            None => "Verified.".to_owned(),
        },
        FlowStatus::Denied if reported(flow) => {
            "The customer says they did not ask for this verification.".to_owned()
        }
        FlowStatus::Denied => said("The customer denied the request."),
        FlowStatus::Expired => said("Nobody answered in time."),
        FlowStatus::Cancelled => said("Cancelled."),
        FlowStatus::Failed => said("The verification failed."),
    }
}

/// Words for a timeline entry.
fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Sent => "Sent",
        EventKind::LinkOpened => "Link opened",
        EventKind::SignedIn => "Customer signed in",
        EventKind::WrongPerson => "Someone else signed in: refused",
        EventKind::Approved => "Approved",
        EventKind::Verified => "Identity verified",
        EventKind::Denied => "Denied",
        EventKind::Reported => "Reported as not requested",
        EventKind::Expired => "Expired",
        EventKind::Cancelled => "Cancelled",
        EventKind::Failed => "Failed",
        EventKind::SessionEnded => "Customer session ended",
    }
}

/// The steps a flow that is still going may yet pass, after the last one it reached.
fn upcoming(flow: &FlowView) -> Vec<&'static str> {
    const STEPS: [(EventKind, &str); 4] = [
        (EventKind::Sent, "Sent"),
        (EventKind::LinkOpened, "Link opened"),
        (EventKind::SignedIn, "Customer signed in"),
        (EventKind::Approved, "Decision"),
    ];
    if flow.status.is_terminal() {
        return Vec::new();
    }
    let reached = STEPS
        .iter()
        .rposition(|(kind, _)| flow.timeline.iter().any(|entry| entry.kind == *kind))
        .map_or(0, |index| index + 1);
    STEPS[reached..].iter().map(|(_, label)| *label).collect()
}

/// RFC 8176 authentication methods in words.
fn amr_words(amr: &[String]) -> String {
    if amr.is_empty() {
        return "Not stated".to_owned();
    }
    amr.iter()
        .map(|method| match method.as_str() {
            "otp" => "one-time code",
            "sms" => "text message",
            "tel" => "phone call",
            "pwd" => "password",
            "hwk" => "hardware key",
            "swk" => "software key",
            "pop" => "proof of possession (passkey)",
            "fpt" => "fingerprint",
            "face" => "face recognition",
            "user" => "user presence",
            "pin" => "PIN",
            "mfa" => "multiple factors",
            "email" => "email",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A code spelled out for screen readers: `7KX-4FP` → `7 K X, 4 F P`.
fn spelled(code: &str) -> String {
    code.split('-')
        .map(|group| {
            group
                .chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the copy button last did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Only the browser copies.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) enum Copied {
    /// Nothing yet.
    Not,
    /// The link is on the clipboard.
    Done,
    /// The clipboard refused; the link is selected for Ctrl+C.
    Select,
}

/// One verification's live card.
#[component]
pub(super) fn FlowCard(flow: ArcRwSignal<FlowView>, board: Board) -> impl IntoView {
    let flow = RwSignal::from(flow);
    // What never changes.
    let (id, hint, hint_type, channel, code, ticket) = flow.with_untracked(|flow| {
        (
            flow.id.clone(),
            flow.hint.clone(),
            flow.hint_type,
            flow.channel,
            flow.binding_code.clone(),
            flow.ticket.clone(),
        )
    });
    let status = Memo::new(move |_| flow.with(|flow| flow.status));
    let live = Memo::new(move |_| !status.get().is_terminal());
    let label = Memo::new(move |_| flow.with(status_label));
    let said = Memo::new(move |_| flow.with(status_sentence));
    let expires_at = Memo::new(move |_| flow.with(|flow| flow.expires_at));
    let link = Memo::new(move |_| flow.with(|flow| flow.link.clone()));
    let is_reported = Memo::new(move |_| flow.with(reported));
    let customer = Memo::new(move |_| flow.with(|flow| flow.customer.clone()));
    let timeline = Memo::new(move |_| flow.with(|flow| flow.timeline.clone()));
    let next_steps = Memo::new(move |_| flow.with(upcoming));
    let error = RwSignal::new(None::<String>);
    let cancelling = RwSignal::new(false);
    let ending = RwSignal::new(false);
    let session_open = Memo::new(move |_| flow.with(|flow| flow.session_open));

    let heading = format!("flow-{id}-heading");
    let labelled_by = heading.clone();
    let flow_id = id.clone();
    let code_label = format!("flow-{id}-code");
    let code_label_id = code_label.clone();
    // Cancelling replaces the Cancel button by Dismiss: the focus goes there, not to nowhere.
    let dismiss_button = NodeRef::<html::Button>::new();
    let cancel = card_action(
        board,
        id.clone(),
        cancelling,
        error,
        cancel_verification,
        move || {
            request_animation_frame(move || {
                if let Some(button) = dismiss_button.get_untracked() {
                    let _ = button.focus();
                }
            });
        },
    );
    let end_session = card_action(
        board,
        id.clone(),
        ending,
        error,
        end_customer_session,
        || {},
    );
    let dismiss = {
        let id = id.clone();
        move |_| board.dismiss(&id)
    };
    let hint_for_buttons = hint.clone();
    let link_id = format!("flow-{id}-link");

    view! {
        <article
            class="flow-card"
            data-status=move || status.get().as_str()
            data-flow=flow_id
            data-testid="flow-card"
            aria-labelledby=labelled_by
        >
            <header class="card-head">
                <h3 id=heading>
                    <span class="card-hint">{hint.clone()}</span>
                    <span class="card-meta">
                        {format!("{} · {}", hint_type.label(), channel_label(channel))}
                    </span>
                    {ticket.map(|ticket| {
                        view! {
                            <span class="card-meta" data-testid="flow-ticket">
                                {format!("Ticket {ticket}")}
                            </span>
                        }
                    })}
                </h3>
                <span class="badge status-badge" data-status=move || status.get().as_str()>
                    {move || label.get()}
                </span>
            </header>
            <p class="card-status" data-testid="flow-status">
                {move || said.get()}
            </p>

            {move || {
                if live.get() {
                    view! {
                        <div class="binding">
                            <p class="binding-label" id=code_label_id.clone()>
                                "Read this code aloud to the customer"
                            </p>
                            <div
                                class="binding-code"
                                role="group"
                                aria-labelledby=code_label.clone()
                                data-testid="binding-code"
                            >
                                <span aria-hidden="true">{code.clone()}</span>
                                <span class="visually-hidden">{spelled(&code)}</span>
                            </div>
                            // Screen readers hear the code spelled out already.
                            <p
                                class="binding-reading"
                                data-testid="binding-reading"
                                aria-hidden="true"
                            >
                                {proto::binding::read_aloud(&code)}
                            </p>
                            <p class="binding-help">
                                "They see the same code on their phone and approve only if the two match."
                            </p>
                        </div>
                    }
                        .into_any()
                } else {
                    view! {
                        <p class="card-code" data-testid="binding-code">
                            "Code "
                            <span class="code" aria-hidden="true">{code.clone()}</span>
                            <span class="visually-hidden">{spelled(&code)}</span>
                        </p>
                    }
                        .into_any()
                }
            }}

            <Show when=move || live.get()>
                <p class="countdown">
                    <span aria-hidden="true">
                        "Expires in "
                        <span class="countdown-time" data-testid="countdown">
                            {move || time::countdown(expires_at.get() - board.now.get())}
                        </span>
                    </span>
                    <span class="visually-hidden">
                        {move || {
                            format!(
                                "Expires at {}.",
                                time::clock(expires_at.get(), board.hydrated.get()),
                            )
                        }}
                    </span>
                </p>
            </Show>

            {move || {
                (channel == Channel::Link && live.get())
                    .then(|| link.get())
                    .flatten()
                    .map(|link| view! { <LinkPanel link field_id=link_id.clone() board /> })
            }}

            <Show when=move || is_reported.get()>
                <p class="card-warning">
                    <strong>"Warning: "</strong>
                    "the customer reported that they did not ask for this verification. "
                    "Do not act for this caller."
                </p>
            </Show>

            {move || {
                customer
                    .get()
                    .map(|customer| view! { <CustomerFacts customer hydrated=board.hydrated /> })
            }}

            <ol class="timeline" aria-label="Timeline">
                <For
                    each=move || timeline.get()
                    key=|entry| (entry.kind, entry.at)
                    children=move |entry| view! { <Step entry hydrated=board.hydrated /> }
                />
                <For
                    each=move || next_steps.get()
                    key=|label| *label
                    children=move |label| {
                        view! {
                            <li class="step step-upcoming" aria-hidden="true">
                                <span class="step-label">{label}</span>
                            </li>
                        }
                    }
                />
            </ol>

            <p class="card-error" role="alert">
                {move || error.get()}
            </p>

            <div class="card-actions">
                {move || {
                    let hint = hint_for_buttons.clone();
                    if live.get() {
                        view! {
                            <button
                                type="button"
                                class="button button-danger"
                                disabled=move || cancelling.get() || !board.hydrated.get()
                                on:click=cancel.clone()
                            >
                                {move || if cancelling.get() { "Cancelling…" } else { "Cancel" }}
                                <span class="visually-hidden">
                                    {format!(" the verification of {hint}")}
                                </span>
                            </button>
                        }
                            .into_any()
                    } else {
                        let end_hint = hint.clone();
                        let end_session = end_session.clone();
                        view! {
                            <Show when=move || session_open.get()>
                                <button
                                    type="button"
                                    class="button button-danger"
                                    disabled=move || ending.get() || !board.hydrated.get()
                                    on:click=end_session.clone()
                                >
                                    {move || {
                                        if ending.get() {
                                            "Ending…"
                                        } else {
                                            "End customer session"
                                        }
                                    }}
                                    <span class="visually-hidden">
                                        {format!(" of {end_hint}")}
                                    </span>
                                </button>
                            </Show>
                            <button
                                type="button"
                                class="button button-quiet"
                                disabled=move || !board.hydrated.get()
                                node_ref=dismiss_button
                                on:click=dismiss.clone()
                            >
                                "Dismiss"
                                <span class="visually-hidden">
                                    {format!(" the card of {hint}")}
                                </span>
                            </button>
                        }
                            .into_any()
                    }
                }}
            </div>
        </article>
    }
    .into_any()
}

/// A card's button action: calls `call` with the flow's id, one call at a time (`busy` while it
/// runs); the flow it answers goes on the board (then `done` runs), a refusal becomes a sentence
/// in `error`, and a lost session signs the console out.
fn card_action<Call, Answer>(
    board: Board,
    id: String,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    call: Call,
    done: impl Fn() + Clone + 'static,
) -> impl Fn(leptos::ev::MouseEvent) + Clone + 'static
where
    Call: Fn(String) -> Answer + Copy + 'static,
    Answer: std::future::Future<Output = Result<FlowView, Refusal>> + 'static,
{
    move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let id = id.clone();
        let done = done.clone();
        spawn_local(async move {
            match call(id).await {
                Ok(flow) => {
                    board.absorb(flow, true);
                    done();
                }
                Err(Refusal::SignedOut) => board.sign_out(),
                Err(failure) => {
                    error.try_set(Some(failure.to_string()));
                }
            }
            busy.try_set(false);
        });
    }
}

/// One timeline entry.
#[component]
fn Step(entry: TimelineEntry, hydrated: RwSignal<bool>) -> impl IntoView {
    let at = entry.at;
    view! {
        <li class="step step-done" data-kind=entry.kind.as_str()>
            <span class="step-label">{kind_label(entry.kind)}</span>
            " "
            <time class="step-time" datetime=time::iso(at)>
                {move || time::clock(at, hydrated.get())}
            </time>
            {entry.detail.map(|detail| view! { <span class="step-detail">{detail}</span> })}
        </li>
    }
}

/// The link channel: the link as a QR code, the link itself, and "Copy link".
#[component]
fn LinkPanel(link: String, field_id: String, board: Board) -> impl IntoView {
    let copied = RwSignal::new(Copied::Not);
    let field = NodeRef::<html::Input>::new();
    let copy = {
        let link = link.clone();
        move |_| {
            copied.set(Copied::Not);
            super::live::copy_text(&link, copied, field);
        }
    };
    view! {
        <div class="link-panel">
            <QrCodeSvg
                text=link.clone()
                label="QR code of the approval link: the customer scans it with their phone camera"
                    .to_owned()
            />
            <div class="link-copy">
                <label for=field_id.clone()>"Approval link"</label>
                <input
                    id=field_id
                    class="link-field"
                    type="text"
                    readonly=true
                    value=link
                    node_ref=field
                    on:focus=move |_| {
                        if let Some(input) = field.get_untracked() {
                            input.select();
                        }
                    }
                />
                <button
                    type="button"
                    class="button"
                    disabled=move || !board.hydrated.get()
                    on:click=copy
                >
                    "Copy link"
                </button>
                <p class="copy-state" role="status">
                    {move || match copied.get() {
                        Copied::Not => "",
                        Copied::Done => "Copied.",
                        Copied::Select => "The link is selected: press Ctrl+C to copy it.",
                    }}
                </p>
            </div>
        </div>
    }
    .into_any()
}

/// The verified customer.
#[component]
fn CustomerFacts(customer: VerifiedCustomer, hydrated: RwSignal<bool>) -> impl IntoView {
    let auth_time = customer.auth_time.saturating_mul(1000);
    view! {
        <section class="customer" aria-label="Verified customer" data-testid="verified-customer">
            <h4>"Verified customer"</h4>
            <dl class="facts">
                <dt>"Name"</dt>
                <dd data-testid="customer-name">{customer.name}</dd>
                <dt>"User id"</dt>
                <dd data-testid="customer-id">{customer.user_id}</dd>
                <dt>"Email"</dt>
                <dd>{customer.email.unwrap_or_else(|| "—".to_owned())}</dd>
                <dt>"Phone"</dt>
                <dd>{customer.phone.unwrap_or_else(|| "—".to_owned())}</dd>
                <dt>"Signed in with"</dt>
                <dd>{amr_words(&customer.amr)}</dd>
                <dt>"Authenticated at"</dt>
                <dd>
                    <time datetime=time::iso(auth_time)>
                        {move || time::stamp(auth_time, hydrated.get())}
                    </time>
                </dd>
            </dl>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests;
