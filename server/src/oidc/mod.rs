//! The BFF's OpenID Connect and CIBA client for the provider, over HTTP only.
//!
//! The provider is reached exactly as Mosaic or any other provider would be: no Rust type is
//! shared with the `provider` crate; the wire contract is Mosaic's customer-service guide, CIBA
//! Core 1.0 and OIDC Core 1.0.
//!
//! - [`endpoints`]: the three [`Profile`]s (`embedded`, `mosaic`, `standard`), discovery and its
//!   checks.
//! - [`wire`]: request parameters and the mapping of every answer to a typed result
//!   ([`PollOutcome`], [`OidcError`]), as plain functions.
//! - [`id_token`]: ID token validation: signature against the JWKS (RS256 and ES256 only), then
//!   the claims against a `now` the caller passes in.
//! - [`OidcClient`]: sends the requests (timeouts on every call, no redirects followed, answers
//!   capped at [`wire::MAX_BODY_BYTES`]) and calls the functions above.
//!
//! Tokens, secrets, codes and `auth_req_id`s travel as [`Secret`]s, whose `Debug` is redacted;
//! errors are plain sentences that never quote a secret or a response body.

mod ciba;
mod code;
pub mod endpoints;
mod error;
pub mod id_token;
mod keys;
mod mosaic;
mod passkeys;
pub mod wire;

use std::{
    sync::{Mutex, RwLock},
    time::{Duration, Instant},
};

pub use app::flow::{Channel, HintType};
pub use endpoints::{ClientAuthMethod, Endpoints, Profile, ProviderMetadata};
pub use error::{IdTokenError, OidcError};
pub use id_token::{Expected, IdClaims};
pub use passkeys::PasskeyCeremony;
pub use wire::{
    BackchannelRequest, BackchannelStarted, CustomerSession, OtpChannel, PollOutcome, TokenSet,
    UserInfo,
};

use id_token::VerifyKey;
use infra::secret::Secret;
use wire::Answer;

use crate::{
    metrics::{CallError, Metrics},
    provider_client::{CONNECT_TIMEOUT, REQUEST_TIMEOUT},
};

/// The scopes an agent's sign-in asks for.
pub const AGENT_SCOPE: &str = "openid email";
/// The shortest time between two JWKS fetches caused by an unknown `kid`, so tokens with made-up
/// key ids cannot make the BFF hammer the provider.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// The client's registration at the provider.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: Secret,
}

/// Where the provider is and who this client is.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Which kind of provider it is.
    pub profile: Profile,
    /// Where Mosaic's paths are (`embedded`, `mosaic`); unused by `standard`.
    pub base_url: String,
    /// The issuer identifier, compared exactly with discovery and ID tokens.
    pub issuer: String,
    /// The discovery document's URL, when it is not the profile's usual one
    /// ([`endpoints::discovery_url`]).
    pub discovery_url: Option<String>,
    /// The client's id and secret.
    pub credentials: Credentials,
}

/// A client access token and when to stop reusing it.
struct CachedToken {
    token: Secret,
    until: Instant,
}

/// The JWKS as last fetched.
#[derive(Default)]
struct KeyCache {
    keys: Vec<VerifyKey>,
    fetched_at: Option<Instant>,
}

/// The BFF's client for one provider. Share it in an `Arc`; it caches the client access token
/// and the provider's signing keys.
pub struct OidcClient {
    http: reqwest::Client,
    profile: Profile,
    endpoints: Endpoints,
    authorization: reqwest::Url,
    iss_in_authorization_response: bool,
    credentials: Credentials,
    client_token: Mutex<Option<CachedToken>>,
    keys: RwLock<KeyCache>,
    /// Where each call's time and failure are counted, by endpoint.
    metrics: Metrics,
    /// Whether discovery listed CIBA ping mode (`backchannel_token_delivery_modes_supported`).
    offers_ping: bool,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("profile", &self.profile)
            .field("endpoints", &self.endpoints)
            .field("client_id", &self.credentials.client_id)
            .finish_non_exhaustive()
    }
}

