//! "Verify a customer": the identifier (its kind detected as the agent types), the channel,
//! an optional note. Enter sends it.

use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use super::{Board, card::channel_label};
use crate::{
    api::{VerificationRequest, start_verification},
    flow::{Channel, FlowStatus, HintType},
    refusal::Refusal,
};

/// The longest note the BFF and the provider accept (one limit, in `proto`).
const MAX_NOTE: usize = proto::MAX_NOTE_CHARS;
/// The longest identifier a screen-pop may fill in (the BFF's limit).
const MAX_IDENTIFIER: usize = 254;

/// A screen-pop: the form filled in from the console's address,
/// `/?verify=<identifier>&channel=<sms|email|link>&ticket=<id>`, as a help desk or CRM links to
/// it when a call comes in. It only fills the form; the agent still presses Enter. A value the
/// form would refuse is left out, never half-used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prefill {
    identifier: String,
    channel: Option<Channel>,
    ticket: String,
}

impl Prefill {
    /// The prefill the query values ask for; `None` when they ask for nothing usable.
    pub fn from_query(
        verify: Option<String>,
        channel: Option<String>,
        ticket: Option<String>,
    ) -> Option<Self> {
        let identifier = verify
            .map(|typed| typed.trim().to_owned())
            .filter(|typed| {
                !typed.is_empty()
                    && typed.chars().count() <= MAX_IDENTIFIER
                    && !typed.chars().any(proto::invisible)
            })
            .unwrap_or_default();
        let channel = channel.and_then(|wanted| {
            [Channel::Sms, Channel::Email, Channel::Link]
                .into_iter()
                .find(|option| option.as_str() == wanted.trim())
        });
        let ticket = ticket
            .and_then(|ticket| {
                proto::check_ticket(&ticket)
                    .ok()
                    .flatten()
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let prefill = Self {
            identifier,
            channel,
            ticket,
        };
        (prefill != Self::default()).then_some(prefill)
    }

    /// The console's address that asks for this prefill (where a sign-in comes back to).
    pub fn path(&self) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let mut parts = Vec::new();
        if !self.identifier.is_empty() {
            parts.push(format!(
                "verify={}",
                utf8_percent_encode(&self.identifier, NON_ALPHANUMERIC)
            ));
        }
        if let Some(channel) = self.channel {
            parts.push(format!("channel={}", channel.as_str()));
        }
        if !self.ticket.is_empty() {
            parts.push(format!(
                "ticket={}",
                utf8_percent_encode(&self.ticket, NON_ALPHANUMERIC)
            ));
        }
        format!("/?{}", parts.join("&"))
    }
}

/// The channel a kind of identifier suggests, until the agent picks one.
fn suggested(hint: HintType) -> Channel {
    match hint {
        HintType::Email => Channel::Email,
        HintType::Phone | HintType::UserId => Channel::Sms,
    }
}

/// What the console says about the identifier typed so far.
fn detected_sentence(identifier: &str) -> String {
    if identifier.trim().is_empty() {
        "An email address, a phone number (+15555550101) or a user id.".to_owned()
    } else {
        format!("Looks like {}.", article(HintType::detect(identifier)))
    }
}

fn article(hint: HintType) -> String {
    match hint {
        HintType::Email => format!("an {}", hint.label()),
        HintType::Phone | HintType::UserId => format!("a {}", hint.label()),
    }
}

/// The request for what the agent typed, or the sentence saying what is missing.
fn request(
    identifier: &str,
    channel: Channel,
    note: &str,
    ticket: &str,
) -> Result<VerificationRequest, String> {
    let identifier = identifier.trim();
    if identifier.is_empty() {
        return Err("Type the customer's email address, phone number or user id.".to_owned());
    }
    // The rule the BFF and the provider apply too: a note refused there would cost the
    // customer one of their starts.
    let note = match proto::check_note(note) {
        Ok(note) => Some(note.to_owned()),
        Err(proto::NoteError::Empty) => None,
        Err(refused) => return Err(refused.sentence()),
    };
    let ticket = proto::check_ticket(ticket)?.map(str::to_owned);
    Ok(VerificationRequest {
        identifier: identifier.to_owned(),
        hint_type: Some(HintType::detect(identifier)),
        channel,
        custom_message: note,
        ticket,
    })
}

/// Takes a screen-pop's query off the address bar (in the browser), once it was sent.
fn forget_screen_pop() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window()
        && window
            .location()
            .search()
            .is_ok_and(|search| !search.is_empty())
        && let Ok(history) = window.history()
    {
        let _ =
            history.replace_state_with_url(&web_sys::wasm_bindgen::JsValue::NULL, "", Some("/"));
    }
}

