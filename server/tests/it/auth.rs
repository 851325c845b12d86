//! Agent sign-in, sign-out, sessions and CSRF, with reqwest as the browser (no redirects
//! followed, cookies carried by hand) against a real BFF and embedded provider.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::{Response, Url};
use serde_json::Value;
use server::{
    ProviderMode,
    session::hash,
    store::{PendingLogin, SessionStore as _, SqliteStore, Store as _},
};

use crate::kit::{AGENT, SUPERVISOR, TestApp, closed_port_url, refused_for_a_while};

fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn query(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn param(url: &str, name: &str) -> String {
    query(url)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// `GET /auth/login?return_to=…` (unencoded `None`: no parameter); the provider's URL.
async fn start_login(app: &TestApp, return_to: Option<&str>) -> String {
    let mut url = Url::parse(&format!("{}/auth/login", app.url)).unwrap();
    if let Some(path) = return_to {
        url.query_pairs_mut().append_pair("return_to", path);
    }
    let request = app.http.get(url);
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["cache-control"], "no-store");
    // The only cookie: the sign-in's binding to this browser, short-lived.
    let set = response.headers()["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("__Host-countersign-login="), "{set}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Max-Age=600"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    location(&response)
}

/// The login cookie the browser that started the sign-in behind `callback_url` holds.
fn login_cookie_for(callback_url: &str) -> String {
    let url = Url::parse(callback_url).unwrap();
    let state = url
        .query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    format!("__Host-countersign-login={state}")
}

/// GET the callback URL as the browser that started the sign-in (it holds the login cookie),
/// with `cookie` as well if given.
async fn callback(app: &TestApp, url: &str, cookie: Option<&str>) -> Response {
    let login = login_cookie_for(url);
    let cookies = match cookie {
        Some(cookie) => format!("{cookie}; {login}"),
        None => login,
    };
    app.http
        .get(url)
        .header("Cookie", cookies)
        .send()
        .await
        .unwrap()
}

/// The session cookie (`__Host-countersign=…`) a successful callback sets, after checking its
/// attributes.
fn session_cookie(response: &Response) -> String {
    let set = response.headers()["set-cookie"].to_str().unwrap();
    let mut parts = set.split(';').map(str::trim);
    let pair = parts.next().unwrap().to_owned();
    let attributes: Vec<&str> = parts.collect();
    assert!(pair.starts_with("__Host-countersign="), "{set}");
    assert!(pair.len() > "__Host-countersign=".len() + 40, "{set}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&attribute), "{attribute} in {set}");
    }
    assert!(!set.to_ascii_lowercase().contains("domain"), "{set}");
    pair
}

/// Signs `who` in, coming back to `return_to`; returns the cookie and where the BFF sent the
/// browser.
async fn sign_in_to(app: &TestApp, who: (&str, &str), return_to: Option<&str>) -> (String, String) {
    let authorize = start_login(app, return_to).await;
    let back = app.provider_sign_in(&authorize, who).await;
    signed_in(callback(app, &back, None).await).await
}

/// The session cookie a successful callback sets and where its page moves on to, after checking
/// the page: a 200 of this origin (not a redirect, so the browser's next request is same-site
/// and carries the `SameSite=Strict` cookie), uncached, script-free, holding no token.
async fn signed_in(response: Response) -> (String, String) {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers().get("location").is_none());
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let cookie = session_cookie(&response);
    let cleared = response.headers().get_all("set-cookie").iter().any(|set| {
        set.to_str()
            .unwrap()
            .starts_with("__Host-countersign-login=;")
    });
    assert!(cleared, "the login cookie is cleared");
    let body = response.text().await.unwrap();
    assert!(!body.contains("eyJ"), "no token reaches the browser");
    assert!(!body.contains("<script"), "{body}");
    let (_, rest) = body
        .split_once(r#"<meta http-equiv="refresh" content="0; url="#)
        .unwrap_or_else(|| panic!("no refresh in {body}"));
    let to = rest.split('"').next().unwrap().replace("&amp;", "&");
    assert!(body.contains(&format!(
        r#"<a href="{}">"#,
        rest.split('"').next().unwrap()
    )));
    (cookie, to)
}

/// The console's `me` server function with `cookie`: 200 and the agent, or `null` when the
/// cookie names no live session.
async fn me(app: &TestApp, cookie: &str) -> Response {
    app.http
        .post(format!("{}/api/me", app.url))
        .header("Accept", "application/json")
        .header("Origin", &app.url)
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Who `cookie` signs in as (`null` when nobody).
async fn who(app: &TestApp, cookie: &str) -> Value {
    let answer = me(app, cookie).await;
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

async fn logout(app: &TestApp, cookie: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = app
        .http
        .post(format!("{}/auth/logout", app.url))
        .header("Cookie", cookie);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn text(response: Response) -> String {
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.text().await.unwrap()
}

#[tokio::test]
async fn sign_in_sets_a_host_cookie_with_a_new_id_each_time() {
    let app = TestApp::spawn().await;

    let authorize = start_login(&app, Some("/console")).await;
    assert!(
        authorize.starts_with(&format!("{}/authorize?", app.provider_issuer)),
        "{authorize}"
    );
    assert_eq!(
        param(&authorize, "redirect_uri"),
        format!("{}/auth/callback", app.url)
    );
    assert_eq!(param(&authorize, "response_type"), "code");
    assert_eq!(param(&authorize, "code_challenge_method"), "S256");
    assert_eq!(param(&authorize, "code_challenge").len(), 43);
    assert!(param(&authorize, "state").len() >= 43);
    assert!(param(&authorize, "nonce").len() >= 43);
    // The provider shows its sign-in page for it.
    let page = app.http.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);

    let back = app.provider_sign_in(&authorize, AGENT).await;
    assert!(
        back.starts_with(&format!("{}/auth/callback?", app.url)),
        "{back}"
    );
    // A cookie value the browser brings (planted or old) is never kept.
    let planted = "__Host-countersign=planted-by-someone-else";
    let (first, to) = signed_in(callback(&app, &back, Some(planted)).await).await;
    assert_eq!(to, "/console");
    assert_ne!(first, planted);

    let answer = me(&app, &first).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let agent: Value = answer.json().await.unwrap();
    assert_eq!(agent["supervisor"], false);
    assert_eq!(agent["email"], "agent@demo.bank");
    assert!(agent["name"].as_str().is_some_and(|name| !name.is_empty()));
    assert_eq!(
        who(&app, "__Host-countersign=planted-by-someone-else").await,
        Value::Null
    );

    // Signing in again gives another id, and the session the browser had ends.
    let authorize = start_login(&app, None).await;
    let back = app.provider_sign_in(&authorize, AGENT).await;
    let (second, to) = signed_in(callback(&app, &back, Some(&first)).await).await;
    assert_eq!(to, "/");
    assert_ne!(second, first);
    assert!(who(&app, &second).await.is_object());
    assert_eq!(who(&app, &first).await, Value::Null);

    // A third, from a fresh browser: yet another id.
    let (third, _) = sign_in_to(&app, AGENT, None).await;
    assert_ne!(third, second);
    assert!(who(&app, &second).await.is_object());
    app.stop().await;
}

#[tokio::test]
async fn a_supervisor_signs_in_as_a_supervisor() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(SUPERVISOR).await;
    let agent = who(&app, &cookie).await;
    assert_eq!(agent["supervisor"], true);
    assert_eq!(agent["email"], "supervisor@demo.bank");
    app.stop().await;
}

#[tokio::test]
async fn return_to_is_honoured_and_open_redirects_fall_back_to_the_root() {
    let app = TestApp::spawn().await;
    let (_, to) = sign_in_to(&app, AGENT, Some("/history?page=2")).await;
    assert_eq!(to, "/history?page=2");
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil",
        "/\t/evil.example",
        "evil.example",
    ] {
        let (_, to) = sign_in_to(&app, AGENT, Some(evil)).await;
        assert_eq!(to, "/", "{evil:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_callback_is_single_use_and_needs_its_own_pending_sign_in() {
    let app = TestApp::spawn().await;
    let authorize = start_login(&app, None).await;
    let back = app.provider_sign_in(&authorize, AGENT).await;

    // A wrong state: refused, and the real sign-in is not spent by it.
    let mut wrong = Url::parse(&back).unwrap();
    let pairs: Vec<(String, String)> = query(&back)
        .into_iter()
        .map(|(n, v)| {
            if n == "state" {
                (n, "not-the-state".to_owned())
            } else {
                (n, v)
            }
        })
        .collect();
    wrong.query_pairs_mut().clear().extend_pairs(&pairs);
    let response = callback(&app, wrong.as_str(), None).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(text(response).await.contains("Sign in again"));

    let (cookie, _) = signed_in(callback(&app, &back, None).await).await;

    // Replayed: the pending sign-in is gone.
    let response = callback(&app, &back, None).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("set-cookie").is_none());
    // Replayed with the session: still refused, and the session is untouched.
    let response = callback(&app, &back, Some(&cookie)).await;
    assert_eq!(response.status(), 400);
    assert!(who(&app, &cookie).await.is_object());

    // No pending sign-in at all, or no state.
    for path in [
        "/auth/callback?code=abc&state=never-issued",
        "/auth/callback?code=abc",
        "/auth/callback",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert!(response.headers().get("set-cookie").is_none());
        let page = text(response).await;
        assert!(page.contains("Sign in again"), "{page}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_stale_pending_sign_in_is_refused() {
    let app = TestApp::spawn().await;
    let store = SqliteStore::open(&app.bff_store_path()).await.unwrap();
    store
        .insert_login(&PendingLogin {
            state_hash: hash("an-old-state"),
            nonce: "n".to_owned(),
            code_verifier: "v".repeat(43),
            return_to: "/".to_owned(),
            created_at: now_ms() - 11 * 60 * 1000,
        })
        .await
        .unwrap();
    let response = callback(
        &app,
        &format!("{}/auth/callback?code=abc&state=an-old-state", app.url),
        None,
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(text(response).await.contains("took too long"));
    // And it was used up.
    assert_eq!(store.take_login(&hash("an-old-state")).await.unwrap(), None);
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_provider_error_is_shown_escaped() {
    let app = TestApp::spawn().await;
    let authorize = start_login(&app, None).await;
    let state = param(&authorize, "state");
    let mut back = Url::parse(&format!("{}/auth/callback", app.url)).unwrap();
    back.query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "<script>alert(1)</script> & no")
        .append_pair("state", &state)
        .append_pair("iss", &app.provider_issuer);
    let response = callback(&app, back.as_str(), None).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("set-cookie").is_none());
    let page = text(response).await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; no"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");
    // The pending sign-in was spent.
    assert_eq!(callback(&app, back.as_str(), None).await.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_provider_gives_a_page_to_try_again() {
    let app = TestApp::spawn_with(ProviderMode::External {
        profile: server::oidc::Profile::Standard,
        url: closed_port_url().await,
    })
    .await;
    let response = app.get("/auth/login?return_to=/history").await;
    assert_eq!(response.status(), 503);
    let page = text(response).await;
    assert!(page.contains("Try again"), "{page}");
    assert!(
        page.contains(r#"href="/auth/login?return_to=%2Fhistory""#),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(AGENT).await;
    assert!(who(&app, &cookie).await.is_object());

    let response = logout(&app, &cookie, &[("Origin", &app.url)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("__Host-countersign=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    assert_eq!(who(&app, &cookie).await, Value::Null);

    // Signing out again, or without a session, is harmless.
    let response = logout(&app, &cookie, &[("Sec-Fetch-Site", "same-origin")]).await;
    assert_eq!(response.status(), 303);
    app.stop().await;
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_a_session() {
    let app = TestApp::spawn().await;
    let idle = app.sign_in(AGENT).await;
    let old = app.sign_in(AGENT).await;
    assert!(who(&app, &idle).await.is_object());
    assert!(who(&app, &old).await.is_object());

    let db = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(app.bff_store_path()),
    )
    .await
    .unwrap();
    let id_hash = |cookie: &str| hash(cookie.split_once('=').unwrap().1);
    // 31 minutes without a request (the idle limit is 30).
    sqlx::query(
        "UPDATE sessions SET last_seen_at = last_seen_at - 31 * 60 * 1000 WHERE id_hash = ?",
    )
    .bind(id_hash(&idle))
    .execute(&db)
    .await
    .unwrap();
    // Past its absolute expiry, though used just now.
    sqlx::query("UPDATE sessions SET expires_at = ? WHERE id_hash = ?")
        .bind(now_ms() - 1)
        .bind(id_hash(&old))
        .execute(&db)
        .await
        .unwrap();

    for cookie in [&idle, &old] {
        assert_eq!(who(&app, cookie).await, Value::Null);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id_hash = ?")
            .bind(id_hash(cookie))
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(left, 0, "an ended session is deleted");
    }
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn case_20_cross_site_posts_are_refused_and_the_session_survives() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(AGENT).await;

    for headers in [
        &[("Origin", "http://evil.example")][..],
        &[("Sec-Fetch-Site", "cross-site")][..],
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", app.url.as_str()),
        ][..],
        &[("Sec-Fetch-Site", "same-site")][..],
        &[("Origin", "null")][..],
        &[][..],
    ] {
        let response = logout(&app, &cookie, headers).await;
        assert_eq!(response.status(), 403, "{headers:?}");
        assert!(response.headers().get("set-cookie").is_none());
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
        assert!(who(&app, &cookie).await.is_object(), "{headers:?}");
    }

    // Server functions are covered too.
    let response = app
        .http
        .post(format!("{}/api/provider-status", app.url))
        .header("Accept", "application/json")
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // From the console itself it works.
    let response = logout(&app, &cookie, &[("Sec-Fetch-Site", "same-origin")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(who(&app, &cookie).await, Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn a_callback_opened_in_another_browser_is_refused() {
    let app = TestApp::spawn().await;
    // A malicious agent starts a sign-in and sends the callback link to a colleague.
    let authorize = start_login(&app, None).await;
    let back = app.provider_sign_in(&authorize, AGENT).await;
    for cookie in [None, Some("__Host-countersign-login=someone-else")] {
        let mut request = app.http.get(&back);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{cookie:?}");
        assert!(response.headers().get("set-cookie").is_none());
    }
    // The browser that started it can still finish it.
    signed_in(callback(&app, &back, None).await).await;
}

#[tokio::test]
async fn sign_ins_started_from_one_address_are_limited() {
    let app = TestApp::spawn().await;
    let login = format!("{}/auth/login", app.url);
    for _ in 0..300 {
        let response = app.http.get(&login).send().await.unwrap();
        assert_eq!(response.status(), 303);
    }
    let response = app.http.get(&login).send().await.unwrap();
    refused_for_a_while(&response);
    assert!(response.headers().get("set-cookie").is_none());
    let body = text(response).await;
    assert!(
        body.contains("Too many sign-ins were started from this network."),
        "{body}"
    );
    app.stop().await;
}
