use super::*;
use crate::flow::HintType;

fn flow(status: FlowStatus, kinds: &[EventKind]) -> FlowView {
    FlowView {
        session_open: false,
        id: "f1".into(),
        agent: "Agent".into(),
        hint: "alice@example.com".into(),
        hint_type: HintType::Email,
        channel: Channel::Email,
        binding_code: "7KX-4FP".into(),
        ticket: None,
        status,
        created_at: 0,
        expires_at: 600_000,
        link: None,
        timeline: kinds
            .iter()
            .enumerate()
            .map(|(at, kind)| TimelineEntry {
                kind: *kind,
                at: i64::try_from(at).unwrap_or_default(),
                detail: None,
            })
            .collect(),
        customer: None,
        outcome: None,
    }
}

#[test]
fn statuses_read_as_sentences() {
    let pending = flow(FlowStatus::Pending, &[EventKind::Sent]);
    assert_eq!(
        status_sentence(&pending),
        "Waiting for the customer to open the link."
    );
    let opened = flow(
        FlowStatus::Pending,
        &[EventKind::Sent, EventKind::LinkOpened],
    );
    assert_eq!(status_sentence(&opened), "The customer opened the link.");
    let mut expired = flow(FlowStatus::Expired, &[EventKind::Sent, EventKind::Expired]);
    assert_eq!(status_sentence(&expired), "Nobody answered in time.");
    expired.outcome = Some("No answer.".into());
    assert_eq!(status_sentence(&expired), "No answer.");
    let reported = flow(FlowStatus::Denied, &[EventKind::Sent, EventKind::Reported]);
    assert_eq!(status_label(&reported), "Reported");
}

#[test]
fn upcoming_steps_follow_the_last_reached() {
    assert_eq!(
        upcoming(&flow(FlowStatus::Pending, &[EventKind::Sent])),
        ["Link opened", "Customer signed in", "Decision"]
    );
    assert_eq!(
        upcoming(&flow(
            FlowStatus::Pending,
            &[EventKind::Sent, EventKind::SignedIn]
        )),
        ["Decision"]
    );
    assert!(upcoming(&flow(FlowStatus::Denied, &[EventKind::Sent])).is_empty());
}

#[test]
fn codes_and_methods_are_spelled_out() {
    assert_eq!(spelled("7KX-4FP"), "7 K X, 4 F P");
    assert_eq!(
        amr_words(&["otp".into(), "sms".into()]),
        "one-time code, text message"
    );
    assert_eq!(amr_words(&[]), "Not stated");
}
