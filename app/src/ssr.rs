//! The port between the pages' server functions and the backend-for-frontend.
//!
//! Server functions are declared here, next to the components that call them, but the work they
//! start (calling the provider, reading the store) belongs to the `server` crate. The server puts
//! a [`BackendHandle`] into the Leptos context of every request; server functions fetch it with
//! [`backend`].

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use leptos::prelude::*;

use crate::{
    api::{AgentInfo, VerificationRequest},
    flow::FlowView,
    health::ProviderStatus,
    refusal::Refusal,
};

/// A boxed future that can cross threads, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the pages need from the backend-for-frontend.
pub trait Backend: Send + Sync + 'static {
    /// The identity provider's health as the request's caller may see it (details only for a
    /// signed-in agent), checked at most once every few seconds.
    fn provider_status(&self, headers: http::HeaderMap) -> BoxFuture<'_, ProviderStatus>;

    /// The agent the request's session belongs to, if any.
    fn me(&self, headers: http::HeaderMap) -> BoxFuture<'_, Result<Option<AgentInfo>, Refusal>>;

    /// Starts a verification for the request's agent.
    fn start_verification(
        &self,
        headers: http::HeaderMap,
        request: VerificationRequest,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>>;

    /// Cancels one of the agent's pending verifications.
    fn cancel_verification(
        &self,
        headers: http::HeaderMap,
        flow_id: String,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>>;

    /// Ends the verified customer's session on one of the agent's verifications (their
    /// tokens are revoked).
    fn end_customer_session(
        &self,
        headers: http::HeaderMap,
        flow_id: String,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>>;

    /// The agent's verifications (supervisors: everyone's), newest first.
    fn verifications(
        &self,
        headers: http::HeaderMap,
        before: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<FlowView>, Refusal>>;

    /// The approval page as the customer who sent `request` sees it (their cookie, their
    /// address). Changes nothing.
    fn approval(
        &self,
        request: http::request::Parts,
        link: crate::approve::ApprovalLink,
    ) -> BoxFuture<'_, Result<crate::approve::ApprovalView, Refusal>>;

    /// One step the customer took on the approval page; the outcome is kept on the BFF for the
    /// page to show. Returns the cookies to set.
    fn approval_step(
        &self,
        request: http::request::Parts,
        link: crate::approve::ApprovalLink,
        step: crate::approve::ApprovalStep,
    ) -> BoxFuture<'_, Result<Vec<cookie::Cookie<'static>>, Refusal>>;

    /// Begins the passkey ceremony the approval page offers the customer who sent `request`:
    /// the options for the browser (JSON text) and the cookies to set.
    fn approval_passkey_options(
        &self,
        request: http::request::Parts,
        link: crate::approve::ApprovalLink,
    ) -> BoxFuture<'_, Result<(String, Vec<cookie::Cookie<'static>>), Refusal>>;
}

/// The request's headers (the session cookie travels in them).
pub async fn headers() -> Result<http::HeaderMap, Refusal> {
    leptos_axum::extract::<http::HeaderMap>()
        .await
        .map_err(|_| Refusal::Failed)
}

/// The backend, as it travels in the Leptos context.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);

impl fmt::Debug for BackendHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackendHandle")
    }
}

/// The backend of the current request.
pub fn backend() -> Result<Arc<dyn Backend>, Refusal> {
    use_context::<BackendHandle>()
        .map(|handle| handle.0)
        .ok_or(Refusal::Failed)
}
