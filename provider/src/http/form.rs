//! Form bodies (`application/x-www-form-urlencoded`) read strictly: a parameter sent twice is an
//! error (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"),
//! and an empty value counts as present.

use axum::{
    extract::{FromRequest, Request},
    http::header,
};

use crate::error::OAuthError;

/// The most parameters a form may have: every endpoint needs fewer than 20.
pub const MAX_PARAMETERS: usize = 64;

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

impl Form {
    /// Parses `body`; refuses repeated parameters, and more than [`MAX_PARAMETERS`].
    ///
    /// Linear in the body's length: a form of 200,000 distinct names is refused as soon as it
    /// is read, not compared name by name with every earlier one.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("The body is not a valid form."))?;
        if pairs.len() > MAX_PARAMETERS {
            return Err(OAuthError::invalid_request(format!(
                "The form has more than {MAX_PARAMETERS} parameters."
            )));
        }
        let mut seen = std::collections::HashSet::with_capacity(pairs.len());
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

    /// SECURITY.md case 27 at the provider: 200,000 distinct parameters are refused at once
    /// (the duplicate check was quadratic: 2·10¹⁰ name comparisons).
    #[test]
    fn case_27_a_form_of_200000_parameters_is_refused_at_once() {
        let body: String = (0..200_000).map(|i| format!("p{i}=&")).collect();
        let started = std::time::Instant::now();
        let error = Form::parse(body.as_bytes()).unwrap_err();
        assert_eq!(error.code, crate::error::ErrorCode::InvalidRequest);
        assert!(error.description.contains("more than 64"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let most: String = (0..MAX_PARAMETERS).map(|i| format!("p{i}={i}&")).collect();
        assert_eq!(Form::parse(most.as_bytes()).unwrap().get("p63"), Some("63"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn any_body_parses_or_is_a_clear_invalid_request(
                body in proptest::collection::vec(any::<u8>(), 0..4096),
            ) {
                if let Err(error) = Form::parse(&body) {
                    prop_assert_eq!(error.code, crate::error::ErrorCode::InvalidRequest);
                }
            }

            #[test]
            fn distinct_parameters_round_trip(
                pairs in proptest::collection::btree_map("[a-z_]{1,12}", any::<String>(), 0..MAX_PARAMETERS),
            ) {
                let pairs: Vec<(String, String)> = pairs.into_iter().collect();
                let body = serde_urlencoded::to_string(&pairs).unwrap();
                let form = Form::parse(body.as_bytes()).unwrap();
                for (name, value) in &pairs {
                    prop_assert_eq!(form.get(name), Some(value.as_str()));
                }
            }
        }
    }
}
