//! The one security-header layer (SECURITY.md case 33): every page the BFF serves forbids
//! framing, sniffing and referrers, names its scripts' nonce in its CSP, and is never cached
//! when it carries a session's data.

use serde_json::Value;

use crate::kit::{AGENT, TestApp};

/// The nonce the response's CSP allows scripts with.
fn csp_nonce(response: &reqwest::Response) -> String {
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(csp.contains("object-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let start = csp.find("'nonce-").expect("a nonce in the CSP") + "'nonce-".len();
    let end = start + csp[start..].find('\'').unwrap();
    csp[start..end].to_owned()
}

/// The `nonce` of every `<script>` of `html` (`None` for one without).
fn script_nonces(html: &str) -> Vec<Option<String>> {
    html.match_indices("<script")
        .map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            tag.find("nonce=\"").map(|start| {
                let value = &tag[start + 7..];
                value[..value.find('"').unwrap()].to_owned()
            })
        })
        .collect()
}

/// The headers every response gets.
fn hardened(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "same-origin", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    let permissions = headers["permissions-policy"].to_str().unwrap();
    for feature in ["camera=()", "microphone=()", "geolocation=()", "payment=()"] {
        assert!(permissions.contains(feature), "{what}: {permissions}");
    }
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"),
        "{what}"
    );
}

/// GETs `path` (with `cookie`), checks the headers, the nonce on every script and `no-store`;
/// returns the page's nonce.
async fn page_nonce(app: &TestApp, path: &str, cookie: Option<&str>) -> String {
    let mut request = app.http.get(format!("{}{path}", app.url));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let response = request.send().await.unwrap();
    hardened(&response, path);
    assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    let nonce = csp_nonce(&response);
    let html = response.text().await.unwrap();
    let scripts = script_nonces(&html);
    assert!(!scripts.is_empty(), "{path}: no script at all?\n{html}");
    for found in scripts {
        assert_eq!(
            found.as_deref(),
            Some(nonce.as_str()),
            "{path}: a script without the CSP's nonce"
        );
    }
    nonce
}

/// Starts a verification for alice by SMS and returns the approval link she got.
async fn approval_link(app: &TestApp, cookie: &str) -> String {
    let response = app
        .http
        .post(format!("{}/api/start-verification", app.url))
        .header("Accept", "application/json")
        .header("Origin", &app.url)
        .header("Cookie", cookie)
        .form(&[
            ("request[identifier]", "alice"),
            ("request[channel]", "sms"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    hardened(&response, "a server function");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let outbox: Value = app
        .http
        .get(format!("{}/dev/outbox.json", app.provider_issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    outbox[0]["link"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn case_33_every_page_carries_the_security_headers_and_its_scripts_nonce() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(AGENT).await;

    // The signed-in console: never cached, its scripts all carry this response's nonce, and
    // the nonce changes with every load.
    let first = page_nonce(&app, "/", Some(&cookie)).await;
    let second = page_nonce(&app, "/", Some(&cookie)).await;
    assert_ne!(first, second, "a nonce is used once");
    assert!(first.len() >= 22, "{first}");

    // The customer's approval page, for a real request.
    let link = approval_link(&app, &cookie).await;
    let path = link.strip_prefix(&app.url).unwrap().to_owned();
    assert!(path.starts_with("/approve?auth_req_id="), "{path}");
    page_nonce(&app, &path, None).await;

    // The status page, the console signed out and the "not found" page.
    page_nonce(&app, "/status", None).await;
    page_nonce(&app, "/", None).await;
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
    hardened(&missing, "404");
    assert_eq!(missing.headers()["cache-control"], "no-store");
    let nonce = csp_nonce(&missing);
    let html = missing.text().await.unwrap();
    assert!(
        script_nonces(&html)
            .iter()
            .all(|found| found.as_deref() == Some(nonce.as_str())),
        "{html}"
    );

    // The sign-in routes and the BFF's own JSON.
    let login = app.get("/auth/login").await;
    assert_eq!(login.status(), 303);
    hardened(&login, "/auth/login");
    assert_eq!(login.headers()["cache-control"], "no-store");
    let me = app
        .http
        .post(format!("{}/api/me", app.url))
        .header("Accept", "application/json")
        .header("Origin", &app.url)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    hardened(&me, "/api/me");
    assert_eq!(me.headers()["cache-control"], "no-store");
    app.stop().await;
}

#[tokio::test]
async fn case_33_the_sign_in_pages_keep_their_stricter_policy() {
    let app = TestApp::spawn().await;
    // A callback for no sign-in in progress: the small sign-in error page, with no script.
    let page = app.get("/auth/callback?state=nope&code=x").await;
    assert_eq!(page.status(), 400);
    hardened(&page, "/auth/callback");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(page.headers()["cache-control"], "no-store");
    app.stop().await;
}

#[tokio::test]
async fn case_33_after_sign_out_nothing_of_the_console_may_come_from_a_cache() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(AGENT).await;
    let console = app
        .http
        .get(format!("{}/", app.url))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(console.headers()["cache-control"], "no-store");
    let html = console.text().await.unwrap();
    assert!(html.contains("Avery Agent"), "the console shows the agent");
    let out = app
        .http
        .post(format!("{}/auth/logout", app.url))
        .header("Origin", &app.url)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()["cache-control"], "no-store");
    app.stop().await;
}

/// Every answer names its request: a balancer's plain id is kept, anything else is replaced by
/// a new one, and the embedded provider answers its own requests the same way.
#[tokio::test]
async fn every_answer_carries_a_request_id_and_hostile_ones_are_replaced() {
    let app = TestApp::spawn().await;
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let given = app
        .http
        .get(format!("{}/healthz", app.url))
        .header("X-Request-Id", "lb-0042")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&given), "lb-0042");
    for (path, header) in [("/healthz", None), ("/nowhere", Some("a b <c>"))] {
        let mut request = app.http.get(format!("{}{path}", app.url));
        if let Some(header) = header {
            request = request.header("X-Request-Id", header);
        }
        let response = request.send().await.unwrap();
        let id = id_of(&response);
        assert_eq!(id.len(), 32, "{path}: {id}");
        assert!(id.bytes().all(|byte| byte.is_ascii_hexdigit()), "{id}");
    }
    let provider = app
        .http
        .get(format!("{}/healthz", app.provider_issuer))
        .header("X-Request-Id", "lb-0043")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&provider), "lb-0043");
    app.stop().await;
}
