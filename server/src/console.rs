//! What the console's server functions do on the BFF: the agent behind the request's session
//! cookie, starting (with rate limits per agent and per customer), cancelling and listing
//! verifications.

use app::{
    api::{AgentInfo, VerificationRequest},
    flow::{FlowView, HintType},
    refusal::Refusal,
};
use axum::http::HeaderMap;

use crate::{
    Bff,
    flows::engine::{FlowError, StartInput},
    session::{self, AgentSession},
};

/// The longest identifier accepted (an email address's limit).
const MAX_IDENTIFIER: usize = 254;
/// Verifications per page of the history.
const PAGE: i64 = 50;

impl Bff {
    async fn agent(&self, headers: &HeaderMap) -> Result<AgentSession, Refusal> {
        session::from_headers(self, headers).await
    }

    /// The signed-in agent, if any.
    pub async fn me(&self, headers: &HeaderMap) -> Result<Option<AgentInfo>, Refusal> {
        match self.agent(headers).await {
            Ok(session) => Ok(Some(AgentInfo {
                name: session.agent.name,
                email: session.email,
                supervisor: session.agent.supervisor,
                dev_outbox: self
                    .dev_outbox
                    .then(|| format!("{}/dev/outbox", self.provider_issuer)),
            })),
            Err(Refusal::SignedOut) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Starts a verification for the request's agent.
    pub async fn start_verification(
        &self,
        headers: &HeaderMap,
        request: VerificationRequest,
    ) -> Result<FlowView, Refusal> {
        let session = self.agent(headers).await?;
        let identifier = request.identifier.trim();
        // A control character is in no email, phone or user id (and PostgreSQL stores no NUL):
        // refused before a start is counted.
        if identifier.is_empty()
            || identifier.chars().count() > MAX_IDENTIFIER
            || identifier.chars().any(char::is_control)
        {
            return Err(Refusal::Invalid(
                "Type the customer's email address, phone number or user id.".into(),
            ));
        }
        let hint_type = request
            .hint_type
            .unwrap_or_else(|| HintType::detect(identifier));
        // The provider's own rule (`proto`), checked before the start is counted against the
        // agent's and the customer's allowance: a note the provider would refuse must not use
        // up one of the customer's starts.
        let note = match request.custom_message.as_deref().map(proto::check_note) {
            None | Some(Err(proto::NoteError::Empty)) => None,
            Some(Ok(note)) => Some(note.to_owned()),
            Some(Err(refused)) => return Err(Refusal::Invalid(refused.sentence())),
        };
        let ticket = proto::check_ticket(request.ticket.as_deref().unwrap_or_default())
            .map_err(Refusal::Invalid)?
            .map(str::to_owned);
        let now = self.engine.now_ms();
        let unavailable = |_| Refusal::Unavailable("Something went wrong on our side.".into());
        self.hit_limit(self.limits.starts_per_agent, &session.agent.sub, now)
            .await
            .map_err(unavailable)?
            .map_err(Refusal::RateLimited)?;
        let customer = format!("{}:{}", hint_type.as_str(), hint_type.normalise(identifier));
        self.hit_limit(self.limits.starts_per_customer, &customer, now)
            .await
            .map_err(unavailable)?
            .map_err(Refusal::RateLimited)?;
        self.engine
            .start(
                &session.agent,
                StartInput {
                    hint: identifier.to_owned(),
                    hint_type,
                    channel: request.channel,
                    custom_message: note,
                    ticket,
                },
            )
            .await
            .map_err(refusal)
    }

    /// Cancels one of the agent's pending verifications.
    pub async fn cancel_verification(
        &self,
        headers: &HeaderMap,
        flow_id: &str,
    ) -> Result<FlowView, Refusal> {
        let agent = self.agent(headers).await?.agent;
        self.engine.cancel(&agent, flow_id).await.map_err(refusal)
    }

    /// Ends the verified customer's session on one of the agent's verifications: the BFF
    /// drops and revokes the customer's tokens.
    pub async fn end_customer_session(
        &self,
        headers: &HeaderMap,
        flow_id: &str,
    ) -> Result<FlowView, Refusal> {
        let agent = self.agent(headers).await?.agent;
        self.engine
            .end_session(&agent, flow_id)
            .await
            .map_err(refusal)
    }

    /// The agent's verifications (supervisors: everyone's), newest first.
    pub async fn verifications(
        &self,
        headers: &HeaderMap,
        before: Option<&str>,
    ) -> Result<Vec<FlowView>, Refusal> {
        let session = self.agent(headers).await?;
        let agent = &session.agent;
        let cursor = match before {
            Some(id) => Some(
                self.engine
                    .visible(agent, id)
                    .await
                    .map_err(refusal)?
                    .cursor(),
            ),
            None => None,
        };
        let mine = (!agent.supervisor).then_some(agent.sub.as_str());
        let store = self.engine.store();
        let flows = store
            .flows_for(mine, cursor.as_ref(), PAGE)
            .await
            .map_err(|_| Refusal::Unavailable("Something went wrong on our side.".into()))?;
        let mut views = Vec::with_capacity(flows.len());
        for flow in flows {
            let events = store
                .events_for_flow(&flow.id, 0, 1000)
                .await
                .map_err(|_| Refusal::Unavailable("Something went wrong on our side.".into()))?;
            views.push(self.engine.present(&flow, &events));
        }
        Ok(views)
    }
}

fn refusal(error: FlowError) -> Refusal {
    match error {
        FlowError::NotFound => Refusal::NotFound(error.to_string()),
        FlowError::Ended | FlowError::NoSession => Refusal::Invalid(error.to_string()),
        FlowError::Store(_) => Refusal::Unavailable(error.to_string()),
    }
}
