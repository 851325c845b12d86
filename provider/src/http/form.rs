//! Form bodies (`application/x-www-form-urlencoded`) read strictly: a parameter sent twice is an
//! error (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"),
//! and an empty value counts as present.

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

impl Form {
    /// Parses `body`; refuses repeated parameters.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("The body is not a valid form."))?;
        for (index, (name, _)) in pairs.iter().enumerate() {
            if pairs[..index].iter().any(|(earlier, _)| earlier == name) {
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
}
