//! Secrets at rest: every customer token the BFF keeps in its store (a verified customer's
//! token set, a customer's access token between sign-in and decision) and the provider's
//! handle of each request (`auth_req_id`, and the link that carries it) is sealed with
//! AES-256-GCM under a key kept in its own file (`countersign.key` in the data folder, mode
//! 0600, made on first start). A copy of the database alone gives no usable token or handle.
//!
//! Requests are found by [`Sealer::lookup`], an HMAC-SHA256 of the handle under a key derived
//! from the same file, so the store compares hashes, never handles.
//!
//! A sealed value is `v1.` + base64url(nonce ‖ ciphertext ‖ tag); the nonce is random per
//! value, and the purpose and the row (a flow id, a session's id hash) are bound as associated
//! data, so a value sealed for one column or row does not open in another.

use std::{fmt, io, path::Path};

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hmac,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::store::{Flow, FlowStore, StoreError};

/// What a sealed value holds; bound to it as associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A verified customer's token set (`flows.tokens`).
    FlowTokens,
    /// A signed-in customer's access token (`customer_sessions.access_token`).
    CustomerToken,
    /// The provider's handle of a request (`flows.auth_req_id`).
    AuthReqId,
    /// The link that carries it, for the `link` channel (`flows.link`).
    Link,
    /// The provider's id of a customer's passkey ceremony (`customer_sessions.passkey_ceremony`).
    PasskeyCeremony,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::FlowTokens => b"countersign flow tokens v1",
            Self::CustomerToken => b"countersign customer token v1",
            Self::AuthReqId => b"countersign auth_req_id v1",
            Self::Link => b"countersign link v1",
            Self::PasskeyCeremony => b"countersign passkey ceremony v1",
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

/// What the lookup key is derived with (HMAC-SHA256 of this under the file's key).
const LOOKUP_LABEL: &[u8] = b"countersign auth_req_id lookup key v1";

/// Seals and opens values with the BFF's key.
pub struct Sealer {
    key: LessSafeKey,
    lookup: hmac::Key,
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

    /// A sealer with the key given as 64 hex characters, if it is one.
    pub fn from_hex(hex: &str) -> Option<Self> {
        key_from_hex(hex).map(Self::from_bytes)
    }

    /// A sealer with `key`.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), LOOKUP_LABEL);
        let lookup = hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref());
        let key = UnboundKey::new(&AES_256_GCM, &key)
            .unwrap_or_else(|_| unreachable!("AES-256-GCM takes 32-byte keys"));
        Self {
            key: LessSafeKey::new(key),
            lookup,
        }
    }

    /// The keyed hash a request is stored and found under (`flows.auth_req_id_hash`, and
    /// `customer_sessions.auth_req_id` as hex): the same for the same handle under this key.
    pub fn lookup(&self, auth_req_id: &str) -> Vec<u8> {
        hmac::sign(&self.lookup, auth_req_id.as_bytes())
            .as_ref()
            .to_vec()
    }

    /// The keyed hash a flow keeps of the `client_notification_token` it sent in ping mode
    /// (`flows.notification_token_hash`); never equal to a [`Sealer::lookup`] of the same text.
    pub fn notification_hash(&self, token: &str) -> Vec<u8> {
        let mut labelled = b"client_notification_token\0".to_vec();
        labelled.extend_from_slice(token.as_bytes());
        hmac::sign(&self.lookup, &labelled).as_ref().to_vec()
    }

    /// Whether `token` is the one whose [`Sealer::notification_hash`] is `stored`, compared in
    /// constant time.
    pub fn is_notification_token(&self, token: &str, stored: &[u8]) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.notification_hash(token), stored)
            .is_ok()
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

/// Why the flows kept from before sealing could not be sealed at start.
#[derive(Debug, thiserror::Error)]
pub enum SealKeptError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A flow could not be sealed (the system's random source failed), or it changed while it
    /// was being sealed (another process on the same database).
    #[error("flow {0} could not be sealed; start again")]
    Flow(String),
}

/// Seals the handles and links of flows kept from before handles were sealed (they have no
/// hash yet), at start, before any poller runs; returns how many it sealed. A flow it cannot
/// seal stops the start: left in the clear, its poller could not read it.
pub async fn seal_kept_requests(
    store: &dyn FlowStore,
    sealer: &Sealer,
) -> Result<usize, SealKeptError> {
    let mut sealed = 0;
    for flow in store.unsealed_flows().await? {
        let Some(plain) = flow.auth_req_id.as_deref() else {
            continue;
        };
        let row = flow.id.as_bytes();
        let link = match flow.link.as_deref() {
            Some(link) => sealer.seal(Purpose::Link, row, link).map(Some),
            None => Some(None),
        };
        let (Some(auth_req_id), Some(link)) = (sealer.seal(Purpose::AuthReqId, row, plain), link)
        else {
            return Err(SealKeptError::Flow(flow.id.clone()));
        };
        let next = Flow {
            auth_req_id: Some(auth_req_id),
            link,
            auth_req_id_hash: Some(sealer.lookup(plain)),
            ..flow.clone()
        };
        if !store.update_flow(&next, flow.version).await? {
            return Err(SealKeptError::Flow(flow.id.clone()));
        }
        sealed += 1;
    }
    Ok(sealed)
}

/// Hex, lower case: how [`Sealer::lookup`] is kept in a text column.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

pub use infra::secret::key_from_hex;

#[cfg(test)]
mod tests;
