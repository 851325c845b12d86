//! What the approval page and the BFF exchange: the view, its screens and answers, the link, and
//! the customer's steps.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
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
    /// What the page offers with passkeys, when the provider keeps them for this page.
    pub passkey: Option<PasskeyOffer>,
}

/// A passkey step the page offers. Its buttons need a small script (`/passkey.js`), loaded
/// only then, which shows them where the browser has passkeys at all; without it the page is
/// the code sign-in alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "offer", rename_all = "snake_case")]
pub enum PasskeyOffer {
    /// "Sign in with a passkey", on the first screen. `first`: before the code, because this
    /// browser used or added a passkey here before (the page knows the browser, never whether
    /// the customer has one).
    SignIn {
        /// Offered before the code.
        first: bool,
    },
    /// After a code sign-in: "Next time, use this phone's screen lock".
    Add,
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
    /// The passkey sign-in did not work (no passkey, another one, or it was refused).
    PasskeyFailed,
    /// A passkey was added.
    PasskeyAdded,
    /// The passkey was not added.
    PasskeyNotAdded,
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
            Self::PasskeyFailed => {
                "That passkey did not work here. Send a code to sign in instead.".to_owned()
            }
            Self::PasskeyAdded => {
                "Passkey added. Next time you can use this phone's screen lock instead of a code."
                    .to_owned()
            }
            Self::PasskeyNotAdded => {
                "The passkey was not added. You can still answer below.".to_owned()
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
    /// Finish the passkey ceremony the session began (a sign-in, or adding one after a code
    /// sign-in) with what the browser made.
    Passkey {
        /// The credential as JSON (`PublicKeyCredential`, binary fields in base64url).
        credential: String,
    },
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
            Self::Passkey { .. } => f
                .debug_struct("Passkey")
                .field("credential", &"[redacted]")
                .finish(),
        }
    }
}

/// What a query value keeps unencoded: the unreserved characters of RFC 3986 §2.3.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` percent-encoded for a query string (unreserved characters kept).
fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(feature = "ssr")]
proto::stored_as_text!(ApprovalOutcome);
