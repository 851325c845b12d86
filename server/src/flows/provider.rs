//! The engine's [`Ciba`] port over HTTP: backchannel requests and polls through
//! [`OidcClient`], and on tokens the checks that make a customer "verified": the ID token's
//! signature, issuer, audience and lifetime, and that it names the customer the agent asked for
//! (the user id, or the email address or phone number in its claims).

use std::{sync::Arc, time::Duration};

use app::flow::{HintType, VerifiedCustomer, mask_email, mask_phone};
use async_trait::async_trait;
use infra::secret::Secret;

use crate::sealed::{Purpose, Sealer};

use super::{
    connect,
    engine::{Ciba, Polled, Started},
    poll::Answer,
};
use crate::{
    oidc::{BackchannelRequest, Expected, IdClaims, OidcClient, PollOutcome, TokenSet},
    store::Flow,
};

/// What the BFF asks the customer to share: enough to check who they are.
pub const CUSTOMER_SCOPE: &str = "openid email phone";

/// [`Ciba`] over a provider's HTTP API.
#[derive(Debug)]
pub struct OidcCiba {
    provider: Arc<connect::Provider>,
    sealer: Arc<Sealer>,
    ping: bool,
    /// Whether the log already said that the provider does not offer ping.
    warned_no_ping: std::sync::atomic::AtomicBool,
}

impl OidcCiba {
    /// Speaks to `provider` in poll mode; the tokens it hands the engine to keep are sealed by
    /// `sealer`.
    pub fn new(provider: Arc<connect::Provider>, sealer: Arc<Sealer>) -> Self {
        Self {
            provider,
            sealer,
            ping: false,
            warned_no_ping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// In ping mode: every request carries a fresh `client_notification_token`, whose keyed
    /// hash the flow keeps for `/ciba/notify` to check.
    #[must_use]
    pub fn pinged(self, ping: bool) -> Self {
        Self { ping, ..self }
    }

    /// Whether to ask `client`'s provider for pings: in ping mode, if its discovery lists
    /// ping. A provider that does not is polled at its interval, as in poll mode (said once
    /// in the log), rather than left to the slow safety-net polls.
    fn ping_with(&self, client: &OidcClient) -> bool {
        if self.ping && !client.offers_ping() {
            if !self
                .warned_no_ping
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!(
                    "COUNTERSIGN_TOKEN_DELIVERY is ping, but the provider's discovery does not \
                     list ping in backchannel_token_delivery_modes_supported: its requests are \
                     polled instead (set COUNTERSIGN_TOKEN_DELIVERY=poll to say so)"
                );
            }
            return false;
        }
        self.ping
    }
}

#[async_trait]
impl Ciba for OidcCiba {
    async fn start(&self, flow: &Flow, expiry: Duration) -> Result<Started, String> {
        let hint_type = hint_type(flow);
        let request = BackchannelRequest {
            login_hint: hint_type.normalise(&flow.hint),
            hint_type,
            channel: match flow.channel.as_str() {
                "sms" => app::flow::Channel::Sms,
                "email" => app::flow::Channel::Email,
                _ => app::flow::Channel::Link,
            },
            binding_message: Some(flow.binding_message.clone()),
            custom_message: flow.custom_message.clone(),
            requested_expiry: u32::try_from(expiry.as_secs()).ok(),
            scope: CUSTOMER_SCOPE.to_owned(),
            notification_token: None,
        };
        let client = self
            .provider
            .client()
            .await
            .map_err(|error| sentence(&error.to_string()))?;
        let request = BackchannelRequest {
            notification_token: self.ping_with(&client).then(infra::secret::random_token),
            ..request
        };
        let started = client
            .backchannel(&request)
            .await
            .map_err(|error| sentence(&error.to_string()))?;
        let row = flow.id.as_bytes();
        let unsealable = || "The request could not be kept safely. Try again.".to_owned();
        let auth_req_id = started.auth_req_id.expose();
        let link = match &started.link {
            Some(link) => Some(
                self.sealer
                    .seal(Purpose::Link, row, link)
                    .ok_or_else(unsealable)?,
            ),
            None => None,
        };
        Ok(Started {
            auth_req_id: self
                .sealer
                .seal(Purpose::AuthReqId, row, auth_req_id)
                .ok_or_else(unsealable)?,
            auth_req_id_hash: self.sealer.lookup(auth_req_id),
            expires_in: Duration::from_secs(started.expires_in),
            interval: Duration::from_secs(started.interval),
            link,
            notification_token_hash: request
                .notification_token
                .as_ref()
                .map(|token| self.sealer.notification_hash(token.expose())),
        })
    }

