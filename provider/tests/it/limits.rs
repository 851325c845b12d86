//! Rate limits: 429 with `Retry-After`, nothing sent or stored past a limit, other subjects
//! untouched, and a fresh window allows again. Windows follow the manual clock.

use provider::limits::{Limits, Rule};
use reqwest::Response;
use serde_json::{Value, json};

use crate::kit::{CLIENT, Op, error_of};

async fn assert_limited(response: Response, retry_after: u64) {
    assert_eq!(response.status(), 429);
    let header = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(header, retry_after.to_string());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
}

fn start_sms(hint: &str) -> Vec<(&str, &str)> {
    vec![("scope", "openid"), ("login_hint", hint)]
}

#[tokio::test]
async fn case_14_a_customer_gets_five_requests_per_ten_minutes_then_nothing_is_sent() {
    let op = Op::start().await;
    op.advance(30); // 30 s into a ten-minute window
    for _ in 0..5 {
        assert_eq!(
            op.backchannel(&start_sms("+15555550101")).await.status(),
            200
        );
    }
    let (messages, requests) = (
        op.outbox().await.len(),
        op.store().await.backchannel_count().await.unwrap(),
    );
    assert_limited(op.backchannel(&start_sms("+15555550101")).await, 570).await;
    // The refusal sent nothing and stored nothing.
    assert_eq!(op.outbox().await.len(), messages);
    assert_eq!(
        op.store().await.backchannel_count().await.unwrap(),
        requests
    );
    // Other customers are not affected, and the next window allows again.
    assert_eq!(
        op.backchannel(&start_sms("+15555550102")).await.status(),
        200
    );
    op.advance(570);
    assert_eq!(
        op.backchannel(&start_sms("+15555550101")).await.status(),
        200
    );
}

#[tokio::test]
async fn a_client_has_its_own_budget() {
    let op = Op::start_limited(Limits {
        backchannel_per_client: Rule::new("backchannel-client", 3, 60),
        ..Limits::default()
    })
    .await;
    for hint in ["+15555550101", "+15555550102", "alice"] {
        let mut params = start_sms(hint);
        if hint == "alice" {
            params.push((
                "request_context",
                r#"{"login_hint_type":"user_id","channel":"link"}"#,
            ));
        }
        assert_eq!(op.backchannel(&params).await.status(), 200, "{hint}");
    }
    assert_limited(op.backchannel(&start_sms("+15555550101")).await, 60).await;
}

#[tokio::test]
async fn case_15_text_messages_to_one_number_are_capped_across_kinds() {
    let op = Op::start_limited(Limits {
        sms_per_number: Rule::new("sms-number", 2, 86_400),
        ..Limits::default()
    })
    .await;
    let client = op.client_token().await;
    assert_eq!(
        op.backchannel(&start_sms("+15555550101")).await.status(),
        200
    );
    let code = op
        .post_json(
            "/cis/v1/auth/otp/send",
            &client,
            &json!({"channel": "sms", "identifier_type": "phone_number", "identifier": "+15555550101"}),
        )
        .await;
    assert_eq!(code.status(), 200);
    // The third text of the day is refused, whether a link or a code; email still works.
    // Windows are aligned to the epoch: the test clock starts eight hours into a UTC day.
    assert_limited(
        op.backchannel(&start_sms("+15555550101")).await,
        86_400 - 8 * 3600,
    )
    .await;
    let by_email = op
        .backchannel(&[
            ("scope", "openid"),
            ("login_hint", "alice@example.com"),
            (
                "request_context",
                r#"{"login_hint_type":"email","channel":"email"}"#,
            ),
        ])
        .await;
    assert_eq!(by_email.status(), 200);
}

#[tokio::test]
async fn asking_for_new_codes_buys_no_extra_guesses() {
    let op = Op::start_limited(Limits {
        wrong_codes_per_user: Rule::new("wrong-codes-user", 7, 3600),
        ..Limits::default()
    })
    .await;
    let client = op.client_token().await;
    let email = "alice@example.com";
    let wrong_for = |code: &str| if code == "000000" { "111111" } else { "000000" }.to_owned();

    let first = op.send_code(&client, email).await;
    for _ in 0..5 {
        let refused = op.authenticate(&client, email, &wrong_for(&first)).await;
        assert_eq!(error_of(refused).await, "invalid_grant");
    }
    let second = op.send_code(&client, email).await;
    for _ in 0..2 {
        let refused = op.authenticate(&client, email, &wrong_for(&second)).await;
        assert_eq!(error_of(refused).await, "invalid_grant");
    }
    // Seven wrong guesses in the hour: even the right code waits for the window to end.
    assert_limited(op.authenticate(&client, email, &second).await, 3600).await;
    // Other customers can still sign in.
    let bob = op.send_code(&client, "bob@example.com").await;
    assert_eq!(
        op.authenticate(&client, "bob@example.com", &bob)
            .await
            .status(),
        200
    );
    op.advance(3600);
    let client = op.client_token().await; // the first one lived an hour
    let third = op.send_code(&client, email).await;
    assert_eq!(op.authenticate(&client, email, &third).await.status(), 200);
}

