//! The CIBA flow over HTTP, and the adversarial cases of SECURITY.md that concern the provider.

use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

use std::time::Duration;

use provider::sender::SEND_DEADLINE;

use crate::kit::{CLIENT, FailingSender, HangingSender, OTHER_CLIENT, Op, error_of};

#[tokio::test]
async fn the_whole_flow_sms_link_code_approval_tokens() {
    let op = Op::start().await;
    let response = op
        .backchannel(&[
            ("scope", "openid email offline_access"),
            ("login_hint", "+15555550101"),
            ("binding_message", "K7-42"),
        ])
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let auth_req_id = body["auth_req_id"].as_str().unwrap().to_owned();
    assert!(auth_req_id.len() >= 27, "at least 160 bits");
    assert!(
        auth_req_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    assert!(
        body.get("link").is_none(),
        "the link is only returned for channel=link"
    );

    // The SMS went to alice's verified phone, with the client's login_uri link.
    let sms = &op.outbox().await[0];
    assert_eq!(sms["channel"], "sms");
    assert_eq!(sms["to"], "+15555550101");
    let link = sms["link"].as_str().unwrap();
    assert_eq!(
        link,
        format!("http://127.0.0.1:3000/approve?auth_req_id={auth_req_id}&binding_message=K7-42")
    );
    assert!(
        sms["body"]
            .as_str()
            .unwrap()
            .contains("To verify it's you, click this link:")
    );
    assert!(sms["body"].as_str().unwrap().contains(link));

    assert_eq!(op.poll_error(&auth_req_id).await, "authorization_pending");

    let token = op.customer_token("alice@example.com").await;
    let decided = op.complete(&token, &auth_req_id, true).await;
    assert_eq!(decided.status(), 200);

    op.advance(5);
    let response = op.poll(&auth_req_id).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid email offline_access");
    assert!(tokens["refresh_token"].is_string());

    // The ID token verifies against the published keys and names alice.
    let id_token = tokens["id_token"].as_str().unwrap();
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", op.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = decode_header(id_token).unwrap().kid.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["agent-console"]);
    validation.set_issuer(&[op.url.as_str()]);
    // The provider's clock is in 2027; check the signature and claims, not today's date.
    validation.validate_exp = false;
    let claims = decode::<Value>(id_token, &key, &validation).unwrap().claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["amr"], json!(["otp", "email"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["auth_time"].is_i64());
    assert!(claims["acr"].is_string());

    // Case 3: redeemed at most once.
    op.advance(5);
    assert_eq!(op.poll_error(&auth_req_id).await, "invalid_grant");
}

#[tokio::test]
async fn case_1_other_clients_mutated_and_random_ids_are_invalid_grant() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    assert_eq!(
        error_of(op.poll_as(OTHER_CLIENT, &id).await).await,
        "invalid_grant"
    );
    let mut mutated = id.clone().into_bytes();
    mutated[0] = if mutated[0] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        op.poll_error(&String::from_utf8(mutated).unwrap()).await,
        "invalid_grant"
    );
    assert_eq!(
        op.poll_error("random-id-that-was-never-issued").await,
        "invalid_grant"
    );
    // The rightful client is unaffected.
    assert_eq!(op.poll_error(&id).await, "authorization_pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_2_concurrent_polls_after_approval_issue_tokens_once() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let token = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&token, &id, true).await.status(), 200);
    let polls: Vec<_> = (0..6)
        .map(|_| {
            let (http, url, id) = (op.http.clone(), op.url.clone(), id.clone());
            tokio::spawn(async move {
                let form = [
                    ("client_id", CLIENT.0),
                    ("client_secret", CLIENT.1),
                    ("grant_type", "urn:openid:params:grant-type:ciba"),
                    ("auth_req_id", id.as_str()),
                ];
                error_of(
                    http.post(format!("{url}/oidc/token"))
                        .form(&form)
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for poll in polls {
        outcomes.push(poll.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "tokens").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o == "tokens" || o == "invalid_grant"),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_racing_polls_still_lands() {
    // Polls and the decision race: the decision must land rather than answer "already
    // decided" while the request is still pending, and the tokens come once.
    for _round in 0..5 {
        let op = Op::start().await;
        let id = op.start_for_alice().await;
        let token = op.customer_token("alice@example.com").await;
        let polls: Vec<_> = (0..8)
            .map(|_| {
                let (http, url, id) = (op.http.clone(), op.url.clone(), id.clone());
                tokio::spawn(async move {
                    let form = [
                        ("client_id", CLIENT.0),
                        ("client_secret", CLIENT.1),
                        ("grant_type", "urn:openid:params:grant-type:ciba"),
                        ("auth_req_id", id.as_str()),
                    ];
                    http.post(format!("{url}/oidc/token"))
                        .form(&form)
                        .send()
                        .await
                        .unwrap()
                        .status()
                })
            })
            .collect();
        let decided = op.complete(&token, &id, true).await;
        assert_eq!(decided.status(), 200);
        let mut issued = 0;
        for poll in polls {
            issued += usize::from(poll.await.unwrap() == 200);
        }
        // A poll that ran after the decision may have redeemed it already; if none did, the
        // next one does. Either way the tokens come exactly once.
        op.advance(60);
        issued += usize::from(op.poll(&id).await.status() == 200);
        assert_eq!(issued, 1);
    }
}

#[tokio::test]
async fn case_4_polling_too_fast_slows_down_by_five_seconds() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    assert_eq!(op.poll_error(&id).await, "authorization_pending");
    let response = op.poll(&id).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("10 seconds")
    );
    op.advance(9);
    assert_eq!(
        op.poll_error(&id).await,
        "slow_down",
        "9 s is under the new 10 s interval"
    );
    op.advance(15);
    assert_eq!(op.poll_error(&id).await, "authorization_pending");
}

/// Polls of a pending request are most of the token endpoint's traffic: they are paced in
/// memory and write nothing, so the stored request is as it was when it started.
#[tokio::test]
async fn polls_of_a_pending_request_write_nothing() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let hash = op
        .hash_key()
        .hash(provider::crypto::Purpose::AuthReqId, &id);
    let store = op.store().await;
    let before = store.backchannel(&hash).await.unwrap().unwrap();
    for seconds in [0, 1, 30] {
        op.advance(seconds);
        let error = op.poll_error(&id).await;
        assert!(
            ["authorization_pending", "slow_down"].contains(&error.as_str()),
            "{error}"
        );
    }
    let after = store.backchannel(&hash).await.unwrap().unwrap();
    assert_eq!(after.version, before.version);
    assert_eq!(after.last_poll_at, None);
    assert_eq!(after.status, "pending");
}

#[tokio::test]
async fn case_5_expiry_refuses_polls_and_approvals() {
    let op = Op::start().await;
    let response = op
        .backchannel(&[
            ("scope", "openid"),
            ("login_hint", "alice"),
            ("requested_expiry", "60"),
            (
                "request_context",
                r#"{"channel": "link", "login_hint_type": "user_id"}"#,
            ),
        ])
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let id = body["auth_req_id"].as_str().unwrap().to_owned();
    assert!(
        body["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("auth_req_id={id}"))
    );
    let token = op.customer_token("alice@example.com").await;
    op.advance(60);
    assert_eq!(op.poll_error(&id).await, "expired_token");
    let refused = op.complete(&token, &id, true).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_of(refused).await, "expired_token");
    assert_eq!(op.poll_error(&id).await, "expired_token");
}

#[tokio::test]
async fn case_6_denial_stops_polling_with_access_denied() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let token = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&token, &id, false).await.status(), 200);
    assert_eq!(op.poll_error(&id).await, "access_denied");
}

#[tokio::test]
async fn case_7_another_customer_cannot_decide() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let bob = op.customer_token("bob@example.com").await;
    let refused = op.complete(&bob, &id, true).await;
    // CIBA Core §13: access_denied is a 403 on the provider's own endpoints.
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["error_code"], 403);
    assert_eq!(
        op.poll_error(&id).await,
        "authorization_pending",
        "nothing changed"
    );
    // Client tokens and no tokens are refused too.
    let client = op.client_token().await;
    assert_eq!(op.complete(&client, &id, true).await.status(), 403);
    assert_eq!(op.complete("not-a-token", &id, true).await.status(), 401);
    // And one decision only.
    let alice = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&alice, &id, true).await.status(), 200);
    let again = op.complete(&alice, &id, false).await;
    assert_eq!(again.status(), 409);
    op.advance(5);
    assert_eq!(op.poll_error(&id).await, "tokens");
}