    async fn poll(&self, flow: &Flow, now_ms: i64) -> Polled {
        let Some(sealed) = flow.auth_req_id.as_deref() else {
            return Polled::Failed("The request never reached the provider.".to_owned());
        };
        let Some(auth_req_id) = self
            .sealer
            .open(Purpose::AuthReqId, flow.id.as_bytes(), sealed)
        else {
            tracing::error!(flow_id = %flow.id, "a request's handle does not open with this key");
            return Polled::Failed(
                "The request's handle cannot be read on this server (its key changed).".to_owned(),
            );
        };
        let client = match self.provider.client().await {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(flow_id = %flow.id, %error, "provider unreachable; backing off");
                return Polled::Wait(Answer::Unavailable);
            }
        };
        match client.poll(&Secret::new(auth_req_id)).await {
            PollOutcome::Tokens(tokens) => {
                verify(&client, &self.sealer, flow, tokens, now_ms).await
            }
            PollOutcome::Pending => Polled::Wait(Answer::Pending),
            PollOutcome::SlowDown => Polled::Wait(Answer::SlowDown),
            PollOutcome::Unavailable(detail) => {
                tracing::warn!(flow_id = %flow.id, %detail, "poll failed; backing off");
                Polled::Wait(Answer::Unavailable)
            }
            PollOutcome::RateLimited(wait) => Polled::Wait(Answer::RateLimited(wait)),
            PollOutcome::Denied => Polled::Denied,
            PollOutcome::Expired => Polled::Expired,
            PollOutcome::Invalid(detail) => Polled::Failed(sentence(&detail)),
        }
    }

    async fn discard(&self, flow_id: &str, tokens: &str) {
        let Ok(client) = self.provider.client().await else {
            tracing::warn!("could not revoke tokens: the provider is unreachable");
            return;
        };
        // The store's column holds JSON: the sealed value sits in an envelope. A row kept
        // before tokens were sealed holds the token set itself; it is still revoked.
        let envelope: serde_json::Value = serde_json::from_str(tokens).unwrap_or_default();
        let stored = match envelope["sealed"].as_str() {
            Some(sealed) => {
                let Some(opened) =
                    self.sealer
                        .open(Purpose::FlowTokens, flow_id.as_bytes(), sealed)
                else {
                    tracing::warn!("could not revoke tokens: they do not open with this key");
                    return;
                };
                serde_json::from_str(&opened).unwrap_or_default()
            }
            None => envelope,
        };
        let token = |name: &str| stored[name].as_str().map(Secret::new);
        let Some(access) = token("access_token") else {
            return;
        };
        revoke_all(&client, token("refresh_token").as_ref(), &access).await;
    }

    fn link(&self, flow: &Flow) -> Option<String> {
        let sealed = flow.link.as_deref()?;
        self.sealer.open(Purpose::Link, flow.id.as_bytes(), sealed)
    }
}