/// The HTTP client for the provider: the same limits as the health check's
/// ([`crate::provider_client`]), and redirects are never followed.
fn http_client() -> Result<reqwest::Client, OidcError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("countersign/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| OidcError::Unavailable("the HTTP client cannot be built".to_owned()))
}

/// A plain sentence for a failed exchange that was `allowed` so long: what happened and with
/// which origin, never the path, query or body.
fn transport(error: &reqwest::Error, allowed: Duration) -> OidcError {
    let origin = error
        .url()
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|| "the provider".to_owned());
    OidcError::Unavailable(if error.is_timeout() {
        format!("no answer from {origin} within {} s", allowed.as_secs())
    } else if error.is_connect() {
        format!("cannot connect to {origin}")
    } else {
        format!("the exchange with {origin} failed")
    })
}

/// Reads an answer, at most [`wire::MAX_BODY_BYTES`] of it.
async fn read(mut response: reqwest::Response, allowed: Duration) -> Result<Answer, OidcError> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e, allowed))? {
        if body.len() + chunk.len() > wire::MAX_BODY_BYTES {
            return Err(OidcError::Protocol("the answer is too large".to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// Sends `request` to `endpoint` within `allowed` and reads the answer, counting its time and
/// any failure in `metrics`. The provider logs the call under the id of the request that made
/// it.
async fn exchange(
    metrics: &Metrics,
    endpoint: &'static str,
    request: reqwest::RequestBuilder,
    allowed: Duration,
) -> Result<Answer, OidcError> {
    let request = match infra::request_id::current() {
        Some(id) => request.header(infra::request_id::HEADER, id),
        None => request,
    };
    let started = Instant::now();
    let answer = match request.timeout(allowed).send().await {
        Ok(response) => read(response, allowed).await,
        Err(error) => {
            let failure = if error.is_timeout() {
                CallError::Timeout
            } else {
                CallError::Unreachable
            };
            metrics.call(endpoint, started, Some(failure));
            return Err(transport(&error, allowed));
        }
    };
    let failure = match &answer {
        Ok(answer) if answer.status >= 500 => Some(CallError::ServerError),
        Ok(_) => None,
        Err(OidcError::Protocol(_)) => Some(CallError::BadAnswer),
        Err(_) if started.elapsed() >= allowed => Some(CallError::Timeout),
        Err(_) => Some(CallError::Unreachable),
    };
    metrics.call(endpoint, started, failure);
    answer
}

impl OidcClient {
    /// Reads the provider's discovery document, checks it (issuer, endpoints, CIBA poll mode
    /// for `standard`) and returns a client for it.
    pub async fn discover(settings: ProviderSettings) -> Result<Self, OidcError> {
        Self::discover_observed(settings, Metrics::default()).await
    }

    /// [`OidcClient::discover`], counting this and every later call in `metrics`.
    pub async fn discover_observed(
        settings: ProviderSettings,
        metrics: Metrics,
    ) -> Result<Self, OidcError> {
        let http = http_client()?;
        let url = settings.discovery_url.clone().unwrap_or_else(|| {
            endpoints::discovery_url(settings.profile, &settings.base_url, &settings.issuer)
        });
        let answer = exchange(
            &metrics,
            "discovery",
            http.get(&url)
                .header(reqwest::header::ACCEPT, "application/json"),
            REQUEST_TIMEOUT,
        )
        .await?;
        if answer.status != 200 {
            return Err(match answer.status {
                500..=599 => {
                    OidcError::Unavailable(format!("discovery answered HTTP {}", answer.status))
                }
                status => OidcError::Discovery(format!("it answered HTTP {status}")),
            });
        }
        let raw: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|_| OidcError::Discovery("it is not JSON".to_owned()))?;
        let metadata: ProviderMetadata = serde_json::from_value(raw.clone()).map_err(|_| {
            OidcError::Discovery("it lacks an issuer or has fields of the wrong type".to_owned())
        })?;
        let endpoints = Endpoints::from_metadata(
            settings.profile,
            &settings.base_url,
            &settings.issuer,
            &metadata,
        )?;
        let iss_supported = raw
            .get("authorization_response_iss_parameter_supported")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let mut client = Self::build(
            http,
            settings.profile,
            endpoints,
            iss_supported,
            settings.credentials,
        )?;
        client.metrics = metrics;
        client.offers_ping = metadata
            .backchannel_token_delivery_modes_supported
            .as_ref()
            .is_some_and(|modes| modes.iter().any(|mode| mode == "ping"));
        Ok(client)
    }

    /// A client for known `endpoints`, without discovery.
    pub fn with_endpoints(
        profile: Profile,
        endpoints: Endpoints,
        credentials: Credentials,
    ) -> Result<Self, OidcError> {
        Self::build(http_client()?, profile, endpoints, false, credentials)
    }

    fn build(
        http: reqwest::Client,
        profile: Profile,
        endpoints: Endpoints,
        iss_in_authorization_response: bool,
        credentials: Credentials,
    ) -> Result<Self, OidcError> {
        let authorization = reqwest::Url::parse(&endpoints.authorization).map_err(|_| {
            OidcError::Discovery("authorization_endpoint is not an absolute URL".to_owned())
        })?;
        Ok(Self {
            http,
            profile,
            endpoints,
            authorization,
            iss_in_authorization_response,
            credentials,
            client_token: Mutex::new(None),
            keys: RwLock::new(KeyCache::default()),
            metrics: Metrics::default(),
            offers_ping: false,
        })
    }

    /// Whether the provider's discovery listed CIBA ping mode; a client built without
    /// discovery assumes not.
    pub fn offers_ping(&self) -> bool {
        self.offers_ping
    }

    /// The profile this client speaks.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The provider's endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub fn client_id(&self) -> &str {
        &self.credentials.client_id
    }

    fn unsupported(&self, what: &'static str) -> OidcError {
        OidcError::Unsupported {
            profile: self.profile.as_str(),
            what,
        }
    }

    /// A POST of `form` to `url`, authenticated as the client.
    fn client_post(
        &self,
        url: &str,
        mut form: Vec<(&'static str, String)>,
    ) -> reqwest::RequestBuilder {
        let request = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json");
        let Credentials {
            client_id,
            client_secret,
        } = &self.credentials;
        match self.endpoints.client_auth {
            ClientAuthMethod::Basic => request
                .basic_auth(
                    wire::form_encode(client_id),
                    Some(wire::form_encode(client_secret.expose())),
                )
                .form(&form),
            ClientAuthMethod::Post => {
                form.push(("client_id", client_id.clone()));
                form.push(("client_secret", client_secret.expose().to_owned()));
                request.form(&form)
            }
        }
    }

    async fn send(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, OidcError> {
        self.send_within(endpoint, request, REQUEST_TIMEOUT).await
    }

    /// Sends `request` to `endpoint` (its name in the metrics), allowing it `allowed` for the
    /// whole exchange, answer included.
    async fn send_within(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
        allowed: Duration,
    ) -> Result<Answer, OidcError> {
        exchange(&self.metrics, endpoint, request, allowed).await
    }

    /// The claims the userinfo endpoint gives for `access_token` (OIDC Core §5.3).
    pub async fn userinfo(&self, access_token: &Secret) -> Result<UserInfo, OidcError> {
        let url = self
            .endpoints
            .userinfo
            .as_deref()
            .ok_or_else(|| self.unsupported("userinfo endpoint"))?;
        let answer = self
            .send(
                "userinfo",
                self.http
                    .get(url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .bearer_auth(access_token.expose()),
            )
            .await?;
        wire::user_info(&answer)
    }

    /// Revokes `token` (RFC 7009); the provider may end its whole grant.
    pub async fn revoke(&self, token: &Secret) -> Result<(), OidcError> {
        let url = self
            .endpoints
            .revocation
            .as_deref()
            .ok_or_else(|| self.unsupported("revocation endpoint"))?;
        let form = vec![("token", token.expose().to_owned())];
        wire::revoked(&self.send("revocation", self.client_post(url, form)).await?)
    }
}

#[cfg(test)]
mod tests;
