//! Customers' passkeys (WebAuthn Level 3), the provider's side: the relying party's settings and
//! the rules of each ceremony. The HTTP API is [`crate::http::webauthn`].
//!
//! - The relying party is the approval page: its id (a domain, `bank.example`) and its origin
//!   (`https://verify.bank.example`) are configured ([`PasskeyConfig`]); every registration
//!   and every assertion must carry that origin in its client data and that id's hash in its
//!   authenticator data, or it is refused.
//! - User verification is required (the phone's screen lock), and attestation is not asked
//!   for: any authenticator the customer's phone offers will do.
//! - A ceremony's challenge and state live in the store under the keyed hash of a random handle
//!   ([`Passkeys::handle_hash`]), for [`CEREMONY_LIFETIME`], for the client that began it and
//!   the customer it is for; finishing takes it, so it is used once.
//! - A sign-in names the customer first (as a one-time code does) and allows only that
//!   customer's passkeys; an assertion by any other credential, or whose user handle is not
//!   that customer's, is refused, and so is one whose signature counter did not move on where
//!   the authenticator keeps one.
//! - Each customer's WebAuthn user handle is derived from their user id with the hash key: stable,
//!   and telling nothing of the id.

use std::time::Duration;

use webauthn_rs::prelude::{Url, Uuid, Webauthn, WebauthnBuilder};

use crate::crypto::{HashKey, Purpose};

/// How long a ceremony may take, from its start to its finish.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(300);
/// The most passkeys one customer may register.
pub const MAX_PER_CUSTOMER: usize = 10;

/// The relying party: the approval page's origin and the id passkeys are bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyConfig {
    /// The relying-party id: the origin's host or a registrable suffix of it.
    pub rp_id: String,
    /// The origin of the page that runs the ceremonies.
    pub origin: Url,
}

impl PasskeyConfig {
    /// The settings for pages at `origin` (an `https` URL, or `http` on `localhost` for
    /// development), with `rp_id` or, without one, the origin's host; an error sentence if they
    /// do not go together.
    pub fn new(origin: &str, rp_id: Option<&str>) -> Result<Self, String> {
        let url = Url::parse(origin.trim())
            .map_err(|_| format!("{origin:?} is not a URL (https://verify.bank.example)"))?;
        let local = url.host_str() == Some("localhost");
        if url.scheme() != "https" && !(local && url.scheme() == "http") {
            return Err("must be an https origin (http only on localhost)".to_owned());
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err("must be an origin alone, without a path".to_owned());
        }
        let Some(host) = url.domain() else {
            return Err("must name a domain: passkeys are not bound to IP addresses".to_owned());
        };
        let rp_id = rp_id.map_or_else(|| host.to_owned(), |id| id.trim().to_ascii_lowercase());
        let config = Self { rp_id, origin: url };
        config.webauthn().map(|_| config)
    }

    /// The ceremonies' engine.
    pub fn webauthn(&self) -> Result<Webauthn, String> {
        WebauthnBuilder::new(&self.rp_id, &self.origin)
            .and_then(|builder| builder.rp_name("Countersign").build())
            .map_err(|_| {
                format!(
                    "the relying-party id {:?} is not the origin's host nor a suffix of it",
                    self.rp_id
                )
            })
    }
}

/// The relying party at work.
#[derive(Clone, Debug)]
pub struct Passkeys {
    /// The engine (challenges, checks).
    pub webauthn: Webauthn,
}

impl Passkeys {
    /// The relying party `config` describes.
    pub fn new(config: &PasskeyConfig) -> Result<Self, String> {
        Ok(Self {
            webauthn: config.webauthn()?,
        })
    }

    /// The WebAuthn user handle of `user_id`: 16 bytes of its keyed hash.
    pub fn user_handle(hash_key: &HashKey, user_id: &str) -> Uuid {
        let hash = hash_key.hash(Purpose::PasskeyUser, user_id);
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&hash[..16]);
        Uuid::from_bytes(bytes)
    }

    /// The keyed hash under which a ceremony's `handle` is stored.
    pub fn handle_hash(hash_key: &HashKey, handle: &str) -> Vec<u8> {
        hash_key.hash(Purpose::PasskeyCeremony, handle).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_an_https_origin_with_its_domain_or_a_suffix() {
        let config = PasskeyConfig::new("https://verify.bank.example", None).unwrap();
        assert_eq!(config.rp_id, "verify.bank.example");
        let config = PasskeyConfig::new("https://verify.bank.example", Some("bank.example"));
        assert_eq!(config.unwrap().rp_id, "bank.example");
        assert!(PasskeyConfig::new("http://localhost:3000", None).is_ok());
        for (origin, rp_id, problem) in [
            ("http://verify.bank.example", None, "https"),
            ("https://127.0.0.1:3000", None, "domain"),
            ("https://verify.bank.example/approve", None, "path"),
            (
                "https://verify.bank.example",
                Some("other.example"),
                "suffix",
            ),
            ("https://verify.bank.example", Some("ank.example"), "suffix"),
            ("bank", None, "not a URL"),
        ] {
            let error = PasskeyConfig::new(origin, rp_id).unwrap_err();
            assert!(error.contains(problem), "{origin} {rp_id:?}: {error}");
        }
    }

    #[test]
    fn user_handles_are_stable_per_user_and_key() {
        let key = HashKey::from_bytes([7; 32]);
        let alice = Passkeys::user_handle(&key, "alice");
        assert_eq!(alice, Passkeys::user_handle(&key, "alice"));
        assert_ne!(alice, Passkeys::user_handle(&key, "bob"));
        assert_ne!(
            alice,
            Passkeys::user_handle(&HashKey::from_bytes([8; 32]), "alice")
        );
    }
}
