//! The console's view of a stored flow.

use app::flow::FlowView;

use crate::store::{Event, Flow};

/// The console's view of a stored flow and its events; `link` is the flow's link in the clear
/// (the store keeps it sealed).
pub fn view_of(flow: &Flow, events: &[Event], link: Option<String>) -> FlowView {
    let timeline = events.iter().map(|event| event.data.0.clone()).collect();
    FlowView {
        id: flow.id.clone(),
        agent: flow.agent_name.clone(),
        hint: flow.hint.clone(),
        hint_type: flow.hint_type,
        channel: flow.channel,
        binding_code: flow.binding_message.clone(),
        ticket: flow.ticket.clone(),
        status: flow.status,
        created_at: flow.created_at,
        expires_at: flow.expires_at,
        link,
        timeline,
        customer: flow.customer.as_ref().map(|customer| customer.0.clone()),
        outcome: flow.outcome_detail.clone(),
        session_open: flow.tokens.is_some(),
    }
}
