//! Where the provider's endpoints are, for each [`Profile`], and the checks of its discovery
//! document (OIDC Discovery 1.0 §3 and §4.3, CIBA Core §4).
//!
//! Everything here is a plain function of the configuration and the document, so every rule is
//! unit-tested without a network.

use serde::Deserialize;

use super::OidcError;

/// The CIBA grant type (CIBA Core §10.1).
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// Which kind of provider the BFF talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The embedded provider: Mosaic's paths on its base URL, discovery at
    /// `{base}/.well-known/openid-configuration`.
    Embedded,
    /// Transmit Security Mosaic: backchannel, token, completion and one-time login on Mosaic's
    /// paths under the API base URL (e.g. `https://api.transmitsecurity.io`), the rest from
    /// discovery at `{base}/cis/oidc/.well-known/openid-configuration`. Clients authenticate
    /// with `client_secret_post`, as Mosaic's guide shows.
    Mosaic,
    /// Any standards-compliant CIBA provider: every endpoint from
    /// `{issuer}/.well-known/openid-configuration`. It must offer CIBA in poll mode; it has no
    /// one-time login or completion endpoints (the customer decides on the provider's own
    /// pages).
    Standard,
}

impl Profile {
    /// The configuration name: `embedded`, `mosaic` or `standard`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Mosaic => "mosaic",
            Self::Standard => "standard",
        }
    }

    /// The profile named `value`, if any.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Embedded, Self::Mosaic, Self::Standard]
            .into_iter()
            .find(|profile| profile.as_str() == value)
    }

    /// Whether the provider speaks Mosaic's extensions (`request_context`, one-time login,
    /// backchannel completion).
    pub fn is_mosaic_shaped(self) -> bool {
        matches!(self, Self::Embedded | Self::Mosaic)
    }
}

/// How the client proves its identity at the token, backchannel and revocation endpoints
/// (RFC 6749 §2.3.1, OIDC Core §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// The provider metadata this client reads (OIDC Discovery §3, CIBA Core §4). Unknown fields
/// are ignored.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer identifier; must equal the configured one exactly.
    pub issuer: String,
    /// Where the agent's browser signs in.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// The signing keys.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// The revocation endpoint (RFC 7009).
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// The CIBA backchannel authentication endpoint.
    #[serde(default)]
    pub backchannel_authentication_endpoint: Option<String>,
    /// `poll`, `ping`, `push`.
    #[serde(default)]
    pub backchannel_token_delivery_modes_supported: Option<Vec<String>>,
    /// `client_secret_basic`, `client_secret_post`, ...; absent means `client_secret_basic`.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// ID token signature algorithms.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
}

/// The provider's endpoints, as absolute URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer identifier ID tokens must carry.
    pub issuer: String,
    /// `POST` backchannel authentication requests (CIBA Core §7).
    pub backchannel: String,
    /// `POST` token requests: CIBA polls, client credentials, code exchange.
    pub token: String,
    /// The JWK Set of the ID token signing keys.
    pub jwks: String,
    /// The authorization endpoint, for the agent's browser.
    pub authorization: String,
    /// The userinfo endpoint, if any.
    pub userinfo: Option<String>,
    /// The revocation endpoint, if any.
    pub revocation: Option<String>,
    /// Mosaic's `POST /cis/auth/backchannel/complete`.
    pub complete: Option<String>,
    /// Mosaic's `POST /cis/v1/auth/otp/send`.
    pub otp_send: Option<String>,
    /// Mosaic's `POST /cis/v1/auth/otp/authenticate`.
    pub otp_authenticate: Option<String>,
    /// Where the passkey calls live (`…/cis/v1/auth/webauthn`), if the provider has them.
    pub webauthn: Option<String>,
    /// How the client authenticates.
    pub client_auth: ClientAuthMethod,
}

/// Mosaic's paths, relative to the base URL (Mosaic's customer-service CIBA guide).
pub mod mosaic_paths {
    /// Backchannel authentication request (guide step 3).
    pub const BACKCHANNEL: &str = "/cis/oidc/backchannel";
    /// Token polling (guide step 4).
    pub const TOKEN: &str = "/oidc/token";
    /// The customer's decision (guide step 1).
    pub const COMPLETE: &str = "/cis/auth/backchannel/complete";
    /// Send a one-time code.
    pub const OTP_SEND: &str = "/cis/v1/auth/otp/send";
    /// Check a one-time code and sign the customer in.
    pub const OTP_AUTHENTICATE: &str = "/cis/v1/auth/otp/authenticate";
    /// The customer's passkeys: `registration/start`, `registration/finish`,
    /// `authentication/start`, `authentication/finish` below it.
    pub const WEBAUTHN: &str = "/cis/v1/auth/webauthn";
}

/// `value` without trailing slashes.
fn trimmed(value: &str) -> &str {
    value.trim_end_matches('/')
}

/// Where `profile`'s discovery document is.
pub fn discovery_url(profile: Profile, base_url: &str, issuer: &str) -> String {
    match profile {
        Profile::Embedded => format!("{}/.well-known/openid-configuration", trimmed(base_url)),
        Profile::Mosaic => format!(
            "{}/cis/oidc/.well-known/openid-configuration",
            trimmed(base_url)
        ),
        // OIDC Discovery §4: remove a trailing slash, then append the well-known path.
        Profile::Standard => format!("{}/.well-known/openid-configuration", trimmed(issuer)),
    }
}

