//! Form bodies (`application/x-www-form-urlencoded`) read strictly: a parameter sent twice is an
//! error (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"),
//! and an empty value counts as present. At most [`MAX_PARAMETERS`] parameters are read: no OAuth
//! or CIBA form needs more than a few dozen, and the cap is checked before anything is decoded.

use std::collections::HashSet;

use axum::{
    extract::{FromRequest, Request},
    http::header,
};

use crate::error::OAuthError;

/// The parameters of a form body, in order. Its `Debug` shows names only: values may be secrets.
#[derive(Default)]
pub struct Form(Vec<(String, String)>);

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

/// The most parameters a form may have.
pub const MAX_PARAMETERS: usize = 64;

impl Form {
    /// Parses `body`; refuses more than [`MAX_PARAMETERS`] parameters and repeated parameters.
    ///
    /// Linear in the body's length: the cap is counted on the raw bytes (empty pieces between
    /// `&`s are no parameters, as in the decoder) before decoding, and repeats are found with a
    /// set.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let count = body
            .split(|byte| *byte == b'&')
            .filter(|piece| !piece.is_empty())
            .take(MAX_PARAMETERS + 1)
            .count();
        if count > MAX_PARAMETERS {
            return Err(OAuthError::invalid_request(format!(
                "The form has more than {MAX_PARAMETERS} parameters."
            )));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("The body is not a valid form."))?;
        let mut seen = HashSet::with_capacity(pairs.len());
        for (name, _) in &pairs {
            if !seen.insert(name.as_str()) {
                return Err(OAuthError::invalid_request(format!(
                    "The parameter {name} was sent more than once."
                )));
            }
        }
        Ok(Self(pairs))
    }

    /// The value of `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The names sent, in order.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// The value of `name`, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required.")))
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value.split(';').next().is_some_and(|mime| {
                    mime.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !is_form {
            return Err(OAuthError::invalid_request(
                "Send the parameters as application/x-www-form-urlencoded.",
            ));
        }
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| OAuthError::invalid_request("The body could not be read."))?;
        Self::parse(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        let error = Form::parse(b"login_hint=a&scope=openid&login_hint=b").unwrap_err();
        assert!(error.description.contains("login_hint"), "{error}");
        let form = Form::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(form.get("a"), Some("1"));
        assert_eq!(form.get("b"), Some(""));
        assert_eq!(form.get("c"), Some("x y"));
        assert_eq!(form.get("d"), None);
        assert!(form.require("d").is_err());
    }

    /// SECURITY.md case 27: 200,000 distinct names are refused by the count, before any decoding
    /// or comparison (the old pairwise check took about 2·10¹⁰ comparisons here, and accepted
    /// the form).
    #[test]
    fn case_27_two_hundred_thousand_distinct_parameters_are_refused_by_the_cap() {
        let body: Vec<u8> = (0..200_000)
            .map(|index| format!("p{index}="))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes();
        let error = Form::parse(&body).unwrap_err();
        assert_eq!(error.code, crate::error::ErrorCode::InvalidRequest);
        assert_eq!(
            error.description,
            format!("The form has more than {MAX_PARAMETERS} parameters.")
        );
    }

    #[test]
    fn the_cap_counts_parameters_as_the_decoder_does() {
        let at_cap: Vec<String> = (0..MAX_PARAMETERS)
            .map(|index| format!("p{index}=v"))
            .collect();
        // Empty pieces between `&`s are no parameters.
        let body = format!("&&{}&&", at_cap.join("&&"));
        assert_eq!(
            Form::parse(body.as_bytes()).unwrap().0.len(),
            MAX_PARAMETERS
        );
        let over = format!("{body}&extra=1");
        assert!(Form::parse(over.as_bytes()).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{Form, MAX_PARAMETERS};

        fn encode(pairs: &[(String, String)]) -> String {
            serde_urlencoded::to_string(pairs).unwrap()
        }

        proptest! {
            /// Whatever arrives, parsing answers (a form or a refusal) and never panics.
            #[test]
            fn case_27_arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
                let _ = Form::parse(&body);
            }

            /// Any form of distinct names, up to the cap, reads back exactly, in order.
            #[test]
            fn case_27_distinct_names_round_trip(
                map in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..=MAX_PARAMETERS)
            ) {
                let pairs: Vec<(String, String)> = map.into_iter().collect();
                let form = Form::parse(encode(&pairs).as_bytes()).unwrap();
                prop_assert_eq!(&form.0, &pairs);
                for (name, value) in &pairs {
                    prop_assert_eq!(form.get(name), Some(value.as_str()));
                }
            }

            /// A name sent twice is refused, wherever the second one is.
            #[test]
            fn case_27_a_repeated_name_is_refused(
                map in proptest::collection::btree_map(any::<String>(), any::<String>(), 1..MAX_PARAMETERS),
                pick in any::<prop::sample::Index>(),
                at in any::<prop::sample::Index>(),
                value in any::<String>(),
            ) {
                let mut pairs: Vec<(String, String)> = map.into_iter().collect();
                let name = pairs[pick.index(pairs.len())].0.clone();
                let position = at.index(pairs.len() + 1);
                pairs.insert(position, (name, value));
                let error = Form::parse(encode(&pairs).as_bytes()).unwrap_err();
                prop_assert!(error.description.ends_with("was sent more than once."), "{}", error);
            }

            /// More parameters than the cap are refused, whatever they are.
            #[test]
            fn case_27_more_than_the_cap_is_refused(
                map in proptest::collection::btree_map(any::<String>(), any::<String>(), MAX_PARAMETERS + 1..4 * MAX_PARAMETERS)
            ) {
                let pairs: Vec<(String, String)> = map.into_iter().collect();
                let error = Form::parse(encode(&pairs).as_bytes()).unwrap_err();
                prop_assert_eq!(
                    error.description,
                    format!("The form has more than {MAX_PARAMETERS} parameters.")
                );
            }
        }
    }
}
