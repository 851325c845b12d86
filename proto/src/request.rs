//! Who the agent asks for and how the link reaches them: the wire names (Mosaic's
//! `login_hint_type` and `channel`) that the console, the BFF and the provider all read.

use serde::{Deserialize, Serialize};

/// How the customer is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HintType {
    /// An email address.
    Email,
    /// A phone number in international (E.164) form.
    Phone,
    /// The customer's user id at the provider.
    UserId,
}

impl HintType {
    /// The hint as the provider expects it: phone numbers in E.164 form (`+` and digits; a
    /// number typed without `+` is taken as international), emails in lower case, user ids as
    /// typed (trimmed). One customer's spellings give one hint, so limits count them together.
    pub fn normalise(self, hint: &str) -> String {
        let hint = hint.trim();
        match self {
            Self::Phone => {
                let digits: String = hint.chars().filter(char::is_ascii_digit).collect();
                format!("+{digits}")
            }
            Self::Email => hint.to_lowercase(),
            Self::UserId => hint.to_owned(),
        }
    }

    /// The wire name (Mosaic's `login_hint_type`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::UserId => "user_id",
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Email => "email address",
            Self::Phone => "phone number",
            Self::UserId => "user id",
        }
    }

    /// What an identifier the agent typed looks like: an `@` makes an email address, a leading
    /// `+` or digits (with spaces, dots, dashes or brackets) a phone number, anything else a
    /// user id.
    pub fn detect(identifier: &str) -> Self {
        let value = identifier.trim();
        if value.contains('@') {
            Self::Email
        } else if !value.is_empty()
            && value.starts_with(|c: char| c == '+' || c.is_ascii_digit() || c == '(')
            && value
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'))
        {
            Self::Phone
        } else {
            Self::UserId
        }
    }
}

/// How the link reaches the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A text message to the customer's verified phone.
    Sms,
    /// An email to the customer's verified address.
    Email,
    /// No message: the console shows the link and a QR code (a customer in a branch).
    Link,
}

impl Channel {
    /// The wire name (Mosaic's `channel`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::Link => "link",
        }
    }
}

#[cfg(feature = "sqlx")]
crate::stored_as_text!(HintType);
#[cfg(feature = "sqlx")]
crate::stored_as_text!(Channel);
