//! SMS messages as a signed JSON POST to an HTTP endpoint: an SMS gateway, or a small bridge to
//! one.
//!
//! # The request
//!
//! ```text
//! POST <COUNTERSIGN_SMS_WEBHOOK_URL>
//! Content-Type: application/json
//! Countersign-Signature: t=1767225600,v1=<64 lowercase hex digits>
//!
//! {"to":"+15555550101","body":"Demo Bank: To verify it's you, click this link: https://…","channel":"sms","id":"Jm3…"}
//! ```
//!
//! - `to`: the recipient's phone number as stored (E.164, such as `+15555550101`).
//! - `body`: the text to send. It holds a sign-in link or a one-time code: do not log it.
//! - `channel`: always `"sms"`.
//! - `id`: a random identifier of this message (base64url), new for every message, so a
//!   receiver can drop a request it has already seen.
//!
//! Any 2xx answer means "accepted"; anything else, a timeout, or a redirect (redirects are not
//! followed) fails the delivery, and the request that needed the message is not started. The
//! answer's body is never read.
//!
//! # Verifying the signature
//!
//! The `Countersign-Signature` header is `t=<unix seconds>,v1=<hex>`, where `<hex>` is the
//! lowercase hex HMAC-SHA256, keyed with the shared secret (`COUNTERSIGN_SMS_WEBHOOK_SECRET`, its
//! UTF-8 bytes), of the ASCII timestamp, a `.`, and the request body exactly as received:
//!
//! ```text
//! v1 = hex(HMAC-SHA256(secret, "<t>" + "." + <raw body bytes>))
//! ```
//!
//! A receiver should:
//!
//! 1. split the header on `,` and each part on the first `=`, and take `t` and `v1` (ignore
//!    other parts: later versions may add a `v2`);
//! 2. compute the HMAC over the raw body bytes, before any JSON parsing, and compare it with
//!    `v1` in constant time (for example Python's `hmac.compare_digest`);
//! 3. refuse a `t` more than five minutes from its own clock, so a captured request cannot be
//!    replayed later, and drop an `id` it has already seen within that window.
//!
//! A test vector: with the secret `whsec_test_0123456789abcdef`, `t` = `1700000000` and the body
//! `{"to":"+15555550101","body":"hi","channel":"sms","id":"m1"}` the header is
//! `t=1700000000,v1=4e6b1160e29c2c41297379e3de60ac68c0d3d25658e52042e4ed2d9478af2893`.
//!
//! In Python:
//!
//! ```text
//! parts = dict(part.split("=", 1) for part in header.split(","))
//! signed = parts["t"].encode() + b"." + raw_body
//! mac = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
//! ok = hmac.compare_digest(mac, parts["v1"]) and abs(time.time() - int(parts["t"])) <= 300
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use infra::secret::{Secret, random_token};
use reqwest::{Url, header::CONTENT_TYPE, redirect::Policy};
use serde_json::json;
use sha2::Sha256;

use super::{BoxFuture, Outgoing, SendError, Sender};
use crate::{clock::Clock, config::WebhookConfig};

/// The name of the signature header.
pub const SIGNATURE_HEADER: &str = "Countersign-Signature";

/// The `Countersign-Signature` value for `body` sent at `unix_seconds`:
/// `t=<unix_seconds>,v1=<hex HMAC-SHA256(secret, "<unix_seconds>.<body>")>`.
pub fn signature(secret: &Secret, unix_seconds: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    format!("t={unix_seconds},v1={hex}")
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Sends SMS messages as signed JSON POSTs (see the module documentation); refuses every other
/// channel.
#[derive(Clone)]
pub struct Webhook {
    http: reqwest::Client,
    url: Url,
    secret: Secret,
    clock: Clock,
}

impl fmt::Debug for Webhook {
    // The URL may carry the receiver's own token: only its host is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("host", &self.url.host_str())
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// A sender to the webhook `config` names, signing with the time `clock` tells.
    pub fn new(config: &WebhookConfig, clock: Clock) -> Result<Self, SendError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(Policy::none())
            .user_agent(concat!("countersign-provider/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                SendError(format!(
                    "cannot set up the SMS webhook client: {}",
                    error.without_url()
                ))
            })?;
        Ok(Self {
            http,
            url: config.url.clone(),
            secret: config.secret.clone(),
            clock,
        })
    }
}

impl Sender for Webhook {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            SendError::check_channel(message, "SMS webhook", "sms", "COUNTERSIGN_EMAIL_SENDER")?;
            let body = serde_json::to_vec(&json!({
                "to": message.to,
                "body": message.body,
                "channel": "sms",
                "id": random_token().expose(),
            }))
            .map_err(|error| SendError(format!("cannot encode the SMS webhook body: {error}")))?;
            let header = signature(&self.secret, self.clock.now().unix_seconds(), &body);
            let response = self
                .http
                .post(self.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, header)
                .body(body)
                .send()
                .await
                .map_err(|error| describe(&error))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                // The answer's body is not read: it may repeat the message.
                Err(SendError(format!("the SMS webhook answered {status}")))
            }
        })
    }
}

/// What went wrong, without the URL (it may hold the receiver's token).
fn describe(error: &reqwest::Error) -> SendError {
    if error.is_timeout() {
        SendError("the SMS webhook did not answer in time".to_owned())
    } else if error.is_connect() {
        SendError("cannot connect to the SMS webhook".to_owned())
    } else {
        let mut text = format!("the SMS webhook call failed: {}", error_chain(error));
        text.truncate(300);
        SendError(text)
    }
}

/// An error and its sources, `: `-separated, the URL left out.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
