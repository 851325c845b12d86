use super::*;

#[test]
fn identifiers_are_recognised() {
    assert_eq!(HintType::detect("alice@example.com"), HintType::Email);
    assert_eq!(HintType::detect(" +1 555 555 0101 "), HintType::Phone);
    assert_eq!(HintType::detect("(555) 555-0101"), HintType::Phone);
    assert_eq!(HintType::detect("15555550101"), HintType::Phone);
    assert_eq!(HintType::detect("alice"), HintType::UserId);
    assert_eq!(HintType::detect("a1b2"), HintType::UserId);
    assert_eq!(HintType::detect("+alice"), HintType::UserId);
    assert_eq!(HintType::detect(""), HintType::UserId);
}

#[test]
fn contact_details_are_masked() {
    assert_eq!(mask_email("alice@example.com"), "a•••e@example.com");
    assert_eq!(mask_email("al@example.com"), "a•••@example.com");
    assert_eq!(mask_email("@example.com"), "•••@example.com");
    assert_eq!(mask_email("nonsense"), "•••");
    assert_eq!(mask_phone("+15555550101"), "•••0101");
    assert_eq!(mask_phone("12"), "•••12");
}

#[test]
fn statuses_round_trip_and_know_the_end() {
    for status in [
        FlowStatus::Starting,
        FlowStatus::Pending,
        FlowStatus::Approved,
        FlowStatus::Denied,
        FlowStatus::Expired,
        FlowStatus::Cancelled,
        FlowStatus::Failed,
    ] {
        assert_eq!(FlowStatus::parse(status.as_str()), Some(status));
        let wire = serde_json::to_string(&status).unwrap_or_default();
        assert_eq!(wire, format!("\"{}\"", status.as_str()));
    }
    assert!(!FlowStatus::Pending.is_terminal());
    assert!(FlowStatus::Cancelled.is_terminal());
}
