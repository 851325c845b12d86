//! The console's server functions: who is signed in, start and cancel verifications, and the
//! history. Each one reads the agent's session from the request's cookie on the BFF; none is a
//! GET that changes anything (Leptos server functions are POSTs, and the BFF checks
//! `Origin`/`Sec-Fetch-Site` on every POST).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    flow::{Channel, FlowView, HintType},
    refusal::Refusal,
};

/// The signed-in agent, as the console shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Their name.
    pub name: String,
    /// Their email.
    pub email: String,
    /// Whether they see everyone's verifications and the audit export.
    pub supervisor: bool,
    /// Where the provider's development outbox is, when the embedded provider runs (demo).
    pub dev_outbox: Option<String>,
}

/// What the agent asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRequest {
    /// The customer's email, phone number or user id, as typed.
    pub identifier: String,
    /// What the identifier is; detected from it when absent.
    pub hint_type: Option<HintType>,
    /// How the link reaches the customer.
    pub channel: Channel,
    /// A note for the customer, if any.
    pub custom_message: Option<String>,
    /// The help desk's ticket or call id, if any ([`proto::check_ticket`]).
    #[serde(default)]
    pub ticket: Option<String>,
}

/// Who is signed in (`None`: nobody).
#[server(prefix = "/api", endpoint = "me")]
pub async fn me() -> Result<Option<AgentInfo>, Refusal> {
    let headers = crate::ssr::headers().await?;
    crate::ssr::backend()?.me(headers).await
}

/// Starts a verification; the flow comes back with its binding code.
#[server(prefix = "/api", endpoint = "start-verification")]
pub async fn start_verification(request: VerificationRequest) -> Result<FlowView, Refusal> {
    let headers = crate::ssr::headers().await?;
    crate::ssr::backend()?
        .start_verification(headers, request)
        .await
}

/// Cancels one of the agent's pending verifications.
#[server(prefix = "/api", endpoint = "cancel-verification")]
pub async fn cancel_verification(flow_id: String) -> Result<FlowView, Refusal> {
    let headers = crate::ssr::headers().await?;
    crate::ssr::backend()?
        .cancel_verification(headers, flow_id)
        .await
}

/// Ends the verified customer's session on one of the agent's verifications: the BFF revokes
/// the customer's tokens.
#[server(prefix = "/api", endpoint = "end-customer-session")]
pub async fn end_customer_session(flow_id: String) -> Result<FlowView, Refusal> {
    let headers = crate::ssr::headers().await?;
    crate::ssr::backend()?
        .end_customer_session(headers, flow_id)
        .await
}

/// The agent's verifications, newest first (supervisors: everyone's), 50 at a time, older
/// than the flow `before` when given.
#[server(prefix = "/api", endpoint = "verifications")]
pub async fn verifications(before: Option<String>) -> Result<Vec<FlowView>, Refusal> {
    let headers = crate::ssr::headers().await?;
    crate::ssr::backend()?.verifications(headers, before).await
}