#[tokio::test]
async fn codes_sent_to_one_customer_are_capped() {
    let op = Op::start().await;
    let client = op.client_token().await;
    for _ in 0..5 {
        op.send_code(&client, "alice@example.com").await;
    }
    let refused = op
        .post_json(
            "/cis/v1/auth/otp/send",
            &client,
            &json!({"channel": "email", "identifier_type": "email", "identifier": "alice@example.com"}),
        )
        .await;
    assert_limited(refused, 900).await;
}

/// A client-credentials token request authenticated with `secret`.
fn token_with(secret: &str) -> [(&str, &str); 3] {
    [
        ("client_id", CLIENT.0),
        ("client_secret", secret),
        ("grant_type", "client_credentials"),
    ]
}

#[tokio::test]
async fn an_address_guessing_client_secrets_is_shut_out() {
    let op = Op::start_limited(Limits {
        client_failures_per_ip: Rule::new("client-failures-ip", 3, 300),
        ..Limits::default()
    })
    .await;
    // Right secrets are never counted.
    for _ in 0..5 {
        let ok = op.post_form("/oidc/token", &token_with(CLIENT.1)).await;
        assert_eq!(ok.status(), 200);
    }
    for _ in 0..3 {
        let refused = op.post_form("/oidc/token", &token_with("guess")).await;
        assert_eq!(error_of(refused).await, "invalid_client");
    }
    // From now on even the right secret waits, on every endpoint that authenticates clients.
    assert_limited(
        op.post_form("/oidc/token", &token_with(CLIENT.1)).await,
        300,
    )
    .await;
    assert_limited(op.backchannel(&start_sms("+15555550101")).await, 300).await;
    op.advance(300);
    assert_eq!(
        op.post_form("/oidc/token", &token_with(CLIENT.1))
            .await
            .status(),
        200
    );
}

/// A cluster of BFFs behind one gateway polls for hundreds of flows at once from one address:
/// right secrets in parallel, far more than the failure limit allows, are all answered, and
/// the address can still be shut out by wrong ones.
#[tokio::test]
async fn parallel_right_secrets_from_one_address_are_never_refused() {
    let op = Op::start_limited(Limits {
        client_failures_per_ip: Rule::new("client-failures-ip", 3, 300),
        ..Limits::default()
    })
    .await;
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let request = op
            .http
            .post(format!("{}/oidc/token", op.url))
            .form(&token_with(CLIENT.1));
        requests.spawn(async move { request.send().await.unwrap().status() });
    }
    let statuses = requests.join_all().await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    for _ in 0..3 {
        let refused = op.post_form("/oidc/token", &token_with("guess")).await;
        assert_eq!(error_of(refused).await, "invalid_client");
    }
    assert_limited(
        op.post_form("/oidc/token", &token_with(CLIENT.1)).await,
        300,
    )
    .await;
}

/// On a dual-stack listener every IPv4 client arrives as `::ffff:a.b.c.d`. Bad client secrets
/// from one of them shut out that host only: not its neighbour, and not the BFF on loopback.
/// The proxy's `X-Forwarded-For` sets the address the provider sees.
#[tokio::test]
async fn case_31_bad_secrets_from_one_ipv4_host_refuse_no_other_host() {
    let op = Op::start_behind_proxy(Limits {
        client_failures_per_ip: Rule::new("client-failures-ip", 3, 300),
        ..Limits::default()
    })
    .await;
    let token_from = |from: &'static str, secret: &'static str| {
        op.http
            .post(format!("{}/oidc/token", op.url))
            .header("x-forwarded-for", from)
            .form(&[
                ("client_id", CLIENT.0),
                ("client_secret", secret),
                ("grant_type", "client_credentials"),
            ])
            .send()
    };
    for _ in 0..3 {
        let refused = token_from("::ffff:192.0.2.7", "guess").await.unwrap();
        assert_eq!(error_of(refused).await, "invalid_client");
    }
    assert_limited(token_from("::ffff:192.0.2.7", CLIENT.1).await.unwrap(), 300).await;
    // The same host written as plain IPv4 is the same host.
    assert_limited(token_from("192.0.2.7", CLIENT.1).await.unwrap(), 300).await;
    for other in ["::ffff:192.0.2.8", "::ffff:127.0.0.1", "127.0.0.1"] {
        let ok = token_from(other, CLIENT.1).await.unwrap();
        assert_eq!(ok.status(), 200, "{other} was refused");
    }
}

