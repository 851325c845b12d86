//! The pure rules of the approval page: what the customer sees, where a code may go, and which
//! links are worth looking up. Functions of their inputs and `now`; no store, no provider.

use app::{
    approve::{ApprovalNotice, ApprovalOutcome, ApprovalScreen, CodeChannel, CodeDestination},
    flow::{FlowStatus, HintType, mask_email, mask_phone},
};

use super::{LIFETIME, MAX_AUTH_REQ_ID, MAX_IDENTIFIER, Stage};
use crate::{
    oidc::{OidcError, OtpChannel},
    store::{CustomerSession, Flow},
};

/// Where a one-time code goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) channel: OtpChannel,
    pub(super) hint_type: HintType,
    pub(super) identifier: String,
}

impl Target {
    /// Where the request names: its phone number or email address (a user id names none).
    pub(super) fn of_flow(flow: &Flow) -> Option<Self> {
        Self::of(flow.hint_type, &flow.hint)
    }

    /// Where a session's code went.
    pub(super) fn of_session(session: &CustomerSession) -> Option<Self> {
        Self::of(session.hint_type?, session.identifier.as_deref()?)
    }

    /// What the customer typed, if it is an email address or a phone number.
    pub(super) fn typed(typed: &str) -> Option<Self> {
        if typed.chars().count() > MAX_IDENTIFIER {
            return None;
        }
        Self::of(HintType::detect(typed), typed)
    }

    pub(super) fn of(hint_type: HintType, identifier: &str) -> Option<Self> {
        let channel = match hint_type {
            HintType::Phone => OtpChannel::Sms,
            HintType::Email => OtpChannel::Email,
            HintType::UserId => return None,
        };
        let identifier = hint_type.normalise(identifier);
        (!identifier.is_empty()).then_some(Self {
            channel,
            hint_type,
            identifier,
        })
    }

    /// As the customer may see it.
    pub(super) fn destination(&self) -> CodeDestination {
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
pub(super) fn screen(
    flow: Option<&Flow>,
    session: Option<&CustomerSession>,
    limited: Option<u64>,
    now: i64,
) -> ApprovalScreen {
    if let Some(outcome) = session.and_then(|session| session.outcome) {
        return ApprovalScreen::Finished { outcome };
    }
    if let Some(outcome) = flow.and_then(|flow| flow_outcome(flow, now)) {
        return ApprovalScreen::Finished { outcome };
    }
    if let Some(retry_after) = limited {
        return ApprovalScreen::RateLimited { retry_after };
    }
    let notice = session.and_then(|session| session.notice.as_ref().map(|notice| notice.0));
    let named = flow.and_then(Target::of_flow);
    match session.map(|session| session.stage) {
        Some(Stage::CodeSent) => match session.and_then(Target::of_session) {
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
        Some(Stage::SignedIn) => ApprovalScreen::Decide { notice },
        Some(Stage::Decided) => ApprovalScreen::Decide {
            notice: Some(ApprovalNotice::Busy),
        },
        _ => ApprovalScreen::Start {
            send_to: named.map(|target| target.destination()),
            notice,
        },
    }
}

/// The final answer a flow gives the page, if it ended (or its time is up).
pub(super) fn flow_outcome(flow: &Flow, now: i64) -> Option<ApprovalOutcome> {
    match flow.status {
        FlowStatus::Approved | FlowStatus::Denied => Some(ApprovalOutcome::AlreadyDecided),
        FlowStatus::Expired => Some(ApprovalOutcome::Expired),
        FlowStatus::Cancelled | FlowStatus::Failed => Some(ApprovalOutcome::Ended),
        FlowStatus::Pending if now >= flow.expires_at => Some(ApprovalOutcome::Expired),
        FlowStatus::Pending | FlowStatus::Starting => None,
    }
}

/// What the page says when a code to the address the request names was not sent.
pub(super) fn sent_error_notice(sent: &Result<(), OidcError>) -> ApprovalNotice {
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
pub(super) fn purpose(display_name: &str) -> Option<String> {
    let name = display_name.trim();
    let plain = !name.is_empty()
        && name.chars().count() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | ',' | '&' | '\'' | '-'))
        && !name.contains("..");
    plain.then(|| format!("your call with {name}"))
}

/// Whether `auth_req_id` is worth looking up: present, not huge, visible ASCII.
pub(super) fn well_formed(auth_req_id: &str) -> bool {
    !auth_req_id.is_empty()
        && auth_req_id.len() <= MAX_AUTH_REQ_ID
        && auth_req_id.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether a link's `binding_message` may be shown: Mosaic's `^[a-zA-Z0-9-._+/!?#]{1,20}$`.
pub(super) fn plain_binding_message(message: &str) -> bool {
    (1..=20).contains(&message.len())
        && message
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._+/!?#".contains(&b))
}

pub(super) fn lifetime_ms() -> i64 {
    i64::try_from(LIFETIME.as_millis()).unwrap_or(i64::MAX)
}
