//! ID tokens checked against the provider's keys, fetched and cached.

use std::{sync::PoisonError, time::Instant};

use infra::secret::Secret;

use super::{
    Expected, IdClaims, IdTokenError, JWKS_REFETCH_INTERVAL, OidcClient, OidcError, id_token,
    id_token::VerifyKey,
};

impl OidcClient {
    /// Validates an ID token: its signature with the provider's key (RS256 or ES256 only; the
    /// JWKS is fetched on first use and once more for an unknown `kid`), then `iss`, `aud`
    /// (this client), `exp` and `iat` against `now_unix_secs`, and `sub` and `nonce` when
    /// `expected` names them.
    pub async fn validate_id_token(
        &self,
        token: &Secret,
        expected: Expected<'_>,
        now_unix_secs: i64,
    ) -> Result<IdClaims, OidcError> {
        let token = token.expose();
        let (alg, kid) = id_token::header(token)?;
        let key = match self.cached_key(kid.as_deref(), alg) {
            Some(key) => key,
            None => {
                self.refresh_keys().await?;
                self.cached_key(kid.as_deref(), alg)
                    .ok_or(IdTokenError::UnknownKey)?
            }
        };
        let raw = id_token::verify(token, &key)?;
        Ok(id_token::check_claims(
            raw,
            &self.endpoints.issuer,
            &self.credentials.client_id,
            &expected,
            now_unix_secs,
        )?)
    }

    pub(super) fn cached_key(
        &self,
        kid: Option<&str>,
        alg: jsonwebtoken::Algorithm,
    ) -> Option<VerifyKey> {
        let cache = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        id_token::select(&cache.keys, kid, alg).cloned()
    }

    /// Fetches the JWKS again, unless it was fetched within [`JWKS_REFETCH_INTERVAL`].
    pub(super) async fn refresh_keys(&self) -> Result<(), OidcError> {
        let recently = self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .fetched_at
            .is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL);
        if recently {
            return Ok(());
        }
        let answer = self
            .send(
                "jwks",
                self.http
                    .get(&self.endpoints.jwks)
                    .header(reqwest::header::ACCEPT, "application/json"),
            )
            .await?;
        if answer.status != 200 {
            return Err(match answer.status {
                500..=599 => {
                    OidcError::Unavailable(format!("the JWKS answered HTTP {}", answer.status))
                }
                status => OidcError::Protocol(format!("the JWKS answered HTTP {status}")),
            });
        }
        let jwks: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|_| OidcError::Protocol("the JWKS is not JSON".to_owned()))?;
        let keys = id_token::signing_keys(&jwks);
        let mut cache = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        Ok(())
    }
}
