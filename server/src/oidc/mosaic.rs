//! Mosaic's backend API: the client token, the one-time login, and the completion of a request
//! with the customer's decision.

use std::{
    sync::PoisonError,
    time::{Duration, Instant},
};

use infra::secret::Secret;

use super::{
    CachedToken, CustomerSession, HintType, OidcClient, OidcError, OtpChannel, wire, wire::Answer,
};
use crate::provider_client::{REQUEST_TIMEOUT, SENDING_TIMEOUT};

impl OidcClient {
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
            .send("token", self.client_post(&self.endpoints.token, form))
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

    pub(super) fn forget_client_token(&self) {
        *self
            .client_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// A JSON POST with the client access token; a refused token is replaced once (the
    /// provider may have restarted with a fresh store).
    pub(super) async fn post_as_client(
        &self,
        endpoint: &'static str,
        url: &str,
        body: &serde_json::Value,
        allowed: Duration,
    ) -> Result<Answer, OidcError> {
        let mut retried = false;
        loop {
            let token = self.client_token().await?;
            let answer = self
                .send_within(
                    endpoint,
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
        wire::otp_sent(
            &self
                .post_as_client("otp_send", url, &body, SENDING_TIMEOUT)
                .await?,
        )
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
        wire::otp_session(
            &self
                .post_as_client("otp_authenticate", url, &body, REQUEST_TIMEOUT)
                .await?,
        )
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
                "complete",
                self.http
                    .post(url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .bearer_auth(customer_access_token.expose())
                    .json(&body),
            )
            .await?;
        wire::completed(&answer)
    }
}