/// Validates the ID token and checks it names the requested customer; revokes the tokens if
/// not.
async fn verify(
    client: &OidcClient,
    sealer: &Sealer,
    flow: &Flow,
    tokens: TokenSet,
    now_ms: i64,
) -> Polled {
    let hint_type = hint_type(flow);
    let hint = hint_type.normalise(&flow.hint);
    let expected = Expected {
        sub: (hint_type == HintType::UserId).then_some(hint.as_str()),
        nonce: None,
    };
    let claims = match client
        .validate_id_token(&tokens.id_token, expected, now_ms.div_euclid(1000))
        .await
    {
        Ok(claims) => claims,
        Err(error) => {
            discard(client, &tokens).await;
            return Polled::Failed(sentence(&error.to_string()));
        }
    };
    if !names_the_customer(&claims, hint_type, &hint) {
        discard(client, &tokens).await;
        return Polled::Failed(
            "The provider's answer names someone other than the customer asked for; it was \
                 not accepted."
                .to_owned(),
        );
    }
    // The profile: the provider's current userinfo where it answers for the same subject (OIDC
    // Core §5.3.2), else what the ID token says. Only masked contacts leave the server.
    let info = match client.userinfo(&tokens.access_token).await {
        Ok(info) if info.sub == claims.sub => Some(info),
        Ok(_) => {
            tracing::warn!(
                flow_id = flow.id,
                "userinfo named another subject; it was not used"
            );
            None
        }
        Err(error) => {
            tracing::info!(%error, flow_id = flow.id, "no userinfo; the ID token's claims are shown");
            None
        }
    };
    let info = info.as_ref();
    let name = info
        .and_then(|info| info.profile.name.clone())
        .or_else(|| claims.name.clone())
        .unwrap_or_else(|| claims.sub.clone());
    let email = info
        .and_then(|info| info.profile.email.as_deref())
        .or(claims.email.as_deref());
    let phone = info
        .and_then(|info| info.profile.phone_number.as_deref())
        .or(claims.phone_number.as_deref());
    let customer = VerifiedCustomer {
        user_id: claims.sub.clone(),
        name,
        email: email.map(mask_email),
        phone: phone.map(mask_phone),
        amr: claims.amr.clone(),
        auth_time: claims.auth_time.unwrap_or(now_ms.div_euclid(1000)),
    };
    let stored = serde_json::json!({
        "access_token": tokens.access_token.expose(),
        "id_token": tokens.id_token.expose(),
        "refresh_token": tokens.refresh_token.as_ref().map(Secret::expose),
        "expires_in": tokens.expires_in,
        "scope": tokens.scope,
    });
    let Some(sealed) = sealer.seal(Purpose::FlowTokens, flow.id.as_bytes(), &stored.to_string())
    else {
        discard(client, &tokens).await;
        return Polled::Failed("The customer's tokens could not be kept safely.".to_owned());
    };
    Polled::Verified {
        customer,
        tokens: serde_json::json!({ "sealed": sealed }).to_string(),
    }
}

/// Tokens that will not be kept are revoked, so they stop working at the provider too.
async fn discard(client: &OidcClient, tokens: &TokenSet) {
    revoke_all(client, tokens.refresh_token.as_ref(), &tokens.access_token).await;
}

/// Revokes the refresh token first (its grant's access tokens go with it at most providers),
/// then the access token itself, for those where they do not.
async fn revoke_all(client: &OidcClient, refresh: Option<&Secret>, access: &Secret) {
    for token in refresh.into_iter().chain([access]) {
        if let Err(error) = client.revoke(token).await {
            tracing::warn!(%error, "could not revoke tokens that will not be kept");
        }
    }
}

fn hint_type(flow: &Flow) -> HintType {
    match flow.hint_type.as_str() {
        "email" => HintType::Email,
        "phone" => HintType::Phone,
        _ => HintType::UserId,
    }
}

/// Whether validated claims name the customer the agent asked for.
pub fn names_the_customer(claims: &IdClaims, hint_type: HintType, hint: &str) -> bool {
    match hint_type {
        HintType::UserId => claims.sub == hint,
        // An address or number only names someone once the provider has verified it.
        HintType::Email => {
            claims.email_verified == Some(true)
                && claims
                    .email
                    .as_deref()
                    .is_some_and(|email| email.eq_ignore_ascii_case(hint))
        }
        HintType::Phone => {
            claims.phone_number_verified == Some(true)
                && claims
                    .phone_number
                    .as_deref()
                    .is_some_and(|phone| HintType::Phone.normalise(phone) == hint)
        }
    }
}

/// `the provider is unavailable` → `The provider is unavailable.`
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests;
