use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

use super::Refusal;

fn every() -> Vec<Refusal> {
    vec![
        Refusal::SignedOut,
        Refusal::Forbidden("No.".into()),
        Refusal::NotFound("There is no such verification.".into()),
        Refusal::Invalid("Type the customer's email.".into()),
        Refusal::Unreadable,
        Refusal::TooLarge(64),
        Refusal::RateLimited(42),
        Refusal::Unavailable("Sessions are unavailable right now. Try again.".into()),
        Refusal::Failed,
        Refusal::Unreachable,
    ]
}

#[test]
fn the_wire_form_carries_the_sentence_under_error() {
    for refusal in every() {
        let json: serde_json::Value = serde_json::to_value(&refusal).unwrap();
        assert_eq!(json["error"], refusal.to_string(), "{json}");
        assert!(json["kind"].is_string(), "{json}");
        assert!(!refusal.to_string().is_empty());
    }
    let limited = serde_json::to_value(Refusal::RateLimited(42)).unwrap();
    assert_eq!(limited["retry_after"], 42);
    assert_eq!(
        serde_json::to_value(Refusal::SignedOut).unwrap()["retry_after"],
        serde_json::Value::Null
    );
}

#[test]
fn every_refusal_but_the_size_comes_back_as_it_went() {
    for refusal in every() {
        let back: Refusal = serde_json::from_slice(&serde_json::to_vec(&refusal).unwrap()).unwrap();
        match refusal {
            // The limit is only in the sentence; the browser only shows it.
            Refusal::TooLarge(_) => assert_eq!(back, Refusal::Invalid(refusal.to_string())),
            _ => assert_eq!(back, refusal),
        }
    }
}

#[test]
fn an_unknown_kind_keeps_its_sentence() {
    let back: Refusal =
        serde_json::from_str(r#"{"error":"Not today.","kind":"from_the_future"}"#).unwrap();
    assert_eq!(back, Refusal::Invalid("Not today.".into()));
}

#[test]
fn statuses_are_the_http_ones() {
    let statuses: Vec<u16> = every().iter().map(Refusal::status).collect();
    assert_eq!(statuses, [401, 403, 404, 400, 400, 413, 429, 503, 500, 503]);
}

#[test]
fn framework_failures_become_refusals() {
    assert_eq!(
        Refusal::from_server_fn_error(ServerFnErrorErr::Request("offline".into())),
        Refusal::Unreachable
    );
    assert_eq!(
        Refusal::from_server_fn_error(ServerFnErrorErr::Args("unknown variant".into())),
        Refusal::Unreadable
    );
    assert_eq!(
        Refusal::from_server_fn_error(ServerFnErrorErr::MissingArg("flow_id".into())),
        Refusal::Unreadable
    );
    assert_eq!(
        Refusal::from_server_fn_error(ServerFnErrorErr::ServerError("boom".into())),
        Refusal::Failed
    );
}

#[test]
fn a_body_that_is_not_a_refusal_reads_as_a_failure() {
    let refusal = Refusal::de(bytes_of("<html>502 Bad Gateway</html>"));
    assert!(
        matches!(refusal, Refusal::Failed | Refusal::Unreadable),
        "{refusal:?}"
    );
}

fn bytes_of(text: &'static str) -> leptos::server_fn::Bytes {
    leptos::server_fn::Bytes::from_static(text.as_bytes())
}
