//! Random handles, one-time codes, and keyed hashes.
//!
//! Everything a client or user holds (client secrets, `auth_req_id`s, tokens, one-time codes) is
//! stored only as an HMAC-SHA256 under the provider's hash key. The key lives in its own file
//! (`provider.key`, mode 0600) beside the database, so a copy of the database alone reveals
//! nothing that can be replayed. Secrets travel in `infra`'s [`Secret`], whose `Debug` is redacted;
//! random handles are its [`infra::secret::random_token`].

use std::{fmt, io, path::Path};

use hmac::{Hmac, KeyInit, Mac};
use infra::secret::{Secret, key_file};
use rand::RngExt;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What a keyed hash is for; hashes for different purposes never collide.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    ClientSecret,
    AuthReqId,
    /// An access or refresh token.
    Token,
    /// A one-time code (with its user, so equal codes of two users differ).
    OneTimeCode,
    AuthorizationCode,
    /// A rate-limit counter's rule and subject.
    RateLimit,
    /// A workforce device cookie's account, nonce and time.
    DeviceCookie,
    /// The key that seals a ping client's `client_notification_token`, derived from the
    /// request's `auth_req_id`.
    NotificationKey,
    /// A customer's WebAuthn user handle, from their user id.
    PasskeyUser,
    /// The handle of a passkey ceremony under way.
    PasskeyCeremony,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::ClientSecret => b"client-secret",
            Self::AuthReqId => b"auth-req-id",
            Self::Token => b"token",
            Self::OneTimeCode => b"one-time-code",
            Self::AuthorizationCode => b"authorization-code",
            Self::RateLimit => b"rate-limit",
            Self::DeviceCookie => b"device-cookie",
            Self::NotificationKey => b"notification-key",
            Self::PasskeyUser => b"passkey-user",
            Self::PasskeyCeremony => b"passkey-ceremony",
        }
    }
}

/// The provider's hash key.
#[derive(Clone)]
pub struct HashKey([u8; 32]);

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey([redacted])")
    }
}

impl HashKey {
    /// Reads the key file at `path`, or creates it with a new random key (mode 0600).
    pub fn load_or_create(path: &Path) -> io::Result<Self> {
        key_file(path).map(Self)
    }

    /// The key given as 64 hex characters, if it is one (shared by a cluster's instances).
    pub fn from_hex(hex: &str) -> Option<Self> {
        infra::secret::key_from_hex(hex).map(Self)
    }

    /// A key for tests.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// HMAC-SHA256 of `value` for `purpose`.
    pub fn hash(&self, purpose: Purpose, value: &str) -> [u8; 32] {
        // The key is 32 bytes, which HMAC always accepts.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(purpose.label());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `value` hashes to `stored`, compared in constant time.
    pub fn verify(&self, purpose: Purpose, value: &str, stored: &[u8]) -> bool {
        self.hash(purpose, value).ct_eq(stored).into()
    }

    /// `plain` sealed (AES-256-GCM, random nonce) under a key derived from `auth_req_id`, which
    /// the store holds only as a hash: only a caller that presents the id can open it. `None`
    /// if the system's random source fails.
    pub fn seal_for_request(&self, auth_req_id: &str, plain: &str) -> Option<String> {
        use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
        let key = self.hash(Purpose::NotificationKey, auth_req_id);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).ok()?);
        let mut nonce = [0_u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut sealed = plain.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .ok()?;
        let mut out = nonce.to_vec();
        out.append(&mut sealed);
        Some(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            out,
        ))
    }

    /// What [`HashKey::seal_for_request`] sealed under `auth_req_id`; `None` if it does not open.
    pub fn open_for_request(&self, auth_req_id: &str, sealed: &str) -> Option<String> {
        use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sealed)
                .ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let key = self.hash(Purpose::NotificationKey, auth_req_id);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).ok()?);
        let mut body = body.to_vec();
        let plain = key
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::empty(),
                &mut body,
            )
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// A new six-digit one-time code, uniformly distributed.
pub fn one_time_code() -> Secret {
    let code: u32 = rand::rng().random_range(0..1_000_000);
    Secret::new(format!("{code:06}"))
}

#[cfg(test)]
mod tests;
