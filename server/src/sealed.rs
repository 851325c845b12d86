//! Tokens at rest: every customer token the BFF keeps in its store (a verified customer's
//! token set, a customer's access token between sign-in and decision) is sealed with
//! AES-256-GCM under a key kept in its own file (`countersign.key` in the data folder, mode
//! 0600, made on first start). A copy of the database alone gives no usable token.
//!
//! A sealed value is `v1.` + base64url(nonce ‖ ciphertext ‖ tag); the nonce is random per
//! value, and the purpose and the row (a flow id, a session's id hash) are bound as associated
//! data, so a value sealed for one column or row does not open in another.

use std::{fmt, io, path::Path};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

/// What a sealed value holds; bound to it as associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A verified customer's token set (`flows.tokens`).
    FlowTokens,
    /// A signed-in customer's access token (`customer_sessions.access_token`).
    CustomerToken,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::FlowTokens => b"countersign flow tokens v1",
            Self::CustomerToken => b"countersign customer token v1",
        }
    }

    /// The associated data: the label, a zero byte, the row.
    fn aad(self, row: &[u8]) -> Vec<u8> {
        let mut aad = self.label().to_vec();
        aad.push(0);
        aad.extend_from_slice(row);
        aad
    }
}

const PREFIX: &str = "v1.";

/// Seals and opens values with the BFF's key.
pub struct Sealer {
    key: LessSafeKey,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// The sealer of the key file at `path`, made with a new random key if it is missing.
    pub fn load_or_create(path: &Path) -> io::Result<Self> {
        Ok(Self::from_bytes(infra::secret::key_file(path)?))
    }

    /// A sealer with `key` (tests).
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, &key)
            .unwrap_or_else(|_| unreachable!("AES-256-GCM takes 32-byte keys"));
        Self {
            key: LessSafeKey::new(key),
        }
    }

    /// `plain` sealed for `purpose` in `row`. `None` only if the system's random source fails.
    pub fn seal(&self, purpose: Purpose, row: &[u8], plain: &str) -> Option<String> {
        let mut nonce = [0_u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut sealed = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.aad(row)),
                &mut sealed,
            )
            .ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Some(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// What `sealed` holds, if this key sealed it for `purpose` in `row` and nothing changed it.
    pub fn open(&self, purpose: Purpose, row: &[u8], sealed: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut rest = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose.aad(row)), &mut rest)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_purpose_and_row() {
        let sealer = Sealer::from_bytes([7; 32]);
        let plain = r#"{"access_token":"at-123","refresh_token":"rt-456"}"#;
        let sealed = sealer.seal(Purpose::FlowTokens, b"flow-1", plain).unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("at-123"));
        let open = |purpose, row: &[u8], value: &str| sealer.open(purpose, row, value);
        assert_eq!(
            open(Purpose::FlowTokens, b"flow-1", &sealed).as_deref(),
            Some(plain)
        );
        // A fresh nonce each time.
        let again = sealer.seal(Purpose::FlowTokens, b"flow-1", plain).unwrap();
        assert_ne!(again, sealed);
        // Another purpose, row or key, a changed byte, or no seal at all: nothing.
        assert_eq!(open(Purpose::CustomerToken, b"flow-1", &sealed), None);
        assert_eq!(open(Purpose::FlowTokens, b"flow-2", &sealed), None);
        let other = Sealer::from_bytes([8; 32]);
        assert_eq!(other.open(Purpose::FlowTokens, b"flow-1", &sealed), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("v1.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(open(Purpose::FlowTokens, b"flow-1", &tampered), None);
        for junk in ["", "v1.", "v1.AAAA", plain, "v2.abc"] {
            assert_eq!(open(Purpose::FlowTokens, b"flow-1", junk), None, "{junk}");
        }
    }

    #[test]
    fn the_key_file_is_made_once_and_kept() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("countersign.key");
        let first = Sealer::load_or_create(&path).unwrap();
        let sealed = first.seal(Purpose::CustomerToken, b"row", "token").unwrap();
        let again = Sealer::load_or_create(&path).unwrap();
        assert_eq!(
            again
                .open(Purpose::CustomerToken, b"row", &sealed)
                .as_deref(),
            Some("token")
        );
        std::fs::write(&path, b"short").unwrap();
        assert!(Sealer::load_or_create(&path).is_err());
    }
}
