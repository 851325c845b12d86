//! `/metrics` on its own listener: what one approved request, its polls, the customer's code
//! sign-in and a rate-limit refusal leave there, and that no identifier reaches it.

use provider::limits::{Limits, Rule};

use crate::kit::Op;

const PREFIX: &str = "countersign_provider";

fn series(name: &str, labels: &str) -> String {
    format!("{PREFIX}_{name}{{{labels}}}")
}

#[tokio::test]
async fn an_approved_request_is_counted_by_endpoint_answer_channel_and_decision() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    assert_eq!(op.poll_error(&id).await, "authorization_pending");
    assert_eq!(op.poll_error(&id).await, "slow_down");
    let token = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&token, &id, true).await.status(), 200);
    op.advance(10);
    assert_eq!(op.poll_error(&id).await, "tokens");

    let requests = |endpoint: &str, answer: &str| {
        series(
            "http_requests_total",
            &format!(r#"endpoint="{endpoint}",answer="{answer}""#),
        )
    };
    for (series, expected) in [
        (requests("/cis/oidc/backchannel", "ok"), 1.0),
        (requests("/oidc/token", "authorization_pending"), 1.0),
        (requests("/oidc/token", "slow_down"), 1.0),
        // The CIBA tokens, and the client token the code sign-in needs.
        (requests("/oidc/token", "ok"), 2.0),
        (requests("/cis/v1/auth/otp/authenticate", "ok"), 1.0),
        (requests("/cis/auth/backchannel/complete", "ok"), 1.0),
        (
            series("messages_total", r#"channel="sms",result="sent""#),
            1.0,
        ),
        (
            series("messages_total", r#"channel="email",result="sent""#),
            1.0,
        ),
        (series("sign_ins_total", r#"result="signed_in""#), 1.0),
        (series("decisions_total", r#"decision="approved""#), 1.0),
        (
            series("http_request_seconds_count", r#"endpoint="/oidc/token""#),
            4.0,
        ),
    ] {
        assert_eq!(op.metric(&series).await, expected, "{series}");
    }

    // Routes by their pattern, never a client, a customer, a handle or a code.
    let text = op.metrics().await;
    for secret in ["+15555550101", "alice", "agent-console", id.as_str()] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
}

#[tokio::test]
async fn a_rate_limit_refusal_is_counted_under_its_rule() {
    let op = Op::start_limited(Limits {
        backchannel_per_client: Rule::new("backchannel-client", 1, 60),
        ..Limits::default()
    })
    .await;
    op.start_for_alice().await;
    let refused = op
        .backchannel(&[("scope", "openid"), ("login_hint", "+15555550102")])
        .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        op.metric(&series(
            "rate_limit_refusals_total",
            r#"rule="backchannel-client""#
        ))
        .await,
        1.0
    );
    assert_eq!(
        op.metric(&series(
            "http_requests_total",
            r#"endpoint="/cis/oidc/backchannel",answer="rate_limited""#
        ))
        .await,
        1.0
    );
}

#[tokio::test]
async fn the_metrics_listener_serves_nothing_but_metrics() {
    let op = Op::start().await;
    let base = op.metrics_url.trim_end_matches("/metrics");
    let other = op.http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(other.status(), 404);
    // And the provider's own port does not serve the metrics.
    let public = op
        .http
        .get(format!("{}/metrics", op.url))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    // Counted, under one word for every path the provider does not serve.
    assert_eq!(
        op.metric(&series(
            "http_requests_total",
            r#"endpoint="other",answer="error""#
        ))
        .await,
        1.0
    );
}