/// Sends a code to `email` bound to `binding` and returns it and the message's text.
async fn send_bound(op: &Op, client: &str, email: &str, binding: &str) -> (String, String) {
    let response = op
        .post_json(
            "/cis/v1/auth/otp/send",
            client,
            &json!({
                "channel": "email", "identifier_type": "email", "identifier": email,
                "binding": binding, "purpose": "your call with Demo Bank",
            }),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let newest = &op.outbox().await[0];
    assert_eq!(newest["to"], email);
    let body = newest["body"].as_str().unwrap().to_owned();
    let code = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 6)
        .unwrap()
        .to_owned();
    (code, body)
}

async fn authenticate_bound(
    op: &Op,
    client: &str,
    email: &str,
    code: &str,
    binding: Option<&str>,
) -> Response {
    let mut body = json!({"identifier_type": "email", "identifier": email, "passcode": code});
    if let Some(binding) = binding {
        body["binding"] = json!(binding);
    }
    op.post_json("/cis/v1/auth/otp/authenticate", client, &body)
        .await
}

#[tokio::test]
async fn case_30_wrong_codes_from_a_stranger_do_not_lock_the_customer_out() {
    let op = Op::start().await;
    let client = op.client_token().await;
    let email = "alice@example.com";
    let stranger = "stranger-session-binding-0001";
    let wrong_for = |code: &str| if code == "000000" { "111111" } else { "000000" }.to_owned();

    // A stranger spends the customer's whole allowance of wrong codes (ten an hour) on codes
    // sent for their own session, and more.
    let (code, _) = send_bound(&op, &client, email, stranger).await;
    for _ in 0..5 {
        let wrong = wrong_for(&code);
        let refused = authenticate_bound(&op, &client, email, &wrong, Some(stranger)).await;
        assert_eq!(error_of(refused).await, "invalid_grant");
    }
    let (code, _) = send_bound(&op, &client, email, stranger).await;
    for _ in 0..5 {
        let wrong = wrong_for(&code);
        let refused = authenticate_bound(&op, &client, email, &wrong, Some(stranger)).await;
        assert_eq!(error_of(refused).await, "invalid_grant");
    }
    // Past the cap, a code that was guessed at is refused, even right.
    let (code, _) = send_bound(&op, &client, email, stranger).await;
    let first = authenticate_bound(&op, &client, email, &wrong_for(&code), Some(stranger)).await;
    assert_eq!(error_of(first).await, "invalid_grant");
    assert_limited(
        authenticate_bound(&op, &client, email, &code, Some(stranger)).await,
        3600,
    )
    .await;

    // The customer, from their own session, with a fresh code: signed in.
    let own = "customer-own-session-binding-01";
    let (code, body) = send_bound(&op, &client, email, own).await;
    assert!(body.contains("for your call with Demo Bank"), "{body}");
    let signed_in = authenticate_bound(&op, &client, email, &code, Some(own)).await;
    assert_eq!(
        signed_in.status(),
        200,
        "{}",
        signed_in.text().await.unwrap()
    );
}

#[tokio::test]
async fn case_16_a_bound_code_works_only_for_its_binding() {
    let op = Op::start().await;
    let client = op.client_token().await;
    let email = "alice@example.com";
    let (x, y) = (
        "request-x-session-binding-01",
        "request-y-session-binding-01",
    );

    let (code_x, _) = send_bound(&op, &client, email, x).await;
    // A code asked for another binding does not retire X's code.
    let (code_y, _) = send_bound(&op, &client, email, y).await;
    if code_x != code_y {
        // X's code entered for Y, or with no binding, is refused and costs X nothing.
        for binding in [Some(y), None] {
            let refused = authenticate_bound(&op, &client, email, &code_x, binding).await;
            assert_eq!(error_of(refused).await, "invalid_grant", "{binding:?}");
        }
    }
    assert_eq!(
        authenticate_bound(&op, &client, email, &code_x, Some(x))
            .await
            .status(),
        200
    );
    // Used once.
    let again = authenticate_bound(&op, &client, email, &code_x, Some(x)).await;
    assert_eq!(error_of(again).await, "invalid_grant");
    // Malformed bindings and purposes are refused, and nothing is sent.
    let sent = op.outbox().await.len();
    for extra in [
        json!({"binding": "short"}),
        json!({"binding": "has space in it, not allowed here"}),
        json!({"binding": "request-x-session-binding-01", "purpose": "see https://evil.example"}),
        json!({"binding": "request-x-session-binding-01", "purpose": "<b>x</b>"}),
    ] {
        let mut body = json!({"channel": "email", "identifier_type": "email", "identifier": email});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let refused = op.post_json("/cis/v1/auth/otp/send", &client, &body).await;
        assert_eq!(error_of(refused).await, "invalid_request", "{body}");
    }
    assert_eq!(op.outbox().await.len(), sent);
}
