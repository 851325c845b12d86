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
mod tests;
