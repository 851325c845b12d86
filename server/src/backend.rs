//! [`Bff`]: the services behind the server functions ([`app::ssr::Backend`]).

use std::{sync::Arc, time::Duration};

use app::{
    api::{AgentInfo, VerificationRequest},
    flow::FlowView,
    health::ProviderStatus,
    refusal::Refusal,
    ssr::{Backend, BoxFuture},
};
use axum::http::HeaderMap;

use crate::{
    approve, events,
    flows::{connect, engine::Engine},
    limits,
    provider_client::ProviderClient,
    sealed,
    store::SharedStore,
};

/// The BFF's services, reached by server functions through [`app::ssr::Backend`] and by the
/// BFF's own routes.
#[derive(Debug)]
pub struct Bff {
    /// The provider's health, for the status panel.
    pub(crate) provider: ProviderClient,
    /// The provider's OIDC and CIBA API, connected on first use.
    pub oidc: Arc<connect::Provider>,
    /// Verifications and their pollers.
    pub engine: Engine,
    /// Sessions, flows and events.
    pub store: SharedStore,
    /// The BFF's address as browsers reach it.
    pub public_url: String,
    /// How long agent sessions last.
    pub session_idle: Duration,
    /// And at most.
    pub session_max: Duration,
    /// Whether the provider runs in this process.
    pub provider_embedded: bool,
    /// Whether the provider keeps customers' passkeys for the approval page's origin, so the
    /// page offers them.
    pub passkeys: bool,
    /// The passkeys' relying-party id, when known (the embedded provider's); else the public
    /// URL's host.
    pub passkey_rp_id: Option<String>,
    /// Whether the embedded provider serves its development outbox (`COUNTERSIGN_DEV_OUTBOX`);
    /// the console links to it only then.
    pub dev_outbox: bool,
    pub provider_issuer: String,
    /// Who asks, as the customer's approval page names it.
    pub display_name: String,
    /// Whether a reverse proxy appends the client's address to `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Seals the customer tokens the store keeps.
    pub sealer: Arc<sealed::Sealer>,
    /// The BFF's rate limits.
    pub limits: limits::BffLimits,
    /// The agents' open event streams.
    pub streams: Arc<events::Seats>,
    /// What the BFF counts for `/metrics`.
    pub metrics: crate::metrics::Metrics,
}

impl Backend for Bff {
    fn provider_status(&self, headers: HeaderMap) -> BoxFuture<'_, ProviderStatus> {
        Box::pin(async move {
            let status = self.provider.status().await;
            if self.me(&headers).await.ok().flatten().is_some() {
                status
            } else {
                status.public()
            }
        })
    }

    fn me(&self, headers: HeaderMap) -> BoxFuture<'_, Result<Option<AgentInfo>, Refusal>> {
        Box::pin(async move { Bff::me(self, &headers).await })
    }

    fn start_verification(
        &self,
        headers: HeaderMap,
        request: VerificationRequest,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>> {
        Box::pin(async move { Bff::start_verification(self, &headers, request).await })
    }

    fn cancel_verification(
        &self,
        headers: HeaderMap,
        flow_id: String,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>> {
        Box::pin(async move { Bff::cancel_verification(self, &headers, &flow_id).await })
    }

    fn end_customer_session(
        &self,
        headers: HeaderMap,
        flow_id: String,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>> {
        Box::pin(async move { Bff::end_customer_session(self, &headers, &flow_id).await })
    }

    fn verifications(
        &self,
        headers: HeaderMap,
        before: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<FlowView>, Refusal>> {
        Box::pin(async move { Bff::verifications(self, &headers, before.as_deref()).await })
    }

    fn approval(
        &self,
        request: axum::http::request::Parts,
        link: app::approve::ApprovalLink,
    ) -> BoxFuture<'_, Result<app::approve::ApprovalView, Refusal>> {
        Box::pin(async move { approve::view(self, &request, &link).await })
    }

    fn approval_step(
        &self,
        request: axum::http::request::Parts,
        link: app::approve::ApprovalLink,
        step: app::approve::ApprovalStep,
    ) -> BoxFuture<'_, Result<Vec<infra::cookies::Cookie<'static>>, Refusal>> {
        Box::pin(async move { approve::step(self, &request, &link, step).await })
    }

    fn approval_passkey_options(
        &self,
        request: axum::http::request::Parts,
        link: app::approve::ApprovalLink,
    ) -> BoxFuture<'_, Result<(String, Vec<infra::cookies::Cookie<'static>>), Refusal>> {
        Box::pin(async move { approve::passkey_options(self, &request, &link).await })
    }
}
