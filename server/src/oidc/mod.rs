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

pub mod endpoints;
mod error;
pub mod id_token;
pub mod wire;

use std::{
    sync::{Mutex, PoisonError, RwLock},
    time::{Duration, Instant},
};

pub use app::flow::{Channel, HintType};
pub use endpoints::{ClientAuthMethod, Endpoints, Profile, ProviderMetadata};
pub use error::{IdTokenError, OidcError};
pub use id_token::{Expected, IdClaims};
pub use wire::{
    BackchannelRequest, BackchannelStarted, CustomerSession, OtpChannel, PollOutcome, TokenSet,
    UserInfo,
};

use id_token::VerifyKey;
use infra::secret::Secret;
use wire::Answer;

use crate::provider_client::{CONNECT_TIMEOUT, REQUEST_TIMEOUT, SENDING_TIMEOUT};

/// The scopes an agent's sign-in asks for.
pub const AGENT_SCOPE: &str = "openid email";
/// The shortest time between two JWKS fetches caused by an unknown `kid`, so tokens with made-up
/// key ids cannot make the BFF hammer the provider.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// The client's registration at the provider.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The client id.
    pub client_id: String,
    /// The client secret.
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

impl OidcClient {
    /// Reads the provider's discovery document, checks it (issuer, endpoints, CIBA poll mode
    /// for `standard`) and returns a client for it.
    pub async fn discover(settings: ProviderSettings) -> Result<Self, OidcError> {
        let http = http_client()?;
        let url = settings.discovery_url.clone().unwrap_or_else(|| {
            endpoints::discovery_url(settings.profile, &settings.base_url, &settings.issuer)
        });
        let response = http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport(&e, REQUEST_TIMEOUT))?;
        let answer = read(response, REQUEST_TIMEOUT).await?;
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
        Self::build(
            http,
            settings.profile,
            endpoints,
            iss_supported,
            settings.credentials,
        )
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
        })
    }

    /// The profile this client speaks.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The provider's endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The client id.
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

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, OidcError> {
        self.send_within(request, REQUEST_TIMEOUT).await
    }

    /// Sends `request`, allowing it `allowed` for the whole exchange, answer included.
    async fn send_within(
        &self,
        request: reqwest::RequestBuilder,
        allowed: Duration,
    ) -> Result<Answer, OidcError> {
        let response = request
            .timeout(allowed)
            .send()
            .await
            .map_err(|e| transport(&e, allowed))?;
        read(response, allowed).await
    }

    /// Starts a backchannel authentication request (CIBA Core §7; Mosaic's step 3).
    ///
    /// The provider sends the SMS or email before it answers, so this call waits
    /// [`SENDING_TIMEOUT`], longer than the provider takes at most: the BFF never gives up on
    /// a request the provider then starts.
    pub async fn backchannel(
        &self,
        request: &BackchannelRequest,
    ) -> Result<BackchannelStarted, OidcError> {
        let params = wire::backchannel_params(self.profile, request)?;
        let answer = self
            .send_within(
                self.client_post(&self.endpoints.backchannel, params),
                SENDING_TIMEOUT,
            )
            .await?;
        wire::backchannel_started(&answer)
    }

    /// Polls the token endpoint once with the CIBA grant (CIBA Core §10.1; Mosaic's step 4).
    /// Honouring `interval` and `slow_down` is the caller's part.
    pub async fn poll(&self, auth_req_id: &Secret) -> PollOutcome {
        let form = vec![
            ("grant_type", endpoints::CIBA_GRANT.to_owned()),
            ("auth_req_id", auth_req_id.expose().to_owned()),
        ];
        match self
            .send(self.client_post(&self.endpoints.token, form))
            .await
        {
            Ok(answer) => wire::poll_outcome(&answer),
            Err(OidcError::Unavailable(why)) => PollOutcome::Unavailable(why),
            Err(other) => PollOutcome::Invalid(other.to_string()),
        }
    }

    /// A client access token (client credentials grant), reused until shortly before it
    /// expires.
    pub async fn client_token(&self) -> Result<Secret, OidcError> {
        let now = Instant::now();
        if let Some(cached) = self
            .client_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|cached| now < cached.until)
        {
            return Ok(cached.token.clone());
        }
        let form = vec![("grant_type", "client_credentials".to_owned())];
        let answer = self
            .send(self.client_post(&self.endpoints.token, form))
            .await?;
        let (token, expires_in) = wire::client_token(&answer)?;
        *self
            .client_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(CachedToken {
            token: token.clone(),
            until: Instant::now() + wire::client_token_lifetime(expires_in),
        });
        Ok(token)
    }

    fn forget_client_token(&self) {
        *self
            .client_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// A JSON POST with the client access token; a refused token is replaced once (the
    /// provider may have restarted with a fresh store).
    async fn post_as_client(
        &self,
        url: &str,
        body: &serde_json::Value,
        allowed: Duration,
    ) -> Result<Answer, OidcError> {
        let mut retried = false;
        loop {
            let token = self.client_token().await?;
            let answer = self
                .send_within(
                    self.http
                        .post(url)
                        .header(reqwest::header::ACCEPT, "application/json")
                        .bearer_auth(token.expose())
                        .json(body),
                    allowed,
                )
                .await?;
            if answer.status == 401 && !retried {
                self.forget_client_token();
                retried = true;
                continue;
            }
            return Ok(answer);
        }
    }

    /// Sends the customer a one-time code (Mosaic's `POST /cis/v1/auth/otp/send`). `bound`
    /// adds the embedded provider's extension fields: the code's `binding` (what it is sent
    /// for, required again at [`OidcClient::otp_authenticate`]) and the message's `purpose`.
    pub async fn otp_send(
        &self,
        channel: OtpChannel,
        identifier_type: HintType,
        identifier: &str,
        bound: Option<(&Secret, Option<&str>)>,
    ) -> Result<(), OidcError> {
        let url = self
            .endpoints
            .otp_send
            .as_deref()
            .ok_or_else(|| self.unsupported("one-time login"))?;
        let mut body = serde_json::json!({
            "channel": channel.as_str(),
            "identifier_type": wire::identifier_type(identifier_type),
            "identifier": identifier,
        });
        if let Some((binding, purpose)) = bound {
            body["binding"] = serde_json::Value::from(binding.expose());
            if let Some(purpose) = purpose {
                body["purpose"] = serde_json::Value::from(purpose);
            }
        }
        // The provider sends the code before it answers, as for a backchannel request.
        wire::otp_sent(&self.post_as_client(url, &body, SENDING_TIMEOUT).await?)
    }

    /// Checks the customer's one-time code and returns their session (Mosaic's
    /// `POST /cis/v1/auth/otp/authenticate`).
    pub async fn otp_authenticate(
        &self,
        identifier_type: HintType,
        identifier: &str,
        passcode: &Secret,
        binding: Option<&Secret>,
    ) -> Result<CustomerSession, OidcError> {
        let url = self
            .endpoints
            .otp_authenticate
            .as_deref()
            .ok_or_else(|| self.unsupported("one-time login"))?;
        let body = serde_json::json!({
            "identifier_type": wire::identifier_type(identifier_type),
            "identifier": identifier,
            "passcode": passcode.expose(),
        });
        let mut body = body;
        if let Some(binding) = binding {
            body["binding"] = serde_json::Value::from(binding.expose());
        }
        wire::otp_session(&self.post_as_client(url, &body, REQUEST_TIMEOUT).await?)
    }

    /// Records the customer's decision with their own access token (Mosaic's
    /// `POST /cis/auth/backchannel/complete`).
    pub async fn complete(
        &self,
        customer_access_token: &Secret,
        auth_req_id: &Secret,
        approved: bool,
    ) -> Result<(), OidcError> {
        let url = self
            .endpoints
            .complete
            .as_deref()
            .ok_or_else(|| self.unsupported("backchannel completion endpoint"))?;
        let body = serde_json::json!({
            "auth_req_id": auth_req_id.expose(),
            "approved": approved,
        });
        let answer = self
            .send(
                self.http
                    .post(url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .bearer_auth(customer_access_token.expose())
                    .json(&body),
            )
            .await?;
        wire::completed(&answer)
    }

    /// Enables CIBA for this client with `login_uri` as where the customer's link points
    /// (Mosaic's guide, step 2), so links lead to this BFF's approval page.
    pub async fn set_login_uri(&self, app_id: &str, login_uri: &str) -> Result<(), OidcError> {
        let base = self
            .endpoints
            .applications
            .as_deref()
            .ok_or_else(|| self.unsupported("application management API"))?;
        let url = format!(
            "{base}/{}/clients/{}",
            wire::form_encode(app_id),
            wire::form_encode(&self.credentials.client_id)
        );
        let body = serde_json::json!({
            "ciba_authorization": { "enabled": true, "login_uri": login_uri },
        });
        let token = self.client_token().await?;
        let answer = self
            .send(
                self.http
                    .put(url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .bearer_auth(token.expose())
                    .json(&body),
            )
            .await?;
        if answer.is_success() {
            Ok(())
        } else {
            Err(wire::refusal(&answer, wire::Caller::Bearer))
        }
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
        wire::revoked(&self.send(self.client_post(url, form)).await?)
    }

    /// Where to send the agent's browser to sign in (OIDC Core §3.1.2.1): the authorization
    /// code flow with PKCE S256 (RFC 7636), scope [`AGENT_SCOPE`].
    pub fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> String {
        let mut url = self.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.credentials.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", AGENT_SCOPE)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        url.into()
    }

    /// The code from the query of the redirect back to `redirect_uri`, after checking `state`
    /// and the issuer (RFC 9207).
    pub fn authorization_code(
        &self,
        query: &str,
        expected_state: &str,
    ) -> Result<Secret, OidcError> {
        wire::authorization_code(
            query,
            expected_state,
            &self.endpoints.issuer,
            self.iss_in_authorization_response,
        )
    }

    /// Exchanges an authorization code for tokens (RFC 6749 §4.1.3, RFC 7636 §4.5).
    pub async fn exchange_code(
        &self,
        code: &Secret,
        redirect_uri: &str,
        code_verifier: &Secret,
    ) -> Result<TokenSet, OidcError> {
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.expose().to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("code_verifier", code_verifier.expose().to_owned()),
        ];
        wire::exchanged(
            &self
                .send(self.client_post(&self.endpoints.token, form))
                .await?,
        )
    }

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

    fn cached_key(&self, kid: Option<&str>, alg: jsonwebtoken::Algorithm) -> Option<VerifyKey> {
        let cache = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        id_token::select(&cache.keys, kid, alg).cloned()
    }

    /// Fetches the JWKS again, unless it was fetched within [`JWKS_REFETCH_INTERVAL`].
    async fn refresh_keys(&self) -> Result<(), OidcError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn send_and_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}

    /// The client is shared between tasks, and its futures run on any worker.
    #[test]
    fn the_client_and_its_futures_cross_threads() {
        send_and_sync::<OidcClient>();
        let endpoints = Endpoints {
            issuer: "http://127.0.0.1:1".into(),
            backchannel: "http://127.0.0.1:1/bc".into(),
            token: "http://127.0.0.1:1/token".into(),
            jwks: "http://127.0.0.1:1/jwks".into(),
            authorization: "http://127.0.0.1:1/authorize".into(),
            userinfo: None,
            revocation: None,
            complete: None,
            applications: None,
            otp_send: None,
            otp_authenticate: None,
            client_auth: ClientAuthMethod::Basic,
        };
        let client = OidcClient::with_endpoints(
            Profile::Standard,
            endpoints,
            Credentials {
                client_id: "c".into(),
                client_secret: Secret::new("hunter2-secret"),
            },
        )
        .unwrap();
        let secret = Secret::new("x");
        send(&client.client_token());
        send(&client.poll(&secret));
        send(&client.validate_id_token(&secret, Expected::default(), 0));
        send(&client.otp_send(OtpChannel::Sms, HintType::Phone, "+1", None));
        let debug = format!("{client:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    /// A provider on loopback whose backchannel endpoint answers after `delay`, as the
    /// embedded provider does at the latest when its SMS gateway hangs.
    async fn slow_provider(delay: Duration) -> OidcClient {
        let router = axum::Router::new()
            .route(
                "/bc",
                axum::routing::post(move || async move {
                    tokio::time::sleep(delay).await;
                    axum::Json(serde_json::json!({
                        "auth_req_id": "a-request", "expires_in": 600, "interval": 5
                    }))
                }),
            )
            .route(
                "/token",
                axum::routing::post(move || async move {
                    tokio::time::sleep(delay).await;
                    axum::Json(serde_json::json!({ "error": "authorization_pending" }))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let endpoints = Endpoints {
            issuer: base.clone(),
            backchannel: format!("{base}/bc"),
            token: format!("{base}/token"),
            jwks: format!("{base}/jwks"),
            authorization: format!("{base}/authorize"),
            userinfo: None,
            revocation: None,
            complete: None,
            applications: None,
            otp_send: None,
            otp_authenticate: None,
            client_auth: ClientAuthMethod::Basic,
        };
        OidcClient::with_endpoints(
            Profile::Standard,
            endpoints,
            Credentials {
                client_id: "c".into(),
                client_secret: Secret::new("hunter2-secret"),
            },
        )
        .unwrap()
    }

    fn request() -> BackchannelRequest {
        BackchannelRequest {
            login_hint: "+15555550101".into(),
            hint_type: HintType::Phone,
            channel: Channel::Sms,
            binding_message: Some("K7-42".into()),
            custom_message: None,
            requested_expiry: None,
            scope: "openid".into(),
        }
    }

    /// The provider sends before it answers and answers within its send deadline; the BFF
    /// waits longer than that for the backchannel call, so it never reports a failure for a
    /// request the provider went on with. Time is tokio's paused clock.
    #[test]
    fn case_23_the_backchannel_timeout_exceeds_the_providers_send_deadline() {
        let provider_bound = provider::sender::ANSWER_BOUND;
        assert_eq!(
            provider_bound,
            provider::sender::START_BUDGET + provider::sender::SEND_DEADLINE
        );
        assert!(SENDING_TIMEOUT > provider_bound + CONNECT_TIMEOUT);
        assert!(provider::config::MAX_SEND_TIMEOUT < provider::sender::SEND_DEADLINE);
        // Calls that send nothing keep their shorter timeout.
        assert!(REQUEST_TIMEOUT < provider::sender::SEND_DEADLINE);
    }

    #[tokio::test(start_paused = true)]
    async fn case_23_a_backchannel_answer_at_the_providers_deadline_is_waited_for() {
        let client = slow_provider(provider::sender::ANSWER_BOUND).await;
        let started = client.backchannel(&request()).await.unwrap();
        assert_eq!(started.auth_req_id.expose(), "a-request");
        // A poll is not a sending call: it keeps the short timeout.
        match client.poll(&Secret::new("a-request")).await {
            PollOutcome::Unavailable(why) => assert!(why.contains("within 5 s"), "{why}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_backchannel_call_still_ends_when_the_provider_never_answers() {
        let client = slow_provider(Duration::from_secs(3600)).await;
        let started = tokio::time::Instant::now();
        let error = client.backchannel(&request()).await.unwrap_err();
        assert_eq!(started.elapsed().as_secs(), SENDING_TIMEOUT.as_secs());
        assert!(error.to_string().contains("within 15 s"), "{error}");
    }

    #[test]
    fn the_authorization_url_carries_pkce_and_the_nonce() {
        let endpoints = Endpoints {
            issuer: "https://id.example.com".into(),
            backchannel: "https://id.example.com/bc".into(),
            token: "https://id.example.com/token".into(),
            jwks: "https://id.example.com/jwks".into(),
            authorization: "https://id.example.com/authorize?tenant=a".into(),
            userinfo: None,
            revocation: None,
            complete: None,
            applications: None,
            otp_send: None,
            otp_authenticate: None,
            client_auth: ClientAuthMethod::Post,
        };
        let client = OidcClient::with_endpoints(
            Profile::Standard,
            endpoints,
            Credentials {
                client_id: "agent console".into(),
                client_secret: Secret::new("s"),
            },
        )
        .unwrap();
        let url = client.authorization_url("http://127.0.0.1:3000/cb", "st&1", "n=1", "ch");
        assert_eq!(
            url,
            "https://id.example.com/authorize?tenant=a&response_type=code&client_id=agent+console\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcb&scope=openid+email&state=st%261\
             &nonce=n%3D1&code_challenge=ch&code_challenge_method=S256"
        );
    }
}
