use super::*;

#[test]
fn outcomes_round_trip_and_read_plainly() {
    for outcome in ApprovalOutcome::ALL {
        assert_eq!(ApprovalOutcome::parse(outcome.as_str()), Some(outcome));
        let wire = serde_json::to_string(&outcome).unwrap_or_default();
        assert_eq!(wire, format!("\"{}\"", outcome.as_str()));
        assert!(!outcome.sentence("Demo Bank").is_empty());
    }
    assert_eq!(ApprovalOutcome::parse("nope"), None);
    assert_eq!(
        ApprovalOutcome::Approved.sentence("x"),
        "You can go back to your call."
    );
    assert_eq!(
        ApprovalOutcome::Expired.sentence("x"),
        "This request has expired. Ask the agent to send a new one."
    );
    assert_eq!(
        ApprovalOutcome::WrongPerson.sentence("x"),
        "This request is for someone else. Nothing was changed."
    );
    assert!(
        ApprovalOutcome::Reported
            .sentence("Demo Bank")
            .contains("Demo Bank")
    );
}

#[test]
fn notices_say_how_many_tries_are_left() {
    let wrong = |tries_left| ApprovalNotice::WrongCode { tries_left }.sentence();
    assert_eq!(wrong(Some(3)), "That code is not right. 3 tries left.");
    assert_eq!(wrong(Some(1)), "That code is not right. 1 try left.");
    assert!(wrong(Some(0)).contains("no tries are left"));
    assert!(wrong(None).contains("no tries are left"));
    assert_eq!(
        ApprovalNotice::TooManyCodes {
            retry_after: Some(600)
        }
        .sentence(),
        "Too many codes were asked for. Try again in 10 minutes."
    );
    assert_eq!(wait(1), "1 second");
    assert_eq!(wait(45), "45 seconds");
    assert_eq!(wait(61), "1 minute");
    assert_eq!(wait(599), "10 minutes");
}

#[test]
fn the_page_address_is_encoded_and_secrets_stay_out_of_debug() {
    let link = ApprovalLink::new("a.b_c-d+e/f".into(), Some("K7-42!".into()));
    assert_eq!(
        link.page_url(),
        "/approve?auth_req_id=a.b_c-d%2Be%2Ff&binding_message=K7-42%21"
    );
    assert_eq!(
        ApprovalLink::new("x".into(), Some(String::new())).page_url(),
        "/approve?auth_req_id=x"
    );
    let shown = format!(
        "{link:?} {:?} {:?}",
        ApprovalStep::VerifyCode {
            code: "123456".into()
        },
        ApprovalStep::SendCode {
            identifier: Some("alice@example.com".into())
        }
    );
    for secret in ["a.b_c", "123456", "alice@"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}
