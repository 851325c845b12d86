//! ID token validation (OIDC Core §3.1.3.7, CIBA Core §10.1.1): the signature against the
//! provider's JWKS, then the claims against the issuer, this client, the caller's expectations
//! and a `now` the caller passes in.
//!
//! jsonwebtoken checks only the signature here (its own `exp` check reads the system clock);
//! [`check_claims`] checks every claim as a plain function of its inputs.

use std::collections::HashSet;

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse},
};
use serde::Deserialize;
use serde_json::Value;

use super::{IdTokenError, wire::ProfileClaims};

/// Clock skew tolerated between the provider and the BFF, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// What the caller expects of an ID token beyond issuer, audience and lifetime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The user the token must be about (the customer that was requested).
    pub sub: Option<&'a str>,
    /// The `nonce` sent in the authorization request.
    pub nonce: Option<&'a str>,
}

/// The claims of a validated ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdClaims {
    /// The user id.
    pub sub: String,
    /// Display name.
    pub name: Option<String>,
    /// With the `email` scope.
    pub email: Option<String>,
    /// With the `email` scope.
    pub email_verified: Option<bool>,
    /// With the `phone` scope.
    pub phone_number: Option<String>,
    /// With the `phone` scope.
    pub phone_number_verified: Option<bool>,
    /// How the user authenticated (RFC 8176), e.g. `["otp", "email"]`.
    pub amr: Vec<String>,
    /// When the user authenticated, seconds since the epoch.
    pub auth_time: Option<i64>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// A workforce user's role (`agent`, `supervisor`).
    pub role: Option<String>,
    /// When the token expires, seconds since the epoch.
    pub expires_at: i64,
}

/// `aud`: one audience or several (RFC 7519 §4.1.3).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

/// The claims as they arrive, before any check.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct RawClaims {
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Audience.
    #[serde(default)]
    pub aud: Option<Audience>,
    /// Authorized party.
    #[serde(default)]
    pub azp: Option<String>,
    /// Expiry.
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// The authorization request's nonce.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Authentication time.
    #[serde(default)]
    pub auth_time: Option<i64>,
    /// Authentication methods.
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// Authentication context class.
    #[serde(default)]
    pub acr: Option<String>,
    /// Who they are.
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// Checks the claims of a token whose signature verified: `iss` is `issuer`, `aud` holds
/// `client_id` (and `azp`, if present or needed, is `client_id`), `exp` is after `now` and
/// `iat`/`nbf` not after it (both within [`CLOCK_SKEW_SECS`]), and `sub` and `nonce` are what
/// `expected` says when it says anything.
pub fn check_claims(
    raw: RawClaims,
    issuer: &str,
    client_id: &str,
    expected: &Expected<'_>,
    now: i64,
) -> Result<IdClaims, IdTokenError> {
    let iss = raw.iss.ok_or(IdTokenError::MissingClaim("iss"))?;
    if iss != issuer {
        return Err(IdTokenError::WrongIssuer);
    }
    let audiences = match raw.aud.ok_or(IdTokenError::MissingClaim("aud"))? {
        Audience::One(aud) => vec![aud],
        Audience::Many(auds) => auds,
    };
    if !audiences.iter().any(|aud| aud == client_id) {
        return Err(IdTokenError::WrongAudience);
    }
    // OIDC Core §3.1.3.7 items 4 and 5.
    match raw.azp.as_deref() {
        Some(azp) if azp != client_id => return Err(IdTokenError::WrongAudience),
        None if audiences.len() > 1 => return Err(IdTokenError::WrongAudience),
        _ => {}
    }
    let exp = raw.exp.ok_or(IdTokenError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(CLOCK_SKEW_SECS) {
        return Err(IdTokenError::Expired);
    }
    let iat = raw.iat.ok_or(IdTokenError::MissingClaim("iat"))?;
    let latest = now.saturating_add(CLOCK_SKEW_SECS);
    if iat > latest || raw.nbf.is_some_and(|nbf| nbf > latest) {
        return Err(IdTokenError::NotYetValid);
    }
    let sub = raw
        .sub
        .filter(|sub| !sub.is_empty())
        .ok_or(IdTokenError::MissingClaim("sub"))?;
    if expected.sub.is_some_and(|wanted| wanted != sub) {
        return Err(IdTokenError::SubjectMismatch);
    }
    if let Some(wanted) = expected.nonce
        && !raw
            .nonce
            .as_deref()
            .is_some_and(|nonce| infra::secret::same(nonce, wanted))
    {
        return Err(IdTokenError::NonceMismatch);
    }
    Ok(IdClaims {
        sub,
        name: raw.profile.name,
        email: raw.profile.email,
        email_verified: raw.profile.email_verified,
        phone_number: raw.profile.phone_number,
        phone_number_verified: raw.profile.phone_number_verified,
        amr: raw.amr.unwrap_or_default(),
        auth_time: raw.auth_time,
        acr: raw.acr,
        role: raw.profile.role,
        expires_at: exp,
    })
}

/// A public key from the JWKS, ready to verify.
#[derive(Clone, Debug)]
pub struct VerifyKey {
    /// Its `kid`, if it has one.
    pub kid: Option<String>,
    /// RS256 or ES256.
    pub alg: Algorithm,
    key: DecodingKey,
}

/// The RS256 and ES256 signing keys of a JWK Set (RFC 7517 §5); keys of other types, curves,
/// algorithms or uses, and keys that do not read as a JWK, are skipped one by one (so one odd key
/// does not cost the others).
pub fn signing_keys(jwks: &Value) -> Vec<VerifyKey> {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|key| Jwk::deserialize(key).ok())
        .filter_map(|jwk| signing_key(&jwk))
        .collect()
}

fn signing_key(jwk: &Jwk) -> Option<VerifyKey> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
    {
        return None;
    }
    let (alg, named) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            (Algorithm::ES256, KeyAlgorithm::ES256)
        }
        _ => return None,
    };
    if jwk
        .common
        .key_algorithm
        .is_some_and(|stated| stated != named)
    {
        return None;
    }
    Some(VerifyKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

/// The key for a token with `kid` and `alg`: the one with that `kid` and algorithm, or, for a
/// token without `kid`, the only key of that algorithm.
pub fn select<'a>(
    keys: &'a [VerifyKey],
    kid: Option<&str>,
    alg: Algorithm,
) -> Option<&'a VerifyKey> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|key| key.alg == alg && key.kid.as_deref() == Some(kid)),
        None => {
            let mut candidates = keys.iter().filter(|key| key.alg == alg);
            let only = candidates.next()?;
            candidates.next().is_none().then_some(only)
        }
    }
}

/// The header fields that choose the key: the algorithm (RS256 or ES256 only) and `kid`.
pub fn header(token: &str) -> Result<(Algorithm, Option<String>), IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed)?;
    match header.alg {
        Algorithm::RS256 | Algorithm::ES256 => Ok((header.alg, header.kid)),
        other => Err(IdTokenError::UnsupportedAlgorithm(format!("{other:?}"))),
    }
}

/// Verifies the signature of `token` with `key` and returns its claims, unchecked.
pub fn verify(token: &str, key: &VerifyKey) -> Result<RawClaims, IdTokenError> {
    let mut validation = Validation::new(key.alg);
    // Claims are checked by `check_claims`, against the `now` the caller gives.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    validation.leeway = 0;
    jsonwebtoken::decode::<RawClaims>(token, &key.key, &validation)
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat => IdTokenError::BadSignature,
            _ => IdTokenError::Malformed,
        })
}

#[cfg(test)]
mod tests;