/// Checks that `url` is an absolute `http` or `https` URL, `https` when the issuer is.
fn checked_url(name: &str, url: &str, https_required: bool) -> Result<String, OidcError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| OidcError::Discovery(format!("{name} is not an absolute URL")))?;
    let ok_scheme = match parsed.scheme() {
        "https" => true,
        "http" => !https_required,
        _ => false,
    };
    if !ok_scheme || parsed.host_str().is_none() {
        return Err(OidcError::Discovery(format!(
            "{name} must be an {} URL",
            if https_required {
                "https"
            } else {
                "http or https"
            }
        )));
    }
    if parsed.fragment().is_some() {
        return Err(OidcError::Discovery(format!("{name} has a fragment")));
    }
    Ok(url.to_owned())
}

fn required(name: &str, value: Option<&String>, https: bool) -> Result<String, OidcError> {
    let value = value
        .ok_or_else(|| OidcError::Discovery(format!("it has no {name}, which is required")))?;
    checked_url(name, value, https)
}

fn optional(name: &str, value: Option<&String>, https: bool) -> Result<Option<String>, OidcError> {
    value
        .map(|value| checked_url(name, value, https))
        .transpose()
}

fn lists(values: Option<&Vec<String>>, wanted: &str) -> bool {
    values.is_some_and(|values| values.iter().any(|value| value == wanted))
}

impl Endpoints {
    /// The endpoints of a provider of `profile` at `base_url` whose discovery document is
    /// `metadata`, after checking the document: the issuer must be `expected_issuer` exactly,
    /// the endpoints absolute URLs (`https` when the issuer is), ID tokens signed with RS256 or
    /// ES256, and a standard provider must offer CIBA in poll mode.
    pub fn from_metadata(
        profile: Profile,
        base_url: &str,
        expected_issuer: &str,
        metadata: &ProviderMetadata,
    ) -> Result<Self, OidcError> {
        if metadata.issuer != expected_issuer {
            return Err(OidcError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: metadata.issuer.clone(),
            });
        }
        let https = metadata.issuer.starts_with("https://");
        checked_url("issuer", &metadata.issuer, https)?;
        if let Some(algs) = &metadata.id_token_signing_alg_values_supported
            && !algs.iter().any(|alg| alg == "RS256" || alg == "ES256")
        {
            return Err(OidcError::Discovery(
                "it signs ID tokens with neither RS256 nor ES256".to_owned(),
            ));
        }
        let jwks = required("jwks_uri", metadata.jwks_uri.as_ref(), https)?;
        let authorization = required(
            "authorization_endpoint",
            metadata.authorization_endpoint.as_ref(),
            https,
        )?;
        let userinfo = optional(
            "userinfo_endpoint",
            metadata.userinfo_endpoint.as_ref(),
            https,
        )?;
        let revocation = optional(
            "revocation_endpoint",
            metadata.revocation_endpoint.as_ref(),
            https,
        )?;
        let methods = metadata.token_endpoint_auth_methods_supported.as_ref();
        match profile {
            Profile::Embedded | Profile::Mosaic => {
                let base = trimmed(base_url);
                checked_url("the provider's base URL", base, https)?;
                let at = |path: &str| format!("{base}{path}");
                let client_auth = if profile == Profile::Mosaic {
                    ClientAuthMethod::Post
                } else {
                    auth_method(methods)?
                };
                Ok(Self {
                    issuer: metadata.issuer.clone(),
                    backchannel: at(mosaic_paths::BACKCHANNEL),
                    token: at(mosaic_paths::TOKEN),
                    jwks,
                    authorization,
                    userinfo,
                    revocation,
                    complete: Some(at(mosaic_paths::COMPLETE)),
                    otp_send: Some(at(mosaic_paths::OTP_SEND)),
                    otp_authenticate: Some(at(mosaic_paths::OTP_AUTHENTICATE)),
                    webauthn: Some(at(mosaic_paths::WEBAUTHN)),
                    client_auth,
                })
            }
            Profile::Standard => {
                let backchannel = metadata
                    .backchannel_authentication_endpoint
                    .as_ref()
                    .ok_or_else(|| {
                        OidcError::Discovery(
                            "it has no backchannel_authentication_endpoint: the provider does \
                             not offer CIBA"
                                .to_owned(),
                        )
                    })?;
                let backchannel =
                    checked_url("backchannel_authentication_endpoint", backchannel, https)?;
                if !lists(
                    metadata.backchannel_token_delivery_modes_supported.as_ref(),
                    "poll",
                ) {
                    return Err(OidcError::Discovery(
                        "backchannel_token_delivery_modes_supported does not include poll, \
                         which this client uses in either mode (in ping mode, as a safety net)"
                            .to_owned(),
                    ));
                }
                Ok(Self {
                    issuer: metadata.issuer.clone(),
                    backchannel,
                    token: required("token_endpoint", metadata.token_endpoint.as_ref(), https)?,
                    jwks,
                    authorization,
                    userinfo,
                    revocation,
                    complete: None,
                    otp_send: None,
                    otp_authenticate: None,
                    webauthn: None,
                    client_auth: auth_method(methods)?,
                })
            }
        }
    }
}

/// `client_secret_basic` unless the provider offers only `client_secret_post`; absent metadata
/// means `client_secret_basic` (OIDC Discovery §3).
fn auth_method(supported: Option<&Vec<String>>) -> Result<ClientAuthMethod, OidcError> {
    match supported {
        None => Ok(ClientAuthMethod::Basic),
        Some(_) if lists(supported, "client_secret_basic") => Ok(ClientAuthMethod::Basic),
        Some(_) if lists(supported, "client_secret_post") => Ok(ClientAuthMethod::Post),
        Some(_) => Err(OidcError::Discovery(
            "it accepts neither client_secret_basic nor client_secret_post".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests;
