//! Secrets in memory, random tokens, and key files.
//!
//! A client secret, token, `auth_req_id`, one-time code or PKCE verifier travels in [`Secret`]:
//! its `Debug` prints `[redacted]` and it has no `Display`, so it cannot reach a log line or an
//! error message by accident. [`Secret::expose`] is the one way to read it, where it is sent or
//! hashed.

use std::{fmt, io, path::Path};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::Rng as _;
use subtle::ConstantTimeEq as _;

/// A value that must not be logged or shown.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (a request, a response body, a hash).
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
        same(&self.0, &other.0)
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

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// 256 random bits, base64url without padding: 43 characters of `A-Za-z0-9-_`. What every
/// handle, `state`, `nonce`, PKCE verifier and cookie value is made of.
pub fn random_token() -> Secret {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret(URL_SAFE_NO_PAD.encode(bytes))
}

/// The 32 bytes that 64 hex characters (either case) spell, if they do.
pub fn key_from_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut key = [0_u8; 32];
    for (byte, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(key)
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

#[cfg(test)]
mod tests;
