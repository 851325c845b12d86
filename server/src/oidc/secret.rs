//! [`Secret`]: a string that must not be printed.

use std::fmt;

/// A client secret, token, `auth_req_id`, one-time code or PKCE verifier.
///
/// `Debug` prints `[redacted]`, and there is no `Display`, so a secret cannot reach a log or an
/// error message by accident; [`Secret::expose`] is the one way to read it, at the place it is
/// sent.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the request that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Compared in constant time: how long a comparison takes says nothing about where two secrets
/// differ.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        super::wire::same(&self.0, &other.0)
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("demo-console-secret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "demo-console-secret");
        assert_eq!(secret, Secret::from("demo-console-secret"));
        assert_ne!(secret, Secret::from("demo-console-secreT"));
    }
}
