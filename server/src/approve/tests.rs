use axum::http::{HeaderValue, header};

use super::*;
use super::{
    rules::{Target, purpose},
    steps::request_subject,
};
use crate::{
    oidc::OtpChannel,
    store::{CustomerSession, Flow, Json},
};
use app::{
    approve::{ApprovalNotice, CodeChannel, CodeDestination},
    flow::{Channel, FlowStatus, HintType},
};

const NOW: i64 = 1_800_000_000_000;

fn flow(hint_type: HintType, hint: &str, status: FlowStatus) -> Flow {
    Flow {
        id: "flow-1".into(),
        agent_sub: "agent".into(),
        agent_name: "Agent Smith".into(),
        hint: hint.into(),
        hint_type,
        channel: Channel::Sms,
        binding_message: "K7-42QX".into(),
        custom_message: None,
        ticket: None,
        auth_req_id: Some("req".into()),
        link: None,
        auth_req_id_hash: Some(b"req".to_vec()),
        status,
        created_at: NOW,
        expires_at: NOW + 300_000,
        interval_secs: 5,
        next_poll_at: NOW,
        poll_failures: 0,
        decided_at: None,
        ended_at: None,
        outcome_detail: None,
        customer: None,
        tokens: None,
        version: 0,
        lease_owner: None,
        lease_until: 0,
        lease_epoch: 0,
        notification_token_hash: None,
    }
}

fn session(stage: Stage) -> CustomerSession {
    CustomerSession {
        id_hash: vec![1],
        auth_req_id: "req".into(),
        flow_id: None,
        identifier: Some("bob@example.com".into()),
        hint_type: Some(HintType::Email),
        access_token: None,
        stage,
        outcome: None,
        notice: None,
        created_at: NOW,
        expires_at: NOW + 600_000,
        code_binding: None,
        code_sent_at: None,
        codes_sent: 0,
        wrong_codes: 0,
        passkey_step: None,
        passkey_ceremony: None,
        passkey_starts: 0,
    }
}

#[test]
fn the_cookie_is_host_only_secure_script_proof_and_lax() {
    let set = cookie("abc").to_string();
    for part in [
        "__Host-countersign-approval=abc",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=600",
    ] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Domain"));
    let mut headers = HeaderMap::new();
    headers.append(
        header::COOKIE,
        HeaderValue::from_static("__Host-countersign=agent; __Host-countersign-approval=c"),
    );
    assert_eq!(id_from(&headers).as_deref(), Some("c"));
    assert_eq!(id_from(&HeaderMap::new()), None);
}

#[test]
fn the_request_names_where_the_code_goes_unless_it_names_a_user_id() {
    let sms = Target::of_flow(&flow(
        HintType::Phone,
        "+1 555 555 0101",
        FlowStatus::Pending,
    ))
    .unwrap();
    assert_eq!(sms.channel, OtpChannel::Sms);
    assert_eq!(sms.identifier, "+15555550101");
    assert_eq!(sms.destination().masked, "•••0101");
    let email = Target::of_flow(&flow(
        HintType::Email,
        "Alice@Example.com",
        FlowStatus::Pending,
    ))
    .unwrap();
    assert_eq!(email.channel, OtpChannel::Email);
    assert_eq!(email.destination().masked, "a•••e@example.com");
    assert_eq!(
        Target::of_flow(&flow(HintType::UserId, "alice", FlowStatus::Pending)),
        None
    );
    assert_eq!(Target::typed("alice"), None);
    assert_eq!(
        Target::typed(" bob@example.com ").map(|t| t.hint_type),
        Some(HintType::Email)
    );
    assert_eq!(
        Target::typed("+1 (555) 555-0102").map(|t| t.identifier),
        Some("+15555550102".to_owned())
    );
    assert_eq!(
        Target::typed(&format!("{}@x.example", "a".repeat(260))),
        None
    );
}

