use super::*;

#[test]
fn requests_are_checked_and_trimmed() {
    assert!(request("  ", Channel::Sms, "", "").is_err());
    assert!(request("alice", Channel::Sms, &"x".repeat(MAX_NOTE + 1), "").is_err());
    assert!(request("alice", Channel::Sms, &"x".repeat(MAX_NOTE), "").is_ok());
    assert!(request("alice", Channel::Sms, "see evil.example/login", "").is_err());
    let asked = request(" alice@example.com ", Channel::Email, " ", "").unwrap();
    assert_eq!(asked.identifier, "alice@example.com");
    assert_eq!(asked.hint_type, Some(HintType::Email));
    assert_eq!(asked.custom_message, None);
    let asked = request("+15555550101", Channel::Sms, " Call about card ", "").unwrap();
    assert_eq!(asked.hint_type, Some(HintType::Phone));
    assert_eq!(asked.custom_message.as_deref(), Some("Call about card"));
    assert_eq!(asked.ticket, None);
}

#[test]
fn a_ticket_id_is_optional_trimmed_and_plain() {
    let asked = request("alice", Channel::Sms, "", "  INC-20461 ").unwrap();
    assert_eq!(asked.ticket.as_deref(), Some("INC-20461"));
    assert_eq!(
        request("alice", Channel::Sms, "", " ").unwrap().ticket,
        None
    );
    let most = "7".repeat(proto::MAX_TICKET_CHARS);
    assert_eq!(
        request("alice", Channel::Sms, "", &most).unwrap().ticket,
        Some(most.clone())
    );
    for refused in [
        format!("{most}7"),
        "=HYPERLINK(1)".to_owned(),
        "a\tb".to_owned(),
        "<b>".to_owned(),
    ] {
        let sentence = request("alice", Channel::Sms, "", &refused).unwrap_err();
        assert!(
            sentence.contains("ticket or call id"),
            "{refused:?}: {sentence}"
        );
    }
}

#[test]
fn the_kind_is_said_and_suggests_a_channel() {
    assert_eq!(
        detected_sentence("alice@example.com"),
        "Looks like an email address."
    );
    assert_eq!(detected_sentence("+1 555"), "Looks like a phone number.");
    assert_eq!(suggested(HintType::Email), Channel::Email);
    assert_eq!(suggested(HintType::UserId), Channel::Sms);
}

#[test]
fn a_screen_pop_fills_only_what_the_form_would_accept() {
    let some = |value: &str| Some(value.to_owned());
    let pop =
        Prefill::from_query(some(" bob@example.com "), some("email"), some("CRM-77")).unwrap();
    assert_eq!(pop.identifier, "bob@example.com");
    assert_eq!(pop.channel, Some(Channel::Email));
    assert_eq!(pop.ticket, "CRM-77");
    assert_eq!(
        pop.path(),
        "/?verify=bob%40example%2Ecom&channel=email&ticket=CRM%2D77"
    );
    // Values the form would refuse are left out; nothing usable is no prefill at all.
    let pop = Prefill::from_query(some("+15555550101"), some("fax"), some("=1+1")).unwrap();
    assert_eq!((pop.channel, pop.ticket.as_str()), (None, ""));
    assert_eq!(pop.path(), "/?verify=%2B15555550101");
    assert_eq!(Prefill::from_query(None, None, None), None);
    assert_eq!(
        Prefill::from_query(some(" "), some("pager"), some("")),
        None
    );
    assert_eq!(
        Prefill::from_query(some(&"x".repeat(MAX_IDENTIFIER + 1)), None, None),
        None
    );
    assert_eq!(Prefill::from_query(some("a\u{0}b"), None, None), None);
    // Nor one that would show the agent something else than is sent.
    assert_eq!(
        Prefill::from_query(some("alice\u{202E}moc.elpmaxe"), None, None),
        None
    );
    assert_eq!(Prefill::from_query(some("al\u{200B}ice"), None, None), None);
    let pop = Prefill::from_query(None, some("link"), None).unwrap();
    assert_eq!(pop.path(), "/?channel=link");
}
