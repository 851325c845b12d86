//! Random handles, one-time codes, and keyed hashes.
//!
//! Everything a client or user holds (client secrets, `auth_req_id`s, tokens, one-time codes) is
//! stored only as an HMAC-SHA256 under the provider's hash key. The key lives in its own file
//! (`provider.key`, mode 0600) beside the database, so a copy of the database alone reveals
//! nothing that can be replayed. Secrets travel in [`Secret`], whose `Debug` is redacted.

use std::{fmt, io, path::Path};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::{Rng, RngExt};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A value that must not be logged or shown: its `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (a response body, a hash).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What a keyed hash is for; hashes for different purposes never collide.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    /// A client secret.
    ClientSecret,
    /// An `auth_req_id`.
    AuthReqId,
    /// An access or refresh token.
    Token,
    /// A one-time code (with its user, so equal codes of two users differ).
    OneTimeCode,
    /// An authorization code.
    AuthorizationCode,
    /// A rate-limit counter's rule and subject.
    RateLimit,
    /// A workforce device cookie's account, nonce and time.
    DeviceCookie,
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
}

/// The 32-byte key in the file at `path`, or a new random one written there first (mode 0600,
/// never overwriting a file that appeared meanwhile).
pub fn key_file(path: &Path) -> io::Result<[u8; 32]> {
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a 32-byte key", path.display()),
            )
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let mut key = [0_u8; 32];
            rand::rng().fill_bytes(&mut key);
            write_private(path, &key)?;
            Ok(key)
        }
        Err(error) => Err(error),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::write(path, bytes)
}

/// A new random handle of 256 bits, base64url without padding (characters `A-Za-z0-9-_`).
pub fn random_handle() -> Secret {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new six-digit one-time code, uniformly distributed.
pub fn one_time_code() -> Secret {
    let code: u32 = rand::rng().random_range(0..1_000_000);
    Secret(format!("{code:06}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_long_random_and_url_safe() {
        let a = random_handle();
        let b = random_handle();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(format!("{a:?}"), "[redacted]");
    }

    #[test]
    fn codes_have_six_digits() {
        for _ in 0..200 {
            let code = one_time_code();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn hashes_depend_on_key_purpose_and_value() {
        let key = HashKey::from_bytes([7; 32]);
        let other = HashKey::from_bytes([8; 32]);
        let h = key.hash(Purpose::Token, "abc");
        assert!(key.verify(Purpose::Token, "abc", &h));
        assert!(!key.verify(Purpose::Token, "abd", &h));
        assert!(!key.verify(Purpose::AuthReqId, "abc", &h));
        assert!(!other.verify(Purpose::Token, "abc", &h));
        assert!(!key.verify(Purpose::Token, "abc", &h[..31]));
    }

    #[test]
    fn the_key_file_is_created_once_and_kept_private() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("provider.key");
        let first = HashKey::load_or_create(&path).unwrap();
        let again = HashKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(HashKey::load_or_create(&path).is_err());
    }
}