#[test]
fn screens_follow_the_session_then_the_flow() {
    let pending = flow(HintType::Phone, "+15555550101", FlowStatus::Pending);
    let start = screen(Some(&pending), None, None, NOW);
    assert_eq!(
        start,
        ApprovalScreen::Start {
            send_to: Some(CodeDestination {
                channel: CodeChannel::Sms,
                masked: "•••0101".into()
            }),
            notice: None
        }
    );
    let by_id = flow(HintType::UserId, "alice", FlowStatus::Pending);
    assert_eq!(
        screen(Some(&by_id), None, None, NOW),
        ApprovalScreen::Start {
            send_to: None,
            notice: None
        }
    );
    let mut sent = session(Stage::CodeSent);
    sent.notice = Some(Json(ApprovalNotice::WrongCode {
        tries_left: Some(2),
    }));
    assert_eq!(
        screen(Some(&by_id), Some(&sent), None, NOW),
        ApprovalScreen::EnterCode {
            sent_to: CodeDestination {
                channel: CodeChannel::Email,
                masked: "b•••b@example.com".into()
            },
            typed: true,
            notice: Some(ApprovalNotice::WrongCode {
                tries_left: Some(2)
            })
        }
    );
    assert_eq!(
        screen(None, Some(&session(Stage::SignedIn)), None, NOW),
        ApprovalScreen::Decide { notice: None }
    );
    // Limited: the wait, unless there is a final answer.
    assert_eq!(
        screen(
            Some(&pending),
            Some(&session(Stage::SignedIn)),
            Some(30),
            NOW
        ),
        ApprovalScreen::RateLimited { retry_after: 30 }
    );
    let mut done = session(Stage::Decided);
    done.outcome = Some(ApprovalOutcome::Approved);
    let approved = flow(HintType::Phone, "+15555550101", FlowStatus::Approved);
    assert_eq!(
        screen(Some(&approved), Some(&done), Some(30), NOW),
        ApprovalScreen::Finished {
            outcome: ApprovalOutcome::Approved
        }
    );
    // Someone else's answer, an expiry, an agent's cancel.
    for (status, at, outcome) in [
        (FlowStatus::Approved, NOW, ApprovalOutcome::AlreadyDecided),
        (FlowStatus::Denied, NOW, ApprovalOutcome::AlreadyDecided),
        (FlowStatus::Expired, NOW, ApprovalOutcome::Expired),
        (FlowStatus::Pending, NOW + 300_000, ApprovalOutcome::Expired),
        (FlowStatus::Cancelled, NOW, ApprovalOutcome::Ended),
        (FlowStatus::Failed, NOW, ApprovalOutcome::Ended),
    ] {
        assert_eq!(
            screen(
                Some(&flow(HintType::Email, "a@b.example", status)),
                None,
                None,
                at
            ),
            ApprovalScreen::Finished { outcome },
            "{status:?}"
        );
    }
}

#[test]
fn the_message_names_the_call_when_the_name_is_plain() {
    assert_eq!(
        purpose("Demo Bank").as_deref(),
        Some("your call with Demo Bank")
    );
    assert_eq!(
        purpose(" Smith & Sons ").as_deref(),
        Some("your call with Smith & Sons")
    );
    for odd in ["", "Bank <b>", "bank.example/x", "Ba..nk", &"x".repeat(41)] {
        assert_eq!(purpose(odd), None, "{odd}");
    }
    assert_ne!(request_subject("a"), request_subject("b"));
    assert!(!request_subject("secret-auth-req-id").contains("secret"));
}

#[test]
fn links_are_checked_before_use() {
    assert!(well_formed("abc.DEF_-123"));
    assert!(!well_formed(""));
    assert!(!well_formed("has space"));
    assert!(!well_formed(&"x".repeat(MAX_AUTH_REQ_ID + 1)));
    assert!(plain_binding_message("K7-42QX"));
    assert!(!plain_binding_message("<b>hi</b>"));
    assert!(!plain_binding_message("x\u{202e}y"));
    assert!(!plain_binding_message(&"a".repeat(21)));
}

