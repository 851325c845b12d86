//! The agent's authorization code flow: the redirect back (RFC 6749 §4.1.2, RFC 9207) and the
//! code exchange (§4.1.4).

use infra::secret::{Secret, same};

use super::OidcError;
use super::{Answer, Caller, TokenSet, refusal, token_set};

/// Reads a code exchange answer (RFC 6749 §4.1.4).
pub fn exchanged(answer: &Answer) -> Result<TokenSet, OidcError> {
    if answer.is_success() {
        token_set(answer)
    } else {
        Err(refusal(answer, Caller::Client))
    }
}

/// Reads the query of the redirect back from the authorization endpoint (RFC 6749 §4.1.2,
/// RFC 9207): `state` must be the one sent, `iss` the issuer (required when the provider
/// announces it), and then `code` is returned.
pub fn authorization_code(
    query: &str,
    expected_state: &str,
    issuer: &str,
    iss_required: bool,
) -> Result<Secret, OidcError> {
    let mut url = reqwest::Url::parse("http://callback.invalid/")
        .map_err(|_| OidcError::Authorization("cannot read the answer".to_owned()))?;
    url.set_query(Some(query.trim_start_matches('?')));
    let mut found = std::collections::HashMap::new();
    for (name, value) in url.query_pairs() {
        if found
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(OidcError::Authorization(
                "the answer repeats a parameter".to_owned(),
            ));
        }
    }
    let state_ok = found
        .get("state")
        .is_some_and(|state| same(state, expected_state));
    if !state_ok {
        return Err(OidcError::Authorization(
            "the answer does not belong to this sign-in (state)".to_owned(),
        ));
    }
    match found.get("iss") {
        Some(iss) if iss != issuer => {
            return Err(OidcError::Authorization(
                "the answer comes from another issuer (iss)".to_owned(),
            ));
        }
        None if iss_required => {
            return Err(OidcError::Authorization(
                "the answer does not name its issuer (iss)".to_owned(),
            ));
        }
        _ => {}
    }
    if let Some(error) = found.get("error") {
        let plain = (1..=64).contains(&error.len())
            && error
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return Err(OidcError::Authorization(format!(
            "the provider answered {}",
            if plain { error.as_str() } else { "an error" }
        )));
    }
    found
        .remove("code")
        .filter(|code| !code.is_empty())
        .map(Secret::new)
        .ok_or_else(|| OidcError::Authorization("the answer has no code".to_owned()))
}
