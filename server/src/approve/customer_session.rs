//! The approval session: what one step knows ([`Context`]), the customer's stored session and
//! its changes ([`Draft`]), and the events a step records on the flow.

use app::{
    approve::{ApprovalLink, ApprovalNotice, ApprovalOutcome},
    flow::{EventKind, FlowStatus},
    refusal::Refusal,
};
use axum::http::HeaderMap;
use infra::cookies::Cookie;

use super::rules::lifetime_ms;
use super::{Stage, cookie, id_from};
use crate::{
    Bff,
    flows::engine::FlowError,
    session,
    store::{CustomerSession, Flow, Json, StoreError},
};

/// What one step knows.
pub(super) struct Context<'a> {
    pub(super) bff: &'a Bff,
    pub(super) link: &'a ApprovalLink,
    pub(super) now: i64,
    /// The flow of the request, when this BFF started it.
    pub(super) flow: Option<Flow>,
    /// The customer's live session for this request.
    pub(super) session: Option<CustomerSession>,
    /// The customer's live session for another request, if that is what the cookie names.
    pub(super) other: Option<CustomerSession>,
}

impl Context<'_> {
    /// The flow, if it is live: this BFF's, pending and not expired. Only then are codes sent
    /// or checked.
    pub(super) fn live_flow(&self) -> Option<&Flow> {
        self.flow
            .as_ref()
            .filter(|flow| is_live(self.bff, self.link, flow, self.now))
    }
}

/// Whether `flow` is live for `link`: this BFF's, pending, not expired, and the link's request.
pub(super) fn is_live(bff: &Bff, link: &ApprovalLink, flow: &Flow, now: i64) -> bool {
    flow.status == FlowStatus::Pending
        && now < flow.expires_at
        && flow.auth_req_id_hash.as_deref() == Some(bff.sealer.lookup(&link.auth_req_id).as_slice())
}

/// A session about to be written: the request's session, or a new one with its cookie value.
pub(super) struct Draft {
    /// The new session's cookie value; `None` for an update.
    pub(super) id: Option<String>,
    /// The stage the stored session must still be at (for an update).
    pub(super) expected: Stage,
    pub(super) row: CustomerSession,
}

impl Draft {
    /// The request's session, or a new one.
    pub(super) fn of(context: &Context<'_>) -> Self {
        match &context.session {
            Some(session) => Self::update(session.clone()),
            None => Self::new(context),
        }
    }

    /// `row` written over the stored session, which must still be at `row`'s stage.
    pub(super) fn update(row: CustomerSession) -> Self {
        Self {
            id: None,
            expected: row.stage,
            row,
        }
    }

    /// A new session for the request.
    pub(super) fn new(context: &Context<'_>) -> Self {
        let (id, id_hash) = session::new_id();
        Self {
            id: Some(id),
            expected: Stage::Started,
            row: CustomerSession {
                id_hash,
                auth_req_id: request_key(context.bff, context.link),
                flow_id: context.flow.as_ref().map(|flow| flow.id.clone()),
                identifier: None,
                hint_type: None,
                access_token: None,
                stage: Stage::Started,
                outcome: None,
                notice: None,
                created_at: context.now,
                expires_at: context.now.saturating_add(lifetime_ms()),
                code_binding: None,
                code_sent_at: None,
                codes_sent: 0,
                wrong_codes: 0,
                passkey_step: None,
                passkey_ceremony: None,
                passkey_starts: 0,
            },
        }
    }

    pub(super) fn notice(mut self, notice: Option<ApprovalNotice>) -> Self {
        self.row.notice = notice.map(Json);
        self
    }

    pub(super) fn finished(mut self, outcome: ApprovalOutcome) -> Self {
        self.row.stage = Stage::Decided;
        self.row.outcome = Some(outcome);
        self.row.access_token = None;
        self.row.notice = None;
        self
    }

    /// Stores it; returns the `Set-Cookie` value for a new session. An update that lost a race
    /// (another tab moved the session on) is dropped: the page shows what won.
    pub(super) async fn save(
        self,
        context: &Context<'_>,
    ) -> Result<Option<Cookie<'static>>, StoreError> {
        let store = &*context.bff.store;
        match self.id {
            Some(id) => {
                store.insert_customer_session(&self.row).await?;
                Ok(Some(cookie(&id)))
            }
            None => {
                store
                    .update_customer_session(&self.row, self.expected)
                    .await?;
                Ok(None)
            }
        }
    }
}

/// The customer's live session for this request, and one for another request (what else the
/// cookie may name).
pub(super) async fn sessions(
    bff: &Bff,
    headers: &HeaderMap,
    link: &ApprovalLink,
    now: i64,
) -> Result<(Option<CustomerSession>, Option<CustomerSession>), StoreError> {
    let Some(id) = id_from(headers) else {
        return Ok((None, None));
    };
    let Some(found) = bff
        .store
        .customer_session(&session::hash(&id))
        .await?
        .filter(|found| found.is_live(now))
    else {
        return Ok((None, None));
    };
    if found.auth_req_id == request_key(bff, link) {
        Ok((Some(found), None))
    } else {
        Ok((None, Some(found)))
    }
}

/// What a customer session keeps of the request it may act on: the keyed hash of the link's
/// `auth_req_id`, as hex.
fn request_key(bff: &Bff, link: &ApprovalLink) -> String {
    crate::sealed::hex(&bff.sealer.lookup(&link.auth_req_id))
}

/// Records `link_opened` on the customer's first step for the flow (not on a GET: scanners).
pub(super) async fn opened(bff: &Bff, flow: &Flow) {
    let seen = bff
        .store
        .events_for_flow(&flow.id, 0, 1000)
        .await
        .map(|events| {
            events
                .iter()
                .any(|event| event.kind == EventKind::LinkOpened)
        });
    match seen {
        Ok(true) => {}
        Ok(false) => record(bff, &flow.id, EventKind::LinkOpened).await,
        Err(error) => tracing::warn!(%error, flow_id = flow.id, "the flow's events were not read"),
    }
}

/// Records a customer's step on the flow; a flow that ended meanwhile is fine.
pub(super) async fn record(bff: &Bff, flow_id: &str, kind: EventKind) {
    match bff.engine.record(flow_id, kind, None).await {
        Ok(()) | Err(FlowError::Ended | FlowError::NotFound) => {}
        Err(error) => {
            tracing::warn!(%error, flow_id, kind = kind.as_str(), "an approval step was not recorded");
        }
    }
}

pub(super) fn unavailable(error: StoreError) -> Refusal {
    tracing::error!(%error, "the approval page's store failed");
    Refusal::Unavailable("Something went wrong on our side. Try again in a moment.".to_owned())
}
