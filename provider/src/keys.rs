//! Signing keys and ID tokens.
//!
//! On first start the provider generates one ES256 (P-256) and one RS256 (RSA 2048) key and keeps
//! them in the store; later starts load them. Both are published in the JWKS with their `kid`.
//! ID tokens are signed with RS256, the algorithm OpenID Connect clients assume when they have
//! not registered another (OIDC Core §2, `id_token_signed_response_alg`).

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der},
    rand::SystemRandom,
    rsa::{KeyPair as RsaKeyPair, KeySize},
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::Timestamp;

/// A key as stored: algorithm, key id, PKCS#8 private key, public JWK.
#[derive(Clone)]
pub struct StoredKey {
    /// The key id published in the JWKS and JWT headers.
    pub kid: String,
    /// `ES256` or `RS256`.
    pub alg: String,
    /// The PKCS#8 DER private key.
    pub private_der: Vec<u8>,
    /// The public key as a JWK (JSON).
    pub public_jwk: Value,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Why a key could not be made or used.
#[derive(Debug, thiserror::Error)]
#[error("signing key: {0}")]
pub struct KeyError(String);

/// Generates a new P-256 key for ES256.
pub fn generate_es256(now: Timestamp) -> Result<StoredKey, KeyError> {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| KeyError("cannot generate a P-256 key".into()))?
        .as_ref()
        .to_vec();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        .map_err(|_| KeyError("cannot read the P-256 key".into()))?;
    // The public key is the uncompressed point 0x04 || x || y.
    let point = pair.public_key().as_ref();
    let (x, y) = (point.get(1..33), point.get(33..65));
    let (Some(x), Some(y)) = (x, y) else {
        return Err(KeyError("unexpected P-256 public key".into()));
    };
    let kid = format!("es256-{}", now.unix_seconds());
    let public_jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
    });
    Ok(StoredKey {
        kid,
        alg: "ES256".into(),
        private_der: der,
        public_jwk,
    })
}

/// Generates a new RSA 2048 key for RS256.
pub fn generate_rs256(now: Timestamp) -> Result<StoredKey, KeyError> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| KeyError("cannot generate an RSA key".into()))?;
    let der = AsDer::<Pkcs8V1Der>::as_der(&pair)
        .map_err(|_| KeyError("cannot encode the RSA key".into()))?
        .as_ref()
        .to_vec();
    let public = pair.public_key();
    let kid = format!("rs256-{}", now.unix_seconds());
    let public_jwk = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    });
    Ok(StoredKey {
        kid,
        alg: "RS256".into(),
        private_der: der,
        public_jwk,
    })
}

/// The provider's signing keys, ready to sign; cheap to clone (the state every request gets
/// holds one).
#[derive(Clone)]
pub struct Signer {
    keys: std::sync::Arc<Keys>,
}

struct Keys {
    rs256: (String, EncodingKey),
    es256: (String, EncodingKey),
    jwks: Value,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("rs256", &self.keys.rs256.0)
            .field("es256", &self.keys.es256.0)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Builds a signer from stored keys; the newest key of each algorithm signs.
    pub fn new(keys: &[StoredKey]) -> Result<Self, KeyError> {
        let newest = |alg: &str| {
            keys.iter()
                .filter(|key| key.alg == alg)
                .max_by(|a, b| a.kid.cmp(&b.kid))
                .ok_or_else(|| KeyError(format!("no {alg} key")))
        };
        let rs = newest("RS256")?;
        let es = newest("ES256")?;
        // aws-lc's RSA signer reads PKCS#1 from DER, but PKCS#8 from PEM.
        let rs_key = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", &rs.private_der).as_bytes())
            .map_err(|error| KeyError(format!("RS256 key: {error}")))?;
        let es_key = EncodingKey::from_ec_der(&es.private_der);
        Ok(Self {
            keys: std::sync::Arc::new(Keys {
                rs256: (rs.kid.clone(), rs_key),
                es256: (es.kid.clone(), es_key),
                jwks: json!({ "keys": keys.iter().map(|key| key.public_jwk.clone()).collect::<Vec<_>>() }),
            }),
        })
    }

    /// The public keys as a JWK Set (RFC 7517 §5).
    pub fn jwks(&self) -> &Value {
        &self.keys.jwks
    }

    /// Signs `claims` as a JWT with `alg` (RS256 or ES256).
    pub fn sign(&self, alg: Algorithm, claims: &impl Serialize) -> Result<String, KeyError> {
        let (kid, key) = match alg {
            Algorithm::ES256 => &self.keys.es256,
            _ => &self.keys.rs256,
        };
        let mut header = Header::new(if alg == Algorithm::ES256 {
            Algorithm::ES256
        } else {
            Algorithm::RS256
        });
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, claims, key).map_err(|error| KeyError(error.to_string()))
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The claims of an ID token (OIDC Core §2; CIBA Core §10.1.1 adds `urn:openid:params:jwt:claim:auth_req_id` hashing, which this provider omits as it is optional).
#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    /// Issuer.
    pub iss: &'a str,
    /// Subject: the user id.
    pub sub: &'a str,
    /// Audience: the client id.
    pub aud: &'a str,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// When the user authenticated, seconds since the epoch.
    pub auth_time: i64,
    /// Authentication methods (RFC 8176), such as `otp`, `sms`, `email`, `pwd`.
    pub amr: &'a [String],
    /// Authentication context class.
    pub acr: &'a str,
    /// The client's nonce from the authorization request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    /// A workforce user's role: `agent` or `supervisor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    /// With the `email` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    /// With the `email` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// With the `phone` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<&'a str>,
    /// With the `phone` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// The user's display name.
    pub name: &'a str,
}

#[cfg(test)]
mod tests;
