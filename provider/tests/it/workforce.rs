//! Workforce sign-in: `/authorize` with PKCE S256, the authorization code grant, and rotating
//! refresh tokens.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use provider::limits::{Limits, Rule};
use reqwest::{Response, redirect::Policy};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::kit::{CLIENT, OTHER_CLIENT, Op, error_of};

const REDIRECT: &str = "http://127.0.0.1:3000/auth/callback";
const VERIFIER: &str = "a-pkce-verifier-that-is-long-enough-0123456789-abcdefghij";
const AGENT: (&str, &str) = ("agent@demo.bank", "agent-demo-password");
const SUPERVISOR: (&str, &str) = ("supervisor@demo.bank", "supervisor-demo-password");

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The parameters of a good authorization request.
fn request(redirect_uri: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", CLIENT.0.into()),
        ("redirect_uri", redirect_uri.into()),
        ("scope", "openid email offline_access".into()),
        ("state", "st<ate>&1".into()),
        ("nonce", "n-0S6_WzA2Mj".into()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

fn with(
    mut params: Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    params.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        params.push((name, value.to_owned()));
    }
    params
}

async fn show(op: &Op, params: &[(&str, String)]) -> Response {
    no_redirects()
        .get(format!(
            "{}/authorize?{}",
            op.url,
            serde_urlencoded::to_string(params).unwrap()
        ))
        .send()
        .await
        .unwrap()
}

async fn submit(op: &Op, params: &[(&str, String)], who: (&str, &str)) -> Response {
    let mut form: Vec<(&str, String)> = params.to_vec();
    form.push(("email", who.0.into()));
    form.push(("password", who.1.into()));
    no_redirects()
        .post(format!("{}/authorize", op.url))
        .header("origin", &op.url)
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The query of a redirect's `Location`, and the address before it.
fn location(response: &Response) -> (String, Vec<(String, String)>) {
    assert_eq!(response.status(), 303, "not a redirect");
    let location = response.headers()["location"].to_str().unwrap();
    let (base, query) = location.split_once('?').unwrap();
    (base.to_owned(), serde_urlencoded::from_str(query).unwrap())
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Signs `who` in and returns the code.
async fn code_for(op: &Op, who: (&str, &str)) -> String {
    let response = submit(op, &request(REDIRECT), who).await;
    let (_, pairs) = location(&response);
    param(&pairs, "code").unwrap().to_owned()
}

async fn exchange(
    op: &Op,
    client: (&str, &str),
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Response {
    op.post_form(
        "/oidc/token",
        &[
            ("client_id", client.0),
            ("client_secret", client.1),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(op: &Op, client: (&str, &str), token: &str, scope: Option<&str>) -> Response {
    let mut form = vec![
        ("client_id", client.0),
        ("client_secret", client.1),
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    op.post_form("/oidc/token", &form).await
}

fn claims(id_token: &str) -> Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn userinfo_status(op: &Op, access_token: &str) -> u16 {
    op.http
        .get(format!("{}/userinfo", op.url))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_agent_signs_in_with_a_password_and_pkce() {
    let op = Op::start().await;
    let page = show(&op, &request(REDIRECT)).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in to Demo Bank"), "{html}");
    // The state is carried escaped, never as markup.
    assert!(
        html.contains("st&lt;ate&gt;&amp;1") && !html.contains("st<ate>"),
        "{html}"
    );

    let response = submit(&op, &request(REDIRECT), SUPERVISOR).await;
    let (base, pairs) = location(&response);
    assert_eq!(base, REDIRECT);
    assert_eq!(param(&pairs, "state"), Some("st<ate>&1"));
    assert_eq!(param(&pairs, "iss"), Some(op.url.as_str()));
    let code = param(&pairs, "code").unwrap().to_owned();

    let tokens = exchange(&op, CLIENT, &code, REDIRECT, VERIFIER).await;
    assert_eq!(tokens.status(), 200);
    assert_eq!(tokens.headers()["cache-control"], "no-store");
    let tokens: Value = tokens.json().await.unwrap();
    let claims = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "supervisor");
    assert_eq!(claims["aud"], CLIENT.0);
    assert_eq!(claims["iss"], op.url.as_str());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["role"], "supervisor");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:countersign:acr:pwd");
    assert_eq!(claims["email"], "supervisor@demo.bank");
    assert!(tokens["refresh_token"].is_string());
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&op, access).await, 200);
    let info: Value = op
        .http
        .get(format!("{}/userinfo", op.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["role"], "supervisor");

    // The code works once; a second try also revokes what the first one gave.
    let again = exchange(&op, CLIENT, &code, REDIRECT, VERIFIER).await;
    assert_eq!(error_of(again).await, "invalid_grant");
    assert_eq!(userinfo_status(&op, access).await, 401);
}

#[tokio::test]
async fn an_agent_token_cannot_decide_a_customers_request() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let code = code_for(&op, AGENT).await;
    let tokens: Value = exchange(&op, CLIENT, &code, REDIRECT, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let claims = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["role"], "agent");
    let refused = op
        .complete(tokens["access_token"].as_str().unwrap(), &id, true)
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(op.poll_error(&id).await, "authorization_pending");
}

#[tokio::test]
async fn a_loopback_console_may_use_any_port() {
    let op = Op::start().await;
    let elsewhere = "http://127.0.0.1:45678/auth/callback";
    let response = submit(&op, &request(elsewhere), AGENT).await;
    let (base, pairs) = location(&response);
    assert_eq!(base, elsewhere);
    let code = param(&pairs, "code").unwrap();
    // The token request must name the very address the code went to.
    let wrong = exchange(&op, CLIENT, code, REDIRECT, VERIFIER).await;
    assert_eq!(error_of(wrong).await, "invalid_grant");
}

#[tokio::test]
async fn requests_that_cannot_be_trusted_are_never_redirected() {
    let op = Op::start().await;
    for (params, why) in [
        (
            with(request(REDIRECT), "client_id", Some("nobody")),
            "unknown client",
        ),
        (with(request(REDIRECT), "client_id", None), "no client"),
        (
            with(
                request(REDIRECT),
                "redirect_uri",
                Some("https://evil.example/cb"),
            ),
            "foreign redirect",
        ),
        (with(request(REDIRECT), "redirect_uri", None), "no redirect"),
        (
            with(
                request(REDIRECT),
                "redirect_uri",
                Some("http://127.0.0.1:3000/auth/callback/../x"),
            ),
            "other path",
        ),
    ] {
        let response = show(&op, &params).await;
        assert_eq!(response.status(), 400, "{why}");
        assert!(response.headers().get("location").is_none(), "{why}");
        assert!(
            response.text().await.unwrap().contains("Sign-in failed"),
            "{why}"
        );
    }
    // A repeated parameter is refused as well.
    let mut doubled = request(REDIRECT);
    doubled.push(("scope", "openid".into()));
    assert_eq!(show(&op, &doubled).await.status(), 400);
}

#[tokio::test]
async fn bad_requests_from_a_known_client_are_redirected_with_an_error() {
    let op = Op::start().await;
    for (params, error) in [
        (
            with(request(REDIRECT), "code_challenge", None),
            "invalid_request",
        ),
        (
            with(request(REDIRECT), "code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (
            with(request(REDIRECT), "code_challenge_method", None),
            "invalid_request",
        ),
        (
            with(request(REDIRECT), "code_challenge", Some("too-short")),
            "invalid_request",
        ),
        (
            with(request(REDIRECT), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (
            with(request(REDIRECT), "scope", Some("email")),
            "invalid_scope",
        ),
        (
            with(request(REDIRECT), "scope", Some("openid admin")),
            "invalid_scope",
        ),
        (
            with(request(REDIRECT), "prompt", Some("none")),
            "login_required",
        ),
        (
            with(request(REDIRECT), "response_mode", Some("form_post")),
            "invalid_request",
        ),
        (
            with(request(REDIRECT), "request", Some("eyJ")),
            "request_not_supported",
        ),
    ] {
        let response = show(&op, &params).await;
        let (base, pairs) = location(&response);
        assert_eq!(base, REDIRECT);
        assert_eq!(param(&pairs, "error"), Some(error), "{params:?}");
        assert_eq!(param(&pairs, "state"), Some("st<ate>&1"));
        assert_eq!(param(&pairs, "iss"), Some(op.url.as_str()));
    }
}

#[tokio::test]
async fn wrong_passwords_unknown_accounts_and_customers_get_one_answer() {
    let op = Op::start().await;
    for who in [
        ("agent@demo.bank", "wrong-password"),
        ("nobody@demo.bank", "agent-demo-password"),
        ("alice@example.com", ""),
        ("AGENT@demo.bank", "AGENT-DEMO-PASSWORD"),
    ] {
        let response = submit(&op, &request(REDIRECT), who).await;
        assert_eq!(response.status(), 401, "{who:?}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("The email or password is not right."),
            "{html}"
        );
        // The form comes back with the email kept, to try again.
        assert!(html.contains(&format!("value=\"{}\"", who.0)), "{html}");
    }
    // Email case does not matter; the password's does.
    let response = submit(&op, &request(REDIRECT), ("Agent@Demo.Bank", AGENT.1)).await;
    assert_eq!(response.status(), 303);
    // A disabled agent cannot sign in.
    op.store()
        .await
        .set_user_active("agent", false)
        .await
        .unwrap();
    assert_eq!(submit(&op, &request(REDIRECT), AGENT).await.status(), 401);
}

#[tokio::test]
async fn password_guessing_locks_the_account_for_a_while() {
    let op = Op::start_limited(Limits {
        sign_in_failures_per_account: Rule::new("sign-in-failures-account", 3, 900),
        ..Limits::default()
    })
    .await;
    for _ in 0..3 {
        let response = submit(&op, &request(REDIRECT), ("agent@demo.bank", "guess")).await;
        assert_eq!(response.status(), 401);
    }
    let locked = submit(&op, &request(REDIRECT), AGENT).await;
    assert_eq!(locked.status(), 429);
    assert_eq!(locked.headers()["retry-after"], "900");
    assert!(
        locked
            .text()
            .await
            .unwrap()
            .contains("Try again in 15 minutes")
    );
    // Other accounts are not locked; the window ends.
    assert_eq!(
        submit(&op, &request(REDIRECT), SUPERVISOR).await.status(),
        303
    );
    op.advance(900);
    assert_eq!(submit(&op, &request(REDIRECT), AGENT).await.status(), 303);
}

async fn submit_from(op: &Op, address: &str, who: (&str, &str)) -> u16 {
    let mut form: Vec<(&str, String)> = request(REDIRECT);
    form.push(("email", who.0.into()));
    form.push(("password", who.1.into()));
    no_redirects()
        .post(format!("{}/authorize", op.url))
        .header("origin", &op.url)
        .header("x-forwarded-for", format!("10.9.9.9, {address}"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_guesser_elsewhere_does_not_lock_the_owner_out() {
    let op = Op::start_behind_proxy(Limits {
        sign_in_failures_per_account: Rule::new("a", 3, 900),
        sign_in_failures_per_account_total: Rule::new("b", 6, 900),
        ..Limits::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            submit_from(&op, "203.0.113.9", ("agent@demo.bank", "guess")).await,
            401
        );
    }
    assert_eq!(submit_from(&op, "203.0.113.9", AGENT).await, 429);
    // The owner, at their own address, still signs in; the client-supplied first entry of
    // X-Forwarded-For counts for nothing.
    assert_eq!(submit_from(&op, "198.51.100.1", AGENT).await, 303);
    // Guessing spread over addresses meets the account-wide ceiling.
    for address in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        assert_eq!(
            submit_from(&op, address, ("agent@demo.bank", "guess")).await,
            401
        );
    }
    assert_eq!(submit_from(&op, "198.51.100.1", AGENT).await, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_all_count() {
    let op = Op::start_limited(Limits {
        sign_in_failures_per_account: Rule::new("a", 3, 900),
        ..Limits::default()
    })
    .await;
    let guesses: Vec<_> = (0..12)
        .map(|i| {
            let (url, form) = (op.url.clone(), {
                let mut form: Vec<(&str, String)> = request(REDIRECT);
                form.push(("email", "agent@demo.bank".into()));
                form.push(("password", format!("guess-{i}")));
                form
            });
            tokio::spawn(async move {
                no_redirects()
                    .post(format!("{url}/authorize"))
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    // However they interleave, only three passwords were checked.
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        9,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let op = Op::start().await;
    let mut form = request(REDIRECT);
    form.push(("email", AGENT.0.into()));
    form.push(("password", AGENT.1.into()));
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = no_redirects()
            .post(format!("{}/authorize", op.url))
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{name}");
    }
}

#[tokio::test]
async fn codes_are_bound_to_verifier_client_and_a_minute() {
    let op = Op::start().await;
    let code = code_for(&op, AGENT).await;
    let wrong_verifier = "another-verifier-that-is-long-enough-0123456789-abcdefgh";
    assert_eq!(
        error_of(exchange(&op, CLIENT, &code, REDIRECT, wrong_verifier).await).await,
        "invalid_grant"
    );
    // The failed try spent the code.
    assert_eq!(
        error_of(exchange(&op, CLIENT, &code, REDIRECT, VERIFIER).await).await,
        "invalid_grant"
    );

    let code = code_for(&op, AGENT).await;
    assert_eq!(
        error_of(exchange(&op, OTHER_CLIENT, &code, REDIRECT, VERIFIER).await).await,
        "invalid_grant"
    );

    let code = code_for(&op, AGENT).await;
    op.advance(61);
    assert_eq!(
        error_of(exchange(&op, CLIENT, &code, REDIRECT, VERIFIER).await).await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_ends_the_grant() {
    let op = Op::start().await;
    let code = code_for(&op, AGENT).await;
    let first: Value = exchange(&op, CLIENT, &code, REDIRECT, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let first_refresh = first["refresh_token"].as_str().unwrap();

    op.advance(60);
    let second = refresh(&op, CLIENT, first_refresh, None).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh);
    let claims = claims(second["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "agent");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    // auth_time stays the sign-in's, not the refresh's.
    assert_eq!(
        claims["auth_time"].as_i64().unwrap() + 60,
        claims["iat"].as_i64().unwrap()
    );

    // Another client cannot use it; a narrower scope is fine, a wider one is not.
    assert_eq!(
        error_of(refresh(&op, OTHER_CLIENT, second_refresh, None).await).await,
        "invalid_grant"
    );
    assert_eq!(
        error_of(refresh(&op, CLIENT, second_refresh, Some("openid phone")).await).await,
        "invalid_scope"
    );

    // Replaying the spent first token revokes everything of the grant.
    assert_eq!(
        error_of(refresh(&op, CLIENT, first_refresh, None).await).await,
        "invalid_grant"
    );
    assert_eq!(
        error_of(refresh(&op, CLIENT, second_refresh, None).await).await,
        "invalid_grant"
    );
    assert_eq!(
        userinfo_status(&op, second["access_token"].as_str().unwrap()).await,
        401
    );
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope() {
    let op = Op::start().await;
    let code = code_for(&op, AGENT).await;
    let first: Value = exchange(&op, CLIENT, &code, REDIRECT, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let narrowed = refresh(
        &op,
        CLIENT,
        first["refresh_token"].as_str().unwrap(),
        Some("openid offline_access"),
    )
    .await;
    let narrowed: Value = narrowed.json().await.unwrap();
    assert_eq!(narrowed["scope"], "openid offline_access");
    assert!(
        claims(narrowed["id_token"].as_str().unwrap())
            .get("email")
            .is_none()
    );
    // Without offline_access the grant ends with that response.
    let last = refresh(
        &op,
        CLIENT,
        narrowed["refresh_token"].as_str().unwrap(),
        Some("openid"),
    )
    .await;
    let last: Value = last.json().await.unwrap();
    assert!(last.get("refresh_token").is_none(), "{last}");
    assert!(last["access_token"].is_string());
}

#[tokio::test]
async fn tokens_of_a_revoked_grant_are_never_stored() {
    let op = Op::start().await;
    let store = op.store().await;
    let record = |hash: u8| provider::store::TokenRecord {
        hash: vec![hash; 32],
        kind: "access".into(),
        client_id: CLIENT.0.into(),
        user_id: Some("agent".into()),
        scope: "openid".into(),
        auth_time: Some(0),
        amr: Some("[\"pwd\"]".into()),
        issued_at: 0,
        expires_at: i64::MAX,
        revoked_at: None,
        grant_id: "grant-1".into(),
        origin: "login".into(),
    };
    assert!(store.insert_tokens(&[record(1)]).await.unwrap());
    assert_eq!(
        store
            .revoke_grant("grant-1", infra::clock::Timestamp(1))
            .await
            .unwrap(),
        1
    );
    // A redemption that lost the race to its own revocation stores nothing.
    assert!(!store.insert_tokens(&[record(2)]).await.unwrap());
    assert!(store.token(&[2; 32]).await.unwrap().is_none());
    assert!(
        !store
            .rotate_refresh(&[1; 32], infra::clock::Timestamp(2), &[record(3)])
            .await
            .unwrap()
    );
    assert!(store.token(&[3; 32]).await.unwrap().is_none());
}

/// Posts the sign-in form as `who` from `address`, with `cookie` if given.
async fn submit_with(op: &Op, address: &str, cookie: Option<&str>, who: (&str, &str)) -> Response {
    let mut form: Vec<(&str, String)> = request(REDIRECT);
    form.push(("email", who.0.into()));
    form.push(("password", who.1.into()));
    let mut post = no_redirects()
        .post(format!("{}/authorize", op.url))
        .header("origin", &op.url)
        .header("x-forwarded-for", address)
        .form(&form);
    if let Some(cookie) = cookie {
        post = post.header("cookie", cookie);
    }
    post.send().await.unwrap()
}

/// The device cookie (`name=value`) a successful sign-in sets.
fn device_cookie(response: &Response) -> String {
    assert_eq!(response.status(), 303);
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("countersign-device="))
        .expect("a device cookie");
    for part in ["Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(set.contains(part), "{set}");
    }
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn case_30_a_hundred_wrong_passwords_do_not_lock_the_agent_out_of_their_own_browser() {
    let op = Op::start_behind_proxy(Limits::default()).await;
    let desk = "198.51.100.7";
    // The agent signed in at their desk before: their browser has a device cookie.
    let own = device_cookie(&submit_with(&op, desk, None, AGENT).await);
    let supervisors = device_cookie(&submit_with(&op, desk, None, SUPERVISOR).await);

    // A stranger tries 100 passwords for the agent's email from ten addresses.
    for i in 0..10 {
        let address = format!("203.0.113.{}", 10 + i);
        for _ in 0..10 {
            let response = submit_with(&op, &address, None, ("agent@demo.bank", "guess")).await;
            assert_eq!(response.status(), 401);
        }
    }
    // The account's allowance is spent: a browser without the agent's device cookie is
    // refused, even with the right password, from a fresh address too.
    assert_eq!(
        submit_with(&op, "192.0.2.50", None, AGENT).await.status(),
        429
    );
    assert_eq!(submit_with(&op, desk, None, AGENT).await.status(), 429);
    // A forged cookie, or one made for another account, does not help.
    let forged = format!(
        "{}.AAAA",
        own.rsplit_once('.').map(|(head, _)| head).unwrap()
    );
    for cookie in [
        forged.as_str(),
        supervisors.as_str(),
        "countersign-device=v1.x.1.y",
    ] {
        let response = submit_with(&op, desk, Some(cookie), AGENT).await;
        assert_eq!(response.status(), 429, "{cookie}");
    }

    // The agent, from their own browser, signs in with the right password.
    let response = submit_with(&op, desk, Some(&own), AGENT).await;
    assert_eq!(response.status(), 303);
    let (base, pairs) = location(&response);
    assert_eq!(base, REDIRECT);
    assert!(param(&pairs, "code").is_some());
    // Their browser has its own allowance: ten wrong passwords, then it waits too.
    let own = device_cookie(&response);
    for _ in 0..10 {
        let response = submit_with(&op, desk, Some(&own), ("agent@demo.bank", "typo")).await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(
        submit_with(&op, desk, Some(&own), AGENT).await.status(),
        429
    );
}
