//! The console's view of a stored flow.

use app::flow::{Channel, FlowStatus, FlowView, HintType, TimelineEntry};

use crate::store::{Event, Flow};

/// The console's view of a stored flow and its events; `link` is the flow's link in the clear
/// (the store keeps it sealed).
pub fn view_of(flow: &Flow, events: &[Event], link: Option<String>) -> FlowView {
    let timeline = events
        .iter()
        .filter_map(|event| serde_json::from_str::<TimelineEntry>(&event.data).ok())
        .collect();
    FlowView {
        id: flow.id.clone(),
        agent: flow.agent_name.clone(),
        hint: flow.hint.clone(),
        hint_type: match flow.hint_type.as_str() {
            "email" => HintType::Email,
            "phone" => HintType::Phone,
            _ => HintType::UserId,
        },
        channel: match flow.channel.as_str() {
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            _ => Channel::Link,
        },
        binding_code: flow.binding_message.clone(),
        status: FlowStatus::parse(&flow.status).unwrap_or(FlowStatus::Failed),
        created_at: flow.created_at,
        expires_at: flow.expires_at,
        link,
        timeline,
        customer: flow
            .customer
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok()),
        outcome: flow.outcome_detail.clone(),
        session_open: flow.tokens.is_some(),
    }
}
