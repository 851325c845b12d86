//! The rules of the wire that the provider, the BFF and the browser share.
//!
//! Each rule is defined once, here, and checked in all three places: the console's form (for an
//! answer before anything is sent), the BFF (before a start is counted against the agent's and
//! the customer's allowance) and the provider (which must never trust a client). A rule only
//! one of them enforces drifts: a note the form allows and the provider refuses costs the
//! customer one of their starts for nothing.
//!
//! Only serde: the `app` crate compiles to wasm and must not depend on `provider`, nor the
//! provider on `app`; both depend on this.
//!
//! - [`binding`]: the binding code's alphabet and how the agent reads a code aloud.
//! - [`request`]: the kinds of customer identifier and the channels, with their wire names.
//! - [`stored_as_text!`]: how the servers store these enums (and their own) in a database.

pub mod binding;
pub mod request;
mod stored;

pub use request::{Channel, HintType};

/// The longest ticket or call id an agent may give a verification, in characters.
pub const MAX_TICKET_CHARS: usize = 64;

/// Checks the ticket or call id of a verification (the help desk's or the CRM's, so the
/// verification can be found from the call): `None` when blank; else trimmed, at most
/// [`MAX_TICKET_CHARS`] characters of letters, digits, spaces and `- _ . / # :`, as ticket
/// numbers are written. Anything else is refused with a sentence for the agent.
pub fn check_ticket(value: &str) -> Result<Option<&str>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > MAX_TICKET_CHARS {
        return Err(format!(
            "Keep the ticket or call id to {MAX_TICKET_CHARS} characters or fewer."
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " -_./#:".contains(c))
    {
        return Err(
            "A ticket or call id has only letters, digits, spaces and - _ . / # :".to_owned(),
        );
    }
    Ok(Some(value))
}

/// The longest note to the customer (the CIBA request's `custom_message`), in characters: it
/// must fit an SMS with the link.
pub const MAX_NOTE_CHARS: usize = 100;

/// Why a note to the customer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteError {
    /// Nothing but spaces.
    Empty,
    /// More than [`MAX_NOTE_CHARS`] characters.
    TooLong,
    /// Markup, a web address, or a control, invisible or direction-changing character.
    NotPlainText,
}

impl NoteError {
    /// A sentence for the agent.
    pub fn sentence(self) -> String {
        match self {
            Self::Empty => "The note to the customer is empty.".to_owned(),
            Self::TooLong => {
                format!("Keep the note to the customer to {MAX_NOTE_CHARS} characters or fewer.")
            }
            Self::NotPlainText => "The note to the customer must be plain text: no markup, web \
                                   addresses or invisible characters."
                .to_owned(),
        }
    }
}

impl std::fmt::Display for NoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sentence())
    }
}

impl std::error::Error for NoteError {}

/// Checks a note to the customer and returns it trimmed: plain text of 1 to
/// [`MAX_NOTE_CHARS`] characters, no control, invisible or direction-changing characters, no
/// markup and no web addresses.
pub fn check_note(value: &str) -> Result<&str, NoteError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(NoteError::Empty);
    }
    if value.chars().count() > MAX_NOTE_CHARS {
        return Err(NoteError::TooLong);
    }
    let lower = value.to_lowercase();
    let plain = !value.chars().any(|c| invisible(c) || c == '<' || c == '>')
        && !lower.contains("://")
        && !lower.contains("www.")
        && !lower.split_whitespace().any(looks_like_address);
    if plain {
        Ok(value)
    } else {
        Err(NoteError::NotPlainText)
    }
}

/// Whether `c` is a control character, or one that is invisible or changes the text's
/// direction: every format character (Unicode category Cf: zero-width and joiners, direction
/// marks, embeddings, overrides and isolates, the Arabic letter mark, the Mongolian vowel
/// separator, soft hyphens, interlinear annotations, tags), line and paragraph separators, and
/// the blank fillers and joiners that render as nothing.
pub fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Whether a word reads as a bare web address such as `evil.example/login` or `bank.co.uk`:
/// labels of letters, digits and hyphens joined by dots (ASCII or look-alike), the last of them
/// two or more letters, or a dotted IPv4 address. Numbers such as `10.5` and abbreviations such
/// as `e.g.` pass.
fn looks_like_address(word: &str) -> bool {
    let word: String = word
        .chars()
        .map(|c| match c {
            '\u{3002}' | '\u{FF0E}' | '\u{FF61}' => '.',
            c => c,
        })
        .collect();
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    let host = word.split(['/', '?', '#', ':']).next().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    // A dotted IPv4 address (`192.0.2.7/login`) is a web address too.
    let ipv4 = labels.len() == 4
        && labels.iter().all(|label| {
            (1..=3).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_digit())
                && label.parse::<u16>().is_ok_and(|n| n <= 255)
        });
    ipv4 || labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
}

#[cfg(test)]
mod tests;
