//! The provider's passkey calls (`…/cis/v1/auth/webauthn/…`): registering a customer's passkey
//! with their access token after a code sign-in, and signing them in with it. The ceremony id
//! the provider hands out is the BFF's to keep server-side; the browser sees only the options
//! it passes to `navigator.credentials` and sends back the credential it made.

use infra::secret::Secret;
use serde::Deserialize;
use serde_json::Value;

use super::{
    CustomerSession, HintType, OidcClient, OidcError,
    wire::{self, Answer, Caller, refusal},
};
use crate::provider_client::REQUEST_TIMEOUT;

/// A passkey ceremony begun at the provider. `Debug` shows no id.
#[derive(Clone, Debug)]
pub struct PasskeyCeremony {
    /// The provider's handle, needed to finish; kept server-side.
    pub ceremony_id: Secret,
    /// The argument of `navigator.credentials.create` or `.get` (`{"publicKey": …}`).
    pub options: Value,
}

/// Reads a ceremony's start.
fn ceremony(answer: &Answer, caller: Caller) -> Result<PasskeyCeremony, OidcError> {
    if !answer.is_success() {
        return Err(refusal(answer, caller));
    }
    #[derive(Deserialize)]
    struct Raw {
        ceremony_id: String,
        options: Value,
    }
    let raw: Raw = answer.parse("passkey ceremony")?;
    if raw.ceremony_id.is_empty() || !raw.options.get("publicKey").is_some_and(Value::is_object) {
        return Err(OidcError::Protocol(
            "the passkey ceremony answer has no id or no options".to_owned(),
        ));
    }
    Ok(PasskeyCeremony {
        ceremony_id: Secret::new(raw.ceremony_id),
        options: raw.options,
    })
}

impl OidcClient {
    fn webauthn_url(&self, path: &str) -> Result<String, OidcError> {
        self.endpoints
            .webauthn
            .as_deref()
            .map(|base| format!("{base}/{path}"))
            .ok_or_else(|| self.unsupported("passkeys"))
    }

    /// A JSON POST with a customer's access token.
    async fn post_as_customer(
        &self,
        endpoint: &'static str,
        url: &str,
        customer_access_token: &Secret,
        body: &Value,
    ) -> Result<Answer, OidcError> {
        self.send_within(
            endpoint,
            self.http
                .post(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .bearer_auth(customer_access_token.expose())
                .json(body),
            REQUEST_TIMEOUT,
        )
        .await
    }

    /// Begins registering a passkey for the customer whose access token this is.
    pub async fn passkey_registration_start(
        &self,
        customer_access_token: &Secret,
    ) -> Result<PasskeyCeremony, OidcError> {
        let url = self.webauthn_url("registration/start")?;
        let answer = self
            .post_as_customer(
                "passkey_registration",
                &url,
                customer_access_token,
                &serde_json::json!({}),
            )
            .await?;
        ceremony(&answer, Caller::Bearer)
    }

    /// Finishes the registration `ceremony_id` with the browser's `credential`.
    pub async fn passkey_registration_finish(
        &self,
        customer_access_token: &Secret,
        ceremony_id: &Secret,
        credential: &Value,
    ) -> Result<(), OidcError> {
        let url = self.webauthn_url("registration/finish")?;
        let body = serde_json::json!({
            "ceremony_id": ceremony_id.expose(),
            "credential": credential,
        });
        let answer = self
            .post_as_customer("passkey_registration", &url, customer_access_token, &body)
            .await?;
        if answer.is_success() {
            Ok(())
        } else {
            Err(refusal(&answer, Caller::Bearer))
        }
    }

    /// Begins a passkey sign-in for the customer `identifier` names; `None` if they have no
    /// passkey (or the provider has no passkeys).
    pub async fn passkey_authentication_start(
        &self,
        identifier_type: HintType,
        identifier: &str,
    ) -> Result<Option<PasskeyCeremony>, OidcError> {
        let Ok(url) = self.webauthn_url("authentication/start") else {
            return Ok(None);
        };
        let body = serde_json::json!({
            "identifier_type": wire::identifier_type(identifier_type),
            "identifier": identifier,
        });
        let answer = self
            .post_as_client("passkey_authentication", &url, &body, REQUEST_TIMEOUT)
            .await?;
        if answer.status == 404 || answer.error_code().as_deref() == Some("not_found") {
            return Ok(None);
        }
        ceremony(&answer, Caller::Client).map(Some)
    }

    /// Finishes the sign-in `ceremony_id` with the browser's `credential`: the customer's
    /// session, as a code sign-in gives. A refused answer is [`OidcError::InvalidGrant`].
    pub async fn passkey_authentication_finish(
        &self,
        ceremony_id: &Secret,
        credential: &Value,
    ) -> Result<CustomerSession, OidcError> {
        let url = self.webauthn_url("authentication/finish")?;
        let body = serde_json::json!({
            "ceremony_id": ceremony_id.expose(),
            "credential": credential,
        });
        let answer = self
            .post_as_client("passkey_authentication", &url, &body, REQUEST_TIMEOUT)
            .await?;
        if !answer.is_success() {
            return Err(refusal(&answer, Caller::Client));
        }
        wire::otp_session(&answer)
    }
}
