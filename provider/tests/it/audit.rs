//! The audit trail: what happened, in order, for the application only, without secrets.

use serde_json::Value;

use crate::kit::{OTHER_CLIENT, Op};

async fn audit(op: &Op, token: &str, query: &str) -> reqwest::Response {
    op.http
        .get(format!("{}/cis/v1/audit{query}", op.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn events(op: &Op, token: &str, query: &str) -> Vec<Value> {
    let response = audit(op, token, query).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["result"].as_array().unwrap().clone()
}

fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["event"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

#[tokio::test]
async fn a_flow_leaves_an_ordered_trail_without_secrets() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let customer = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&customer, &id, true).await.status(), 200);
    let tokens: Value = op.poll(&id).await.json().await.unwrap();
    let client = op.client_token().await;

    let trail = events(&op, &client, "").await;
    assert_eq!(
        names(&trail),
        [
            "backchannel_redeemed -",
            "backchannel_decided approved",
            "customer_signed_in email",
            "code_sent email",
            "backchannel_started sms",
        ]
    );
    for event in &trail {
        assert_eq!(event["app_id"], "demo-bank");
        assert_eq!(event["client_id"], "agent-console");
        assert_eq!(event["user_id"], "alice");
    }
    // Nothing secret: no auth_req_id, token, code or link.
    let text = serde_json::to_string(&trail).unwrap();
    let code_message = op.outbox().await[0]["body"].as_str().unwrap().to_owned();
    let code: String = code_message.chars().filter(char::is_ascii_digit).collect();
    for secret in [
        id.as_str(),
        customer.as_str(),
        tokens["access_token"].as_str().unwrap(),
        code.as_str(),
        "demo-console-secret",
    ] {
        assert!(!text.contains(secret), "the trail holds a secret");
    }

    // Paging back from an id, newest first.
    let newest_two = events(&op, &client, "?limit=2").await;
    assert_eq!(names(&newest_two), names(&trail[..2]));
    let before = newest_two[1]["id"].as_i64().unwrap();
    let older = events(&op, &client, &format!("?before={before}&limit=10")).await;
    assert_eq!(names(&older), names(&trail[2..]));
}

#[tokio::test]
async fn refusals_are_on_the_trail_too() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let bob = op.customer_token("bob@example.com").await;
    assert_eq!(op.complete(&bob, &id, true).await.status(), 403);
    let client = op.client_token().await;
    let code = op.send_code(&client, "bob@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = op.authenticate(&client, "bob@example.com", wrong).await;
    assert_eq!(refused.status(), 400);
    let trail = names(&events(&op, &client, "").await);
    assert_eq!(trail[0], "code_rejected -");
    assert_eq!(trail[1], "code_sent email");
    assert_eq!(trail[2], "decision_refused another customer's request");
}

#[tokio::test]
async fn each_application_reads_only_its_own_trail() {
    let op = Op::start().await;
    op.start_for_alice().await;
    let other = op.client_token_of(OTHER_CLIENT).await;
    assert!(events(&op, &other, "").await.is_empty());

    let client = op.client_token().await;
    let customer = op.customer_token("alice@example.com").await;
    assert_eq!(audit(&op, &customer, "").await.status(), 403);
    for bad in [
        "?limit=0",
        "?limit=5000",
        "?limit=x",
        "?before=x",
        "?other=1",
    ] {
        assert_eq!(audit(&op, &client, bad).await.status(), 400, "{bad}");
    }
}