/// The form.
#[component]
pub(super) fn VerifyForm(board: Board, prefill: Option<Prefill>) -> impl IntoView {
    let prefill = prefill.unwrap_or_default();
    let identifier = RwSignal::new(prefill.identifier);
    let note = RwSignal::new(String::new());
    let ticket = RwSignal::new(prefill.ticket);
    let picked = RwSignal::new(prefill.channel);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let channel = Memo::new(move |_| {
        picked
            .get()
            .unwrap_or_else(|| suggested(identifier.with(|typed| HintType::detect(typed))))
    });

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let asked = request(
            &identifier.get_untracked(),
            channel.get_untracked(),
            &note.get_untracked(),
            &ticket.get_untracked(),
        );
        let asked = match asked {
            Ok(asked) => asked,
            Err(problem) => {
                error.set(Some(problem));
                board.focus_identifier();
                return;
            }
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match start_verification(asked).await {
                Ok(flow) => {
                    if flow.status == FlowStatus::Failed {
                        error.try_set(Some(flow.outcome.clone().unwrap_or_else(|| {
                            "The verification could not be started.".to_owned()
                        })));
                    } else {
                        identifier.try_set(String::new());
                        note.try_set(String::new());
                        ticket.try_set(String::new());
                        // A screen-pop is used once: a reload must not offer it again.
                        forget_screen_pop();
                    }
                    board.absorb(flow, true);
                }
                Err(Refusal::SignedOut) => board.sign_out(),
                Err(failure) => {
                    error.try_set(Some(failure.to_string()));
                }
            }
            busy.try_set(false);
            board.focus_identifier();
        });
    };

    let choices = [Channel::Sms, Channel::Email, Channel::Link]
        .into_iter()
        .map(|option| {
            let id = format!("channel-{}", option.as_str());
            let label_for = id.clone();
            view! {
                <label class="choice" for=label_for>
                    <input
                        type="radio"
                        id=id
                        name="channel"
                        value=option.as_str()
                        checked=move || channel.get() == option
                        prop:checked=move || channel.get() == option
                        on:change=move |_| picked.set(Some(option))
                    />
                    <span>{channel_label(option)}</span>
                </label>
            }
        })
        .collect_view();

    view! {
        <section class="verify" aria-labelledby="verify-heading">
            <h2 id="verify-heading">"Verify a customer"</h2>
            <form class="verify-form" on:submit=submit novalidate=true>
                <div class="field">
                    <label for="identifier">"Customer's email, phone number or user id"</label>
                    <input
                        id="identifier"
                        name="identifier"
                        type="text"
                        autocomplete="off"
                        autocapitalize="off"
                        spellcheck="false"
                        autofocus=true
                        aria-describedby="identifier-type"
                        aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                        node_ref=board.identifier_input
                        bind:value=identifier
                    />
                    <p id="identifier-type" class="field-hint" data-testid="detected-type">
                        {move || identifier.with(|typed| detected_sentence(typed))}
                    </p>
                </div>
                <fieldset class="field channels">
                    <legend>"Send the link by"</legend>
                    {choices}
                </fieldset>
                <div class="field">
                    <label for="note">
                        "Note to the customer " <span class="optional">"(optional)"</span>
                    </label>
                    <input
                        id="note"
                        name="note"
                        type="text"
                        autocomplete="off"
                        maxlength=MAX_NOTE.to_string()
                        aria-describedby="note-hint"
                        bind:value=note
                    />
                    <p id="note-hint" class="field-hint">
                        "Shown on the approval page, e.g. why you are calling."
                    </p>
                </div>
                <div class="field">
                    <label for="ticket">
                        "Ticket or call id " <span class="optional">"(optional)"</span>
                    </label>
                    <input
                        id="ticket"
                        name="ticket"
                        type="text"
                        autocomplete="off"
                        autocapitalize="off"
                        spellcheck="false"
                        aria-describedby="ticket-hint"
                        bind:value=ticket
                    />
                    <p id="ticket-hint" class="field-hint">
                        "Kept with the verification, in the history and the audit export."
                    </p>
                </div>
                <div class="form-error" role="alert" data-testid="verify-error">
                    {move || error.get()}
                </div>
                <div class="form-actions">
                    <button
                        type="submit"
                        class="button"
                        disabled=move || busy.get() || !board.hydrated.get()
                    >
                        {move || if busy.get() { "Sending…" } else { "Send verification" }}
                    </button>
                    <span class="field-hint">"Enter sends."</span>
                </div>
            </form>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests;
