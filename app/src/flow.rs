//! The types of a customer verification ("flow") that the console, the approval page and the
//! BFF share: what the agent asks for, how a flow stands, and the events the console receives
//! over server-sent events. Nothing here ever holds a token, a code or a secret.

use serde::{Deserialize, Serialize};

pub use proto::{Channel, HintType};

/// Where a flow stands. The last five are terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    /// The request is being sent to the provider.
    Starting,
    /// The customer has the link; waiting for their decision.
    Pending,
    /// Approved, and the ID token validated: the customer is verified.
    Approved,
    /// The customer said no.
    Denied,
    /// Nobody decided in time.
    Expired,
    /// The agent cancelled it.
    Cancelled,
    /// It could not go on (the provider refused, or the tokens did not validate).
    Failed,
}

impl FlowStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// The status named `value`, if any.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Starting,
            Self::Pending,
            Self::Approved,
            Self::Denied,
            Self::Expired,
            Self::Cancelled,
            Self::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }

    /// Whether nothing can change it any more.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Starting | Self::Pending)
    }
}

/// What happened to a flow: one entry of its timeline, and one SSE event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The provider accepted the request and sent (or returned) the link.
    Sent,
    /// The customer opened the approval page.
    LinkOpened,
    /// The customer signed in on the approval page.
    SignedIn,
    /// Someone the request is not for signed in on its link, and was turned away.
    WrongPerson,
    /// The customer approved; tokens are on their way.
    Approved,
    /// The tokens arrived and the ID token validated: the customer is verified.
    Verified,
    /// The customer denied.
    Denied,
    /// The customer said they did not ask for this.
    Reported,
    /// The request expired.
    Expired,
    /// The agent cancelled.
    Cancelled,
    /// Something failed; the detail says what.
    Failed,
    /// The agent ended the customer session: the tokens were revoked.
    SessionEnded,
}

impl EventKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::LinkOpened => "link_opened",
            Self::SignedIn => "signed_in",
            Self::WrongPerson => "wrong_person",
            Self::Approved => "approved",
            Self::Verified => "verified",
            Self::Denied => "denied",
            Self::Reported => "reported",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::SessionEnded => "session_ended",
        }
    }
}

/// The verified customer, as the agent may see them: masked contact details only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedCustomer {
    /// The customer's user id (`sub`).
    pub user_id: String,
    /// Their name.
    pub name: String,
    /// Their email, masked (`a•••e@example.com`).
    pub email: Option<String>,
    /// Their phone, masked (`•••0101`).
    pub phone: Option<String>,
    /// How they authenticated (RFC 8176 values, e.g. `otp`, `sms`).
    pub amr: Vec<String>,
    /// When they authenticated, seconds since the epoch.
    pub auth_time: i64,
}

/// One timeline entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// What happened.
    pub kind: EventKind,
    /// When, ms since the epoch.
    pub at: i64,
    /// A plain sentence, if there is more to say.
    pub detail: Option<String>,
}

/// A flow as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowView {
    /// The flow's id.
    pub id: String,
    /// The agent who started it.
    pub agent: String,
    /// The identifier the agent typed.
    pub hint: String,
    /// What kind of identifier it is.
    pub hint_type: HintType,
    /// How the link went out.
    pub channel: Channel,
    /// The code the agent reads aloud.
    pub binding_code: String,
    /// The help desk's ticket or call id, when the agent gave one.
    #[serde(default)]
    pub ticket: Option<String>,
    /// Where it stands.
    pub status: FlowStatus,
    /// Started, ms since the epoch.
    pub created_at: i64,
    /// When the request expires, ms since the epoch.
    pub expires_at: i64,
    /// For the `link` channel: the link to show as a QR code.
    pub link: Option<String>,
    /// What happened so far, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Once verified: who the customer is.
    pub customer: Option<VerifiedCustomer>,
    /// Why it ended, in a plain sentence, when it did not end approved.
    pub outcome: Option<String>,
    /// Whether the verified customer's session is open (the BFF holds their tokens), so the
    /// agent can end it.
    #[serde(default)]
    pub session_open: bool,
}

/// A server-sent event for the console: the flow as it now stands, after `kind` happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowEvent {
    /// The event's id (the SSE `id:`), increasing.
    pub id: i64,
    /// What happened.
    pub kind: EventKind,
    /// The flow after it.
    pub flow: FlowView,
}

/// `alice@example.com` → `a•••e@example.com`; very short local parts keep only their first
/// character.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return "•••".to_owned();
    };
    let chars: Vec<char> = local.chars().collect();
    match chars.as_slice() {
        [] => format!("•••@{domain}"),
        [first] | [first, _] => format!("{first}•••@{domain}"),
        [first, .., last] => format!("{first}•••{last}@{domain}"),
    }
}

/// `+15555550101` → `•••0101`: the last four digits only.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("•••{tail}")
}

#[cfg(feature = "ssr")]
proto::stored_as_text!(FlowStatus);
#[cfg(feature = "ssr")]
proto::stored_as_text!(EventKind);

#[cfg(test)]
mod tests;