#[tokio::test]
async fn case_8_an_account_disabled_before_redemption_gets_no_tokens() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let token = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&token, &id, true).await.status(), 200);
    assert!(
        op.store()
            .await
            .set_user_active("alice", false)
            .await
            .unwrap()
    );
    assert_eq!(op.poll_error(&id).await, "access_denied");
    op.advance(5);
    assert_eq!(op.poll_error(&id).await, "access_denied");
    // A disabled account cannot be asked either, and looks like an unknown one.
    let disabled = op
        .backchannel(&[("scope", "openid"), ("login_hint", "+15555550101")])
        .await;
    let unknown = op
        .backchannel(&[("scope", "openid"), ("login_hint", "+15555550177")])
        .await;
    assert_eq!(disabled.status(), 400);
    assert_eq!(
        disabled.text().await.unwrap(),
        unknown.text().await.unwrap()
    );
}

#[tokio::test]
async fn case_9_hints_missing_doubled_malformed_or_unknown() {
    let op = Op::start().await;
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("scope", "openid")], "invalid_request"),
        (
            &[
                ("scope", "openid"),
                ("login_hint", "+15555550101"),
                ("login_hint", "+15555550102"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("scope", "openid"),
                ("login_hint", "+15555550101"),
                ("id_token_hint", "eyJ"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("scope", "openid"),
                ("login_hint", "not-an-email"),
                ("request_context", r#"{"login_hint_type":"email"}"#),
            ],
            "invalid_request",
        ),
        (
            &[("scope", "openid"), ("login_hint", "555-0101")],
            "invalid_request",
        ),
        (
            &[
                ("scope", "openid"),
                ("login_hint", "nobody@example.com"),
                ("request_context", r#"{"login_hint_type":"email"}"#),
            ],
            "unknown_user_id",
        ),
    ];
    for (params, expected) in cases {
        let response = op.backchannel(params).await;
        assert_eq!(response.status(), 400, "{params:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], expected, "{params:?}");
        // Mosaic's shape rides along.
        assert_eq!(body["error_code"], 400);
        assert_eq!(body["message"][0], body["error_description"]);
    }
    // Customers of another application are unknown here.
    let other = op
        .backchannel(&[("scope", "openid"), ("login_hint", "+15555550199")])
        .await;
    assert_eq!(error_of(other).await, "unknown_user_id");
    // Carol's phone is not verified: SMS is refused, email works.
    let sms = op
        .backchannel(&[
            ("scope", "openid"),
            ("login_hint", "carol"),
            ("request_context", r#"{"login_hint_type":"user_id"}"#),
        ])
        .await;
    assert_eq!(error_of(sms).await, "invalid_request");
    let email = op
        .backchannel(&[
            ("scope", "openid"),
            ("login_hint", "carol"),
            (
                "request_context",
                r#"{"login_hint_type":"user_id","channel":"email"}"#,
            ),
        ])
        .await;
    assert_eq!(email.status(), 200);
    assert_eq!(op.outbox().await[0]["to"], "carol@example.com");
    assert_eq!(
        op.store().await.backchannel_count().await.unwrap(),
        1,
        "refusals leave nothing behind"
    );
}

#[tokio::test]
async fn case_10_to_12_binding_message_expiry_and_scope() {
    let op = Op::start().await;
    for bad in [
        "line\r\nbreak",
        "<b>x</b>",
        "\u{202E}abc",
        "zero\u{200B}w",
        "😀",
        "",
        "abcdefghijklmnopqrstu",
    ] {
        let response = op
            .backchannel(&[
                ("scope", "openid"),
                ("login_hint", "+15555550101"),
                ("binding_message", bad),
            ])
            .await;
        assert_eq!(
            error_of(response).await,
            "invalid_binding_message",
            "{bad:?}"
        );
    }
    for (value, expected) in [
        ("120", Some(120)),
        ("99999999", Some(3600)),
        ("0", None),
        ("-5", None),
        ("ten", None),
    ] {
        let response = op
            .backchannel(&[
                ("scope", "openid"),
                ("login_hint", "+15555550101"),
                ("requested_expiry", value),
            ])
            .await;
        match expected {
            Some(seconds) => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["expires_in"], seconds, "{value}");
            }
            None => assert_eq!(error_of(response).await, "invalid_request", "{value}"),
        }
    }
    for scope in ["email", "openid profile", ""] {
        let response = op
            .backchannel(&[("scope", scope), ("login_hint", "+15555550101")])
            .await;
        assert_eq!(error_of(response).await, "invalid_scope", "{scope:?}");
    }
    let response = op
        .backchannel(&[
            ("scope", "openid"),
            ("login_hint", "+15555550101"),
            (
                "request_context",
                r#"{"custom_message": "Go to https://evil.example now"}"#,
            ),
        ])
        .await;
    assert_eq!(error_of(response).await, "invalid_request");
}

#[tokio::test]
async fn case_13_client_authentication() {
    let op = Op::start().await;
    let params = [("scope", "openid"), ("login_hint", "+15555550101")];
    for client in [
        ("agent-console", "wrong"),
        ("nobody", "demo-console-secret"),
        ("", ""),
    ] {
        let response = op.backchannel_as(client, &params).await;
        assert_eq!(response.status(), 401, "{client:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        assert_eq!(error_of(response).await, "invalid_client");
    }
    let missing = op.post_form("/cis/oidc/backchannel", &params).await;
    assert_eq!(missing.status(), 401);
    // client_secret_basic works too, and mixing both ways is refused.
    let basic = op
        .http
        .post(format!("{}/cis/oidc/backchannel", op.url))
        .basic_auth(CLIENT.0, Some(CLIENT.1))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let both = op
        .http
        .post(format!("{}/oidc/token", op.url))
        .basic_auth(CLIENT.0, Some(CLIENT.1))
        .form(&[
            ("client_id", CLIENT.0),
            ("client_secret", CLIENT.1),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(both).await, "invalid_request");
    let unsupported = op
        .post_form(
            "/cis/oidc/token",
            &[
                ("client_id", CLIENT.0),
                ("client_secret", CLIENT.1),
                ("grant_type", "password"),
            ],
        )
        .await;
    assert_eq!(error_of(unsupported).await, "unsupported_grant_type");
}

#[tokio::test]
async fn case_16_one_time_codes_brute_force_reuse_replacement_and_staleness() {
    let op = Op::start().await;
    let client = op.client_token().await;
    let email = "alice@example.com";

    // Five wrong attempts lock the code, even against the right one afterwards.
    let code = op.send_code(&client, email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(
            error_of(op.authenticate(&client, email, wrong).await).await,
            "invalid_grant"
        );
    }
    assert_eq!(
        error_of(op.authenticate(&client, email, &code).await).await,
        "invalid_grant"
    );

    // A new code replaces the old one; the right code works once.
    let first = op.send_code(&client, email).await;
    let second = op.send_code(&client, email).await;
    if first != second {
        assert_eq!(
            error_of(op.authenticate(&client, email, &first).await).await,
            "invalid_grant"
        );
    }
    assert_eq!(op.authenticate(&client, email, &second).await.status(), 200);
    assert_eq!(
        error_of(op.authenticate(&client, email, &second).await).await,
        "invalid_grant"
    );

    // Another user's code does not work for this one.
    let bobs = op.send_code(&client, "bob@example.com").await;
    let _ = op.send_code(&client, email).await;
    let alices = op.outbox().await[0]["body"].as_str().unwrap().to_owned();
    if !alices.contains(&bobs) {
        assert_eq!(
            error_of(op.authenticate(&client, email, &bobs).await).await,
            "invalid_grant"
        );
    }

    // Stale after ten minutes. (Five codes were sent: the next window allows more.)
    op.advance(900);
    let stale = op.send_code(&client, email).await;
    op.advance(600);
    assert_eq!(
        error_of(op.authenticate(&client, email, &stale).await).await,
        "invalid_grant"
    );

    // Codes need a client token, not a user's.
    let fresh = op.send_code(&client, email).await;
    let user_token = {
        let response = op.authenticate(&client, email, &fresh).await;
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let refused = op
        .post_json(
            "/cis/v1/auth/otp/send",
            &user_token,
            &json!({"channel": "sms", "identifier_type": "email", "identifier": email}),
        )
        .await;
    assert_eq!(refused.status(), 403);
    // No code or token appears in anything but the message itself.
    assert!(
        !op.outbox()
            .await
            .iter()
            .any(|m| m["body"].as_str().unwrap().contains(&user_token))
    );
}

#[tokio::test]
async fn case_17_reading_never_changes_a_request() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    for path in [
        "/cis/auth/backchannel/complete",
        "/oidc/token",
        "/cis/oidc/backchannel",
    ] {
        let get = op
            .http
            .get(format!("{}{path}?auth_req_id={id}&approved=true", op.url))
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 405, "{path}");
        let head = op
            .http
            .head(format!("{}{path}?auth_req_id={id}", op.url))
            .send()
            .await
            .unwrap();
        assert!(head.status().is_client_error(), "{path}");
    }
    assert_eq!(op.poll_error(&id).await, "authorization_pending");
}

#[tokio::test]
async fn case_23_a_failed_delivery_leaves_no_request_behind() {
    let op = Op::start_with(Some(std::sync::Arc::new(FailingSender))).await;
    let response = op
        .backchannel(&[("scope", "openid"), ("login_hint", "+15555550101")])
        .await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "delivery_failed");
    assert!(body["auth_req_id"].is_null());
    assert_eq!(op.store().await.backchannel_count().await.unwrap(), 0);
    // The link channel needs no delivery and still works.
    let link = op
        .backchannel(&[
            ("scope", "openid"),
            ("login_hint", "+15555550101"),
            ("request_context", r#"{"channel":"link"}"#),
        ])
        .await;
    assert_eq!(link.status(), 200);
}

/// How long these tests let the provider wait for a message: the real
/// [`SEND_DEADLINE`] (8 s) is checked on tokio's paused clock in the sender's unit tests; a
/// whole provider cannot run on that clock (its store's pool has timers of its own).
const TEST_DEADLINE: Duration = Duration::from_millis(300);

/// The SMS gateway accepts the message and never answers. The provider answers
/// `delivery_failed` at its deadline, and the request whose link may yet reach the customer
/// is gone: no pending request, its poll is `invalid_grant`, its completion is refused.
#[tokio::test]
async fn case_23_a_hanging_sender_ends_the_request_at_the_deadline() {
    assert!(TEST_DEADLINE < SEND_DEADLINE);
    let sender = HangingSender::on("sms");
    let op = Op::start_sending_within(sender.clone(), TEST_DEADLINE).await;
    let started = std::time::Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(30),
        op.backchannel(&[("scope", "openid"), ("login_hint", "+15555550101")]),
    )
    .await
    .expect("the provider answers within its deadline");
    let waited = started.elapsed();
    assert!(waited >= TEST_DEADLINE, "answered after {waited:?}");
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "delivery_failed", "{body}");
    assert!(body["auth_req_id"].is_null());
    assert_eq!(op.store().await.backchannel_count().await.unwrap(), 0);

    // The message was handed to the gateway, which may still deliver it: its link is dead.
    let sms = sender.given("sms");
    assert_eq!(sms.len(), 1);
    let link = reqwest::Url::parse(sms[0].link.as_deref().unwrap()).unwrap();
    let auth_req_id = link
        .query_pairs()
        .find(|(name, _)| name == "auth_req_id")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(op.poll_error(&auth_req_id).await, "invalid_grant");
    // Alice signs in (her code comes by email, which works) and tries to approve it.
    let client_token = op.client_token().await;
    let sent = op
        .post_json(
            "/cis/v1/auth/otp/send",
            &client_token,
            &json!({"channel": "email", "identifier_type": "email", "identifier": "alice@example.com"}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    let email = sender.given("email").pop().unwrap();
    let code: String = email
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 6)
        .unwrap()
        .to_owned();
    let signed_in = op
        .authenticate(&client_token, "alice@example.com", &code)
        .await;
    assert_eq!(signed_in.status(), 200);
    let token: Value = signed_in.json().await.unwrap();
    let completed = op
        .complete(token["access_token"].as_str().unwrap(), &auth_req_id, true)
        .await;
    assert_eq!(completed.status(), 404);
    assert_eq!(op.poll_error(&auth_req_id).await, "invalid_grant");
}

/// The client gives up before the provider's deadline (a BFF with a shorter timeout than the
/// provider's bound): the send and its undoing go on without it, and no request is left.
#[tokio::test]
async fn case_23_a_client_that_hangs_up_leaves_no_request_behind() {
    let sender = HangingSender::on("sms");
    let op = Op::start_sending_within(sender.clone(), TEST_DEADLINE).await;
    let impatient = reqwest::Client::builder()
        .timeout(TEST_DEADLINE / 4)
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}/cis/oidc/backchannel", op.url))
        .form(&[
            ("client_id", CLIENT.0),
            ("client_secret", CLIENT.1),
            ("scope", "openid"),
            ("login_hint", "+15555550101"),
        ])
        .send()
        .await;
    assert!(gave_up.unwrap_err().is_timeout());
    assert_eq!(sender.given("sms").len(), 1, "the message was handed over");
    let store = op.store().await;
    for _ in 0..50 {
        if store.backchannel_count().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(TEST_DEADLINE / 4).await;
    }
    assert_eq!(
        store.backchannel_count().await.unwrap(),
        0,
        "a request was left"
    );
}

/// A request that took too long before its message (a slow store, a busy provider) sends
/// nothing and keeps nothing, so the provider never answers past its bound with a live link.
#[tokio::test]
async fn case_23_a_request_past_its_start_budget_sends_and_keeps_nothing() {
    let sender = HangingSender::on("none");
    let op = Op::start_with_budget(sender.clone(), Duration::ZERO).await;
    let response = op
        .backchannel(&[("scope", "openid"), ("login_hint", "+15555550101")])
        .await;
    assert_eq!(error_of(response).await, "delivery_failed");
    assert!(sender.given("sms").is_empty(), "nothing was sent");
    assert_eq!(op.store().await.backchannel_count().await.unwrap(), 0);
    // The link channel sends nothing and is not held to the budget.
    let link = op
        .backchannel(&[
            ("scope", "openid"),
            ("login_hint", "+15555550101"),
            ("request_context", r#"{"channel":"link"}"#),
        ])
        .await;
    assert_eq!(link.status(), 200);
}

/// A code whose email hangs is refused at the same deadline, and is not usable.
#[tokio::test]
async fn case_23_a_hanging_code_sender_fails_at_the_deadline() {
    let sender = HangingSender::on("email");
    let op = Op::start_sending_within(sender.clone(), TEST_DEADLINE).await;
    let client_token = op.client_token().await;
    let sent = tokio::time::timeout(
        Duration::from_secs(30),
        op.post_json(
            "/cis/v1/auth/otp/send",
            &client_token,
            &json!({"channel": "email", "identifier_type": "email", "identifier": "alice@example.com"}),
        ),
    )
    .await
    .expect("the provider answers within its deadline");
    assert_eq!(sent.status(), 502);
    let email = sender.given("email").pop().unwrap();
    let code: String = email
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 6)
        .unwrap()
        .to_owned();
    let refused = op
        .authenticate(&client_token, "alice@example.com", &code)
        .await;
    assert_ne!(refused.status(), 200);
}

#[tokio::test]
async fn ciba_settings_through_the_management_api() {
    let op = Op::start().await;
    let token = op.client_token().await;
    let path = "/cis/v1/applications/demo-bank/clients/agent-console";
    let off = op
        .http
        .put(format!("{}{path}", op.url))
        .bearer_auth(&token)
        .json(&json!({"ciba_authorization": {"enabled": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let refused = op
        .backchannel(&[("scope", "openid"), ("login_hint", "+15555550101")])
        .await;
    assert_eq!(error_of(refused).await, "unauthorized_client");

    let on = op
        .http
        .put(format!("{}{path}", op.url))
        .bearer_auth(&token)
        .json(&json!({"ciba_authorization": {"enabled": true, "login_uri": "https://bank.example/approve"}}))
        .send()
        .await
        .unwrap();
    let body: Value = on.json().await.unwrap();
    assert_eq!(
        body["result"]["ciba_authorization"],
        json!({
            "enabled": true,
            "login_uri": "https://bank.example/approve",
            "backchannel_token_delivery_mode": "poll",
            "backchannel_client_notification_endpoint": null,
        })
    );
    let read: Value = op
        .http
        .get(format!("{}{path}", op.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, body);
    let link = op
        .backchannel(&[
            ("scope", "openid"),
            ("login_hint", "+15555550101"),
            ("request_context", r#"{"channel":"link"}"#),
        ])
        .await;
    let link: Value = link.json().await.unwrap();
    assert!(
        link["link"]
            .as_str()
            .unwrap()
            .starts_with("https://bank.example/approve?auth_req_id=")
    );

    // Another application's token may not touch this client; bad URLs are refused.
    let other = op.client_token_of(OTHER_CLIENT).await;
    let forbidden = op
        .http
        .get(format!("{}{path}", op.url))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let bad = op
        .http
        .put(format!("{}{path}", op.url))
        .bearer_auth(&token)
        .json(&json!({"ciba_authorization": {"enabled": true, "login_uri": "javascript:alert(1)"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn discovery_names_the_ciba_endpoints() {
    let op = Op::start().await;
    let config: Value = reqwest::get(format!("{}/.well-known/openid-configuration", op.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["issuer"], op.url.as_str());
    assert_eq!(
        config["backchannel_authentication_endpoint"],
        format!("{}/cis/oidc/backchannel", op.url)
    );
    assert_eq!(
        config["backchannel_token_delivery_modes_supported"],
        json!(["poll", "ping"])
    );
    assert_eq!(config["backchannel_user_code_parameter_supported"], false);
    assert!(
        config["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:openid:params:grant-type:ciba"))
    );
    let jwks: Value = reqwest::get(config["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs: Vec<_> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        algs.contains(&"RS256".to_owned()) && algs.contains(&"ES256".to_owned()),
        "{algs:?}"
    );
}

#[tokio::test]
async fn userinfo_follows_scopes_and_revocation_ends_the_grant() {
    let op = Op::start().await;
    let response = op
        .backchannel(&[
            ("scope", "openid phone offline_access"),
            ("login_hint", "+15555550101"),
            ("request_context", r#"{"channel":"link"}"#),
        ])
        .await;
    let id = response.json::<Value>().await.unwrap()["auth_req_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let customer = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&customer, &id, true).await.status(), 200);
    let tokens: Value = op.poll(&id).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let userinfo = |token: String| {
        let (http, url) = (op.http.clone(), op.url.clone());
        async move {
            http.get(format!("{url}/userinfo"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let claims: Value = userinfo(access.to_owned()).await.json().await.unwrap();
    assert_eq!(
        claims,
        json!({"sub": "alice", "name": "Alice Anders", "phone_number": "+15555550101", "phone_number_verified": true})
    );
    assert_eq!(
        userinfo(op.client_token().await).await.status(),
        401,
        "client tokens speak for no user"
    );

    // Another client cannot revoke it; the owner revokes the whole grant with the refresh token.
    let revoke = |client: (&'static str, &'static str), token: String| {
        let (http, url) = (op.http.clone(), op.url.clone());
        async move {
            http.post(format!("{url}/oidc/token/revocation"))
                .form(&[
                    ("client_id", client.0),
                    ("client_secret", client.1),
                    ("token", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(revoke(OTHER_CLIENT, refresh.to_owned()).await.status(), 200);
    assert_eq!(
        userinfo(access.to_owned()).await.status(),
        200,
        "still valid"
    );
    assert_eq!(revoke(CLIENT, refresh.to_owned()).await.status(), 200);
    assert_eq!(
        userinfo(access.to_owned()).await.status(),
        401,
        "revoked with its grant"
    );
    assert_eq!(
        revoke(CLIENT, "never-issued".to_owned()).await.status(),
        200
    );
    assert_eq!(
        revoke(("agent-console", "wrong"), refresh.to_owned())
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn case_7_only_a_sign_in_made_for_this_request_may_decide_it() {
    let op = Op::start().await;
    let first = op.start_for_alice().await;
    let old_sign_in = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&old_sign_in, &first, true).await.status(), 200);
    let tokens: Value = op.poll(&first).await.json().await.unwrap();
    let redeemed = tokens["access_token"].as_str().unwrap().to_owned();

    op.advance(1);
    let second = op.start_for_alice().await;
    for (token, what) in [
        (&redeemed, "a token the client redeemed"),
        (&old_sign_in, "a sign-in from before"),
    ] {
        let refused = op.complete(token, &second, true).await;
        assert_eq!(refused.status(), 403, "{what}");
        assert_eq!(error_of(refused).await, "access_denied", "{what}");
    }
    assert_eq!(
        op.poll_error(&second).await,
        "authorization_pending",
        "nothing changed"
    );
    let fresh = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&fresh, &second, true).await.status(), 200);
}