#[test]
fn passkeys_are_offered_on_a_live_request_only_and_adding_one_only_after_a_code() {
    use crate::store::PasskeyStep;
    use app::approve::{ApprovalScreen, PasskeyOffer};
    use passkey::{STARTS_PER_SESSION, offer};
    let start = ApprovalScreen::Start {
        send_to: None,
        notice: None,
    };
    let decide = ApprovalScreen::Decide { notice: None };
    let sign_in = |first| Some(PasskeyOffer::SignIn { first });
    // Before any sign-in: offered, first only where this browser used passkeys here.
    assert_eq!(offer(true, true, None, &start, false), sign_in(false));
    assert_eq!(offer(true, true, None, &start, true), sign_in(true));
    // Not on a page without passkeys, nor on a request that is not live.
    assert_eq!(offer(false, true, None, &start, true), None);
    assert_eq!(offer(true, false, None, &start, true), None);
    // After a code sign-in: adding one; after a passkey sign-in, or once added: nothing.
    let by_code = session(Stage::SignedIn);
    assert_eq!(
        offer(true, true, Some(&by_code), &decide, false),
        Some(PasskeyOffer::Add)
    );
    for step in [PasskeyStep::SignedIn, PasskeyStep::Added] {
        let done = CustomerSession {
            passkey_step: Some(step),
            ..session(Stage::SignedIn)
        };
        assert_eq!(
            offer(true, true, Some(&done), &decide, false),
            None,
            "{step:?}"
        );
    }
    // While the decision is being sent: nothing.
    assert_eq!(
        offer(true, true, Some(&session(Stage::Decided)), &decide, false),
        None
    );
    // A session that began its share of ceremonies is left with the code.
    let spent = CustomerSession {
        passkey_starts: STARTS_PER_SESSION,
        ..session(Stage::CodeSent)
    };
    assert_eq!(offer(true, true, Some(&spent), &start, true), None);
}

#[test]
fn passkey_options_must_be_for_this_pages_host_or_a_domain_it_is_in() {
    use passkey::{options_for, rp_host};
    use serde_json::json;
    let host = rp_host("https://verify.bank.example");
    assert_eq!(host, "verify.bank.example");
    let get = |rp: &str| json!({ "publicKey": { "rpId": rp, "challenge": "x" } });
    let create = |rp: &str| json!({ "publicKey": { "rp": { "id": rp, "name": "Bank" } } });
    for rp in ["verify.bank.example", "bank.example", "BANK.example"] {
        assert!(options_for(&get(rp), &host), "{rp}");
        assert!(options_for(&create(rp), &host), "{rp}");
    }
    for rp in [
        "ank.example",
        "other.example",
        "verify.bank.example.evil",
        "",
    ] {
        assert!(!options_for(&get(rp), &host), "{rp}");
        assert!(!options_for(&create(rp), &host), "{rp}");
    }
    assert!(!options_for(&json!({ "publicKey": {} }), &host));
    assert!(!options_for(&json!({}), &host));
}

#[test]
fn a_sign_in_for_a_customer_without_a_passkey_looks_like_one_with() {
    let one = passkey::decoy("bank.example", &[7; 32]);
    let again = passkey::decoy("bank.example", &[7; 32]);
    let other = passkey::decoy("bank.example", &[8; 32]);
    let key = &one["publicKey"];
    assert_eq!(key["rpId"], "bank.example");
    assert_eq!(key["userVerification"], "required");
    assert!(key.get("user").is_none());
    assert_eq!(key["allowCredentials"].as_array().map(Vec::len), Some(1));
    // A fresh challenge each time, as the provider's...
    assert_ne!(key["challenge"], again["publicKey"]["challenge"]);
    assert_eq!(key["challenge"].as_str().map(str::len), Some(43));
    // ...and the same credential for the same customer, as a real passkey's id stays.
    let id =
        |options: &serde_json::Value| options["publicKey"]["allowCredentials"][0]["id"].clone();
    assert_eq!(id(&one), id(&again));
    assert_ne!(id(&one), id(&other));
    assert!(passkey::well_formed_options(&one, false));
}

#[test]
fn the_providers_options_must_fit_the_ceremony() {
    use passkey::well_formed_options;
    use serde_json::json;
    let sign_in = json!({ "publicKey": { "challenge": "abc", "rpId": "bank.example" } });
    let adding = json!({ "publicKey": {
        "challenge": "abc", "rp": { "id": "bank.example" }, "user": { "id": "dXNlcg" }
    } });
    assert!(well_formed_options(&sign_in, false));
    assert!(well_formed_options(&adding, true));
    // A sign-in that would make the page create a passkey, or the other way round: refused.
    assert!(!well_formed_options(&adding, false));
    assert!(!well_formed_options(&sign_in, true));
    assert!(!well_formed_options(
        &json!({ "publicKey": { "rpId": "x" } }),
        false
    ));
    let huge = json!({ "publicKey": { "challenge": "a".repeat(20_000) } });
    assert!(!well_formed_options(&huge, false));
}
