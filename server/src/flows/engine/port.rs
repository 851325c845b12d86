//! The engine's port to the provider, and the types of its commands.

use std::time::Duration;

use app::flow::{Channel, HintType, VerifiedCustomer};
use async_trait::async_trait;

use crate::{
    flows::poll::Answer,
    store::{Flow, StoreError},
};

/// What the engine asks of the provider (implemented over HTTP by [`crate::oidc`]; by fakes in
/// tests).
#[async_trait]
pub trait Ciba: Send + Sync + std::fmt::Debug + 'static {
    /// Starts a backchannel request for `flow` (hint, channel, binding code, custom message).
    async fn start(&self, flow: &Flow, expiry: Duration) -> Result<Started, String>;

    /// Polls the token endpoint for `flow`; on tokens, validates the ID token against the
    /// customer the flow asked for.
    async fn poll(&self, flow: &Flow, now_ms: i64) -> Polled;

    /// Revokes tokens (as [`Polled::Verified`] carried them) that will not be kept, or whose
    /// session the agent ended.
    async fn discard(&self, flow_id: &str, tokens: &str);

    /// The link to show the agent for `flow` (channel `link`), from what [`Started::link`]
    /// stored; `None` if there is none or it cannot be read.
    fn link(&self, flow: &Flow) -> Option<String>;
}

/// The provider accepted a request: what the flow keeps of it, as the port would have it
/// stored (sealed, for [`crate::flows::provider::OidcCiba`]).
#[derive(Clone, Debug)]
pub struct Started {
    /// Its handle, as stored.
    pub auth_req_id: String,
    /// The keyed hash it is found by.
    pub auth_req_id_hash: Vec<u8>,
    /// Seconds until it expires.
    pub expires_in: Duration,
    /// Seconds between polls.
    pub interval: Duration,
    /// The link, for the `link` channel, as stored.
    pub link: Option<String>,
    /// In ping mode: the keyed hash of the request's `client_notification_token`.
    pub notification_token_hash: Option<Vec<u8>>,
}

/// One poll's result.
#[derive(Clone, Debug)]
pub enum Polled {
    /// Tokens arrived and the ID token is valid for the requested customer.
    Verified {
        /// Who they are, as the agent may see it.
        customer: VerifiedCustomer,
        /// The tokens, as JSON, kept server-side.
        tokens: String,
    },
    /// Keep polling, as `answer` says.
    Wait(Answer),
    /// The customer denied.
    Denied,
    /// The request expired.
    Expired,
    /// It cannot go on; the sentence says why (tokens that did not validate, `invalid_grant`…).
    Failed(String),
}

/// Who asks.
#[derive(Clone, Debug)]
pub struct Agent {
    /// Their `sub`.
    pub sub: String,
    /// Their name.
    pub name: String,
    /// Supervisors see every flow.
    pub supervisor: bool,
}

/// What the agent asks for.
#[derive(Clone, Debug)]
pub struct StartInput {
    /// The customer's email, phone or user id.
    pub hint: String,
    /// Which of those it is.
    pub hint_type: HintType,
    /// How the link goes out.
    pub channel: Channel,
    /// A note for the customer, if any.
    pub custom_message: Option<String>,
    /// The help desk's ticket or call id, if any (checked: [`proto::check_ticket`]).
    pub ticket: Option<String>,
}

/// Why a flow request was refused.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// No such flow, or not the agent's.
    #[error("There is no such verification.")]
    NotFound,
    /// It already ended.
    #[error("This verification has already ended.")]
    Ended,
    /// There is no customer session to end: it was never opened, or it already ended.
    #[error("There is no customer session to end.")]
    NoSession,
    /// The store failed.
    #[error("Something went wrong on our side. Try again.")]
    Store(#[from] StoreError),
}
