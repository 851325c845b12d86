//! The customer approval page, driven like a browser without JavaScript: GET the link the
//! provider sent, post the page's forms (URL-encoded, from the BFF's origin, asking for HTML),
//! follow each `303` back to the page carrying the approval cookie, and read the codes from the
//! provider's development outbox. The agent's side is seen through the console's server
//! functions.

use std::time::Duration;

use serde_json::Value;
use server::{
    sealed::Purpose,
    store::{ApprovalStore as _, FlowStore as _, SqliteStore},
};

use crate::kit::{AGENT, SseReader, TestApp, refused_for_a_while};

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The agent's side: signed in, starts verifications, reads them back.
struct Agent<'a> {
    app: &'a TestApp,
    cookie: String,
}

impl<'a> Agent<'a> {
    async fn sign_in(app: &'a TestApp) -> Self {
        let cookie = app.sign_in(AGENT).await;
        Self { app, cookie }
    }

    /// Posts `form` to the server function at `path`, from the console.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .http
            .post(format!("{}{path}", self.app.url))
            .header("Accept", "application/json")
            .header("Origin", &self.app.url)
            .header("Cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn call(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self.post(path, form).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    /// A call the BFF refuses: its answer's text.
    async fn refused(&self, path: &str, form: &[(&str, &str)]) -> String {
        let response = self.post(path, form).await;
        assert!(response.status().is_client_error(), "{path}");
        response.text().await.unwrap()
    }

    /// Starts a verification; returns the flow and the link the customer got.
    async fn start(&self, identifier: &str, channel: &str) -> (Value, String) {
        let flow = self
            .call(
                "/api/start-verification",
                &[
                    ("request[identifier]", identifier),
                    ("request[channel]", channel),
                ],
            )
            .await;
        assert_eq!(flow["status"], "pending", "{flow}");
        let link = outbox(self.app)
            .await
            .iter()
            .find_map(|m| m["link"].as_str().map(str::to_owned))
            .unwrap();
        (flow, link)
    }

    async fn flow(&self, id: &str) -> Value {
        let flows = self.call("/api/verifications", &[]).await;
        flows
            .as_array()
            .unwrap()
            .iter()
            .find(|flow| flow["id"] == id)
            .cloned()
            .unwrap()
    }

    /// The flow once it has left `pending` (the poller asks every few seconds); at most 30 s.
    async fn settled(&self, id: &str) -> Value {
        for _ in 0..120 {
            let flow = self.flow(id).await;
            if flow["status"] != "pending" {
                return flow;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "the flow was still pending after 30 s: {}",
            self.flow(id).await
        );
    }
}

fn kinds(flow: &Value) -> Vec<String> {
    flow["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// The development outbox, newest first.
async fn outbox(app: &TestApp) -> Vec<Value> {
    app.http
        .get(format!("{}/dev/outbox.json", app.provider_issuer))
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

/// The newest one-time code sent to `to`.
async fn code_for(app: &TestApp, to: &str) -> String {
    let messages = outbox(app).await;
    let body = messages
        .iter()
        .find(|m| m["to"] == to && m["link"].is_null())
        .and_then(|m| m["body"].as_str())
        .unwrap();
    let after = body.split("your code is ").nth(1).unwrap();
    after.chars().take(6).collect()
}

/// The customer's browser, with JavaScript off.
struct Browser<'a> {
    app: &'a TestApp,
    /// The page's path and query, as in the link.
    page: String,
    /// The approval cookie (`name=value`), once set.
    cookie: Option<String>,
    /// Every body the BFF answered, for the checks at the end.
    bodies: Vec<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp, link: &str) -> Self {
        let page = link.strip_prefix(&app.url).unwrap().to_owned();
        Self {
            app,
            page,
            cookie: None,
            bodies: Vec::new(),
        }
    }

    /// GETs the page; returns its status and HTML. A GET never sets a cookie.
    async fn open(&mut self) -> (u16, String) {
        let mut request = self
            .app
            .http
            .get(format!("{}{}", self.app.url, self.page))
            .header("Accept", HTML);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(response.headers().get("set-cookie").is_none());
        assert_eq!(response.headers()["cache-control"], "no-store");
        let html = response.text().await.unwrap();
        self.bodies.push(html.clone());
        (status, html)
    }

    /// Posts the form of `endpoint` that the page shows, with its hidden fields and `extra`,
    /// follows the `303` back to the page and returns it.
    async fn submit(&mut self, endpoint: &str, extra: &[(&str, &str)]) -> String {
        let (_, html) = self.open().await;
        let action = format!("/api/{endpoint}");
        assert!(
            html.contains(&format!("action=\"{action}\"")),
            "no {action} form in {html}"
        );
        let mut form = vec![("auth_req_id", hidden(&html, "auth_req_id").unwrap())];
        if let Some(message) = hidden(&html, "binding_message") {
            form.push(("binding_message", message));
        }
        for (name, value) in extra {
            form.push((name, (*value).to_owned()));
        }
        self.post(&action, &form).await;
        self.open().await.1
    }

    /// Posts `form` to `action` as a plain HTML form and checks the redirect back.
    async fn post(&mut self, action: &str, form: &[(&str, String)]) {
        let mut request = self
            .app
            .http
            .post(format!("{}{action}", self.app.url))
            .header("Accept", HTML)
            .header("Origin", &self.app.url)
            .form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 303, "{action}");
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(location, self.page, "back to the page");
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().unwrap();
            for part in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
                assert!(set.contains(part), "{set}");
            }
            assert!(set.starts_with("__Host-countersign-approval="), "{set}");
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let body = response.text().await.unwrap();
        self.bodies.push(body);
    }

    /// The request's `auth_req_id` (from the link).
    fn auth_req_id(&self) -> String {
        let query = self.page.split_once('?').unwrap().1;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("auth_req_id="))
            .unwrap()
            .to_owned()
    }

    /// No body holds `secrets`, and the `auth_req_id` only in the forms' hidden fields.
    fn assert_clean(&self, secrets: &[&str]) {
        let auth_req_id = self.auth_req_id();
        let field = format!("name=\"auth_req_id\" value=\"{auth_req_id}\"");
        for body in &self.bodies {
            for secret in secrets {
                assert!(!body.contains(secret), "a secret in {body}");
            }
            assert_eq!(
                body.matches(&auth_req_id).count(),
                body.matches(&field).count(),
                "the auth_req_id outside a hidden field: {body}"
            );
        }
    }
}

/// The value of the hidden field `name` in `html`.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

/// The BFF's store, opened a second time beside the running app.
async fn store(app: &TestApp) -> SqliteStore {
    SqliteStore::open(&app.bff_store_path()).await.unwrap()
}

#[tokio::test]
async fn a_customer_approves_by_text_message_and_the_agent_sees_them_verified() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let binding = flow["binding_code"].as_str().unwrap();
    let mut browser = Browser::new(&app, &link);

    // Step 1: who asks, the code to compare, where the code will go.
    let (status, page) = browser.open().await;
    assert_eq!(status, 200);
    for text in [
        "Demo Bank",
        "Avery Agent",
        binding,
        "Check that this code matches the one the agent reads to you.",
        "Send a code to •••0101",
        "I did not ask for this",
    ] {
        assert!(page.contains(text), "{text} missing from {page}");
    }

    // Step 2: the code goes out by text message.
    let page = browser.submit("approval-send-code", &[]).await;
    assert!(page.contains("Enter the 6-digit code"), "{page}");
    assert!(page.contains("inputmode=\"numeric\""));
    assert!(page.contains("autocomplete=\"one-time-code\""));
    assert!(page.contains("•••0101"));
    let first_cookie = browser.cookie.clone().unwrap();
    let code = code_for(&app, "+15555550101").await;

    // A wrong code: the provider says how many tries are left.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let page = browser
        .submit("approval-verify-code", &[("code", wrong)])
        .await;
    assert!(
        page.contains("That code is not right. 4 tries left."),
        "{page}"
    );

    // Step 3: the right code signs the customer in, under a new cookie.
    let page = browser
        .submit("approval-verify-code", &[("code", &code)])
        .await;
    assert!(page.contains("Approve this request?"), "{page}");
    let cookie = browser.cookie.clone().unwrap();
    assert_ne!(cookie, first_cookie, "a new session id at sign-in");
    // The customer's token is kept on the server only.
    let id = cookie.split_once('=').unwrap().1;
    let session = store(&app)
        .await
        .customer_session(&server::session::hash(id))
        .await
        .unwrap()
        .unwrap();
    let sealed = session.access_token.clone().unwrap();
    assert!(sealed.starts_with("v1."), "sealed at rest");
    let token = app
        .bff_sealer()
        .open(Purpose::CustomerToken, &server::session::hash(id), &sealed)
        .expect("it opens with the BFF's key");
    assert_eq!(session.stage, server::store::Stage::SignedIn);

    // Step 4: approve.
    let page = browser
        .submit("approval-decide", &[("decision", "approve")])
        .await;
    assert!(page.contains("You can go back to your call."), "{page}");
    assert!(page.contains("data-outcome=\"approved\""));
    let session = store(&app)
        .await
        .customer_session(&server::session::hash(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.access_token, None, "the token is dropped");
    assert_eq!(
        session.outcome,
        Some(app::approve::ApprovalOutcome::Approved)
    );

    let done = agent.settled(flow["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(done["customer"]["user_id"], "alice");
    assert_eq!(
        kinds(&done),
        ["sent", "link_opened", "signed_in", "approved", "verified"]
    );

    // The page stays on the answer; the agent's tokens never reach it.
    let (_, page) = browser.open().await;
    assert!(page.contains("You can go back to your call."));
    browser.assert_clean(&[&token, &code, "access_token", "id_token"]);

    // The customer's tokens stay on the BFF, and work at the provider until the agent ends the
    // customer session; then they are gone from the store and revoked there.
    let id = done["id"].as_str().unwrap();
    assert_eq!(done["session_open"], true);
    let kept = customer_tokens(&app, id)
        .await
        .expect("the tokens are kept");
    let access = kept["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &access).await, 200);
    let ended = agent
        .call("/api/end-customer-session", &[("flow_id", id)])
        .await;
    assert_eq!(ended["session_open"], false, "{ended}");
    assert_eq!(
        kinds(&ended),
        [
            "sent",
            "link_opened",
            "signed_in",
            "approved",
            "verified",
            "session_ended"
        ]
    );
    assert_eq!(ended["status"], "approved");
    assert!(customer_tokens(&app, id).await.is_none());
    assert_eq!(userinfo(&app, &access).await, 401);
    // Ending it again says there is nothing to end.
    let again = agent
        .refused("/api/end-customer-session", &[("flow_id", id)])
        .await;
    assert!(
        again.contains("There is no customer session to end."),
        "{again}"
    );
    app.stop().await;
}

/// The customer's tokens the BFF keeps for flow `id`, if any.
async fn customer_tokens(app: &TestApp, id: &str) -> Option<Value> {
    let flow = store(app).await.flow(id).await.unwrap().unwrap();
    flow.tokens.map(|sealed| {
        assert!(!sealed.contains("eyJ"), "sealed at rest");
        let envelope: Value = serde_json::from_str(&sealed).unwrap();
        let sealed = envelope["sealed"].as_str().unwrap();
        let json = (app.bff_sealer())
            .open(Purpose::FlowTokens, id.as_bytes(), sealed)
            .unwrap();
        serde_json::from_str(&json).unwrap()
    })
}

/// The status of the provider's userinfo endpoint for `access_token`.
async fn userinfo(app: &TestApp, access_token: &str) -> u16 {
    app.http
        .get(format!("{}/userinfo", app.provider_issuer))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_customer_denies_by_email() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("alice@example.com", "email").await;
    let mut browser = Browser::new(&app, &link);
    let (_, page) = browser.open().await;
    assert!(page.contains("Send a code to a•••e@example.com"), "{page}");
    browser.submit("approval-send-code", &[]).await;
    let code = code_for(&app, "alice@example.com").await;
    browser
        .submit("approval-verify-code", &[("code", &code)])
        .await;
    let page = browser
        .submit("approval-decide", &[("decision", "deny")])
        .await;
    assert!(page.contains("data-outcome=\"denied\""), "{page}");
    assert!(page.contains("Nothing was shared."));

    let done = agent.settled(flow["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "denied", "{done}");
    assert!(done["customer"].is_null());
    // The denial ended the flow: said once, not again by the poller.
    assert_eq!(kinds(&done), ["sent", "link_opened", "signed_in", "denied"]);
    // Posting again changes nothing: the answer stays.
    let page = browser
        .submit_hidden_less("approval-decide", &[("decision", "approve")])
        .await;
    assert!(page.contains("data-outcome=\"denied\""), "{page}");
    browser.assert_clean(&[&code]);
    app.stop().await;
}

impl Browser<'_> {
    /// Posts to `endpoint` with the link's own fields, whether or not the page shows the form
    /// (a replayed or forged post).
    async fn submit_hidden_less(&mut self, endpoint: &str, extra: &[(&str, &str)]) -> String {
        let url = reqwest::Url::parse(&format!("{}{}", self.app.url, self.page)).unwrap();
        let mut form: Vec<(&str, String)> = Vec::new();
        for (name, value) in url.query_pairs() {
            match name.as_ref() {
                "auth_req_id" => form.push(("auth_req_id", value.into_owned())),
                "binding_message" => form.push(("binding_message", value.into_owned())),
                _ => {}
            }
        }
        for (name, value) in extra {
            form.push((name, (*value).to_owned()));
        }
        self.post(&format!("/api/{endpoint}"), &form).await;
        self.open().await.1
    }
}

#[tokio::test]
async fn another_customer_signing_in_on_the_link_is_turned_away_at_sign_in() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    // A user id names no address: the page asks for one.
    let (flow, link) = agent.start("alice", "sms").await;
    let mut browser = Browser::new(&app, &link);
    let (_, page) = browser.open().await;
    assert!(
        page.contains("Your email address or phone number"),
        "{page}"
    );
    let page = browser
        .submit("approval-send-code", &[("identifier", "bob@example.com")])
        .await;
    assert!(page.contains("If b•••b@example.com is yours"), "{page}");
    let code = code_for(&app, "bob@example.com").await;
    // Bob's sign-in names bob, not alice: he is told at once, never offered the decision.
    let page = browser
        .submit("approval-verify-code", &[("code", &code)])
        .await;
    assert!(!page.contains("Approve this request?"), "{page}");
    assert!(
        page.contains("This request is for someone else. Nothing was changed."),
        "{page}"
    );
    // A forged decision from his browser changes nothing.
    let page = browser
        .submit_hidden_less("approval-decide", &[("decision", "approve")])
        .await;
    assert!(page.contains("data-outcome=\"wrong_person\""), "{page}");

    let id = flow["id"].as_str().unwrap();
    let still = agent.flow(id).await;
    assert_eq!(still["status"], "pending");
    assert_eq!(kinds(&still), ["sent", "link_opened", "wrong_person"]);
    // Alice can still approve her own request.
    let mut alice = Browser::new(&app, &link);
    alice
        .submit("approval-send-code", &[("identifier", "alice@example.com")])
        .await;
    let code = code_for(&app, "alice@example.com").await;
    alice
        .submit("approval-verify-code", &[("code", &code)])
        .await;
    let page = alice
        .submit("approval-decide", &[("decision", "approve")])
        .await;
    assert!(page.contains("You can go back to your call."), "{page}");
    assert_eq!(agent.settled(id).await["status"], "approved");
    app.stop().await;
}

#[tokio::test]
async fn a_session_made_for_one_request_cannot_decide_another() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (alice_flow, alice_link) = agent.start("alice@example.com", "email").await;
    let (_, bob_link) = agent.start("bob@example.com", "email").await;

    // Bob signs in on his own request.
    let mut bob = Browser::new(&app, &bob_link);
    bob.submit("approval-send-code", &[]).await;
    let code = code_for(&app, "bob@example.com").await;
    let page = bob.submit("approval-verify-code", &[("code", &code)]).await;
    assert!(page.contains("Approve this request?"), "{page}");

    // His session posts a decision on Alice's request.
    let mut forged = Browser::new(&app, &alice_link);
    forged.cookie = bob.cookie.clone();
    let page = forged
        .submit_hidden_less("approval-decide", &[("decision", "approve")])
        .await;
    assert!(
        page.contains("This request is for someone else. Nothing was changed."),
        "{page}"
    );
    let id = alice_flow["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alice = agent.flow(id).await;
    assert_eq!(alice["status"], "pending");
    assert!(!kinds(&alice).contains(&"approved".to_owned()), "{alice}");
    app.stop().await;
}

#[tokio::test]
async fn i_did_not_ask_for_this_stops_the_request_without_a_sign_in() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let mut browser = Browser::new(&app, &link);
    let page = browser.submit("approval-report", &[]).await;
    assert!(page.contains("Thank you for telling us"), "{page}");
    assert!(page.contains("Nothing was shared and nothing was changed."));
    assert!(!page.contains("approval-send-code"), "no more steps");

    let id = flow["id"].as_str().unwrap();
    let stopped = agent.flow(id).await;
    assert_eq!(stopped["status"], "cancelled");
    assert_eq!(
        stopped["outcome"],
        "The customer said they did not ask for this."
    );
    assert_eq!(kinds(&stopped), ["sent", "link_opened", "reported"]);

    // A late post sends nothing.
    let sent = outbox(&app).await.len();
    browser.submit_hidden_less("approval-send-code", &[]).await;
    assert_eq!(outbox(&app).await.len(), sent);
    // The link opened afresh (another browser) says the request is closed.
    let (_, page) = Browser::new(&app, &link).open().await;
    assert!(page.contains("This request is no longer open."), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn an_expired_request_shows_the_expired_screen() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let id = flow["id"].as_str().unwrap();

    // Its time runs out (as the poller would record it).
    let store = store(&app).await;
    let stored = store.flow(id).await.unwrap().unwrap();
    let past = stored.created_at - 1;
    let expired = server::store::Flow {
        expires_at: past,
        next_poll_at: past,
        ..stored.clone()
    };
    assert!(store.update_flow(&expired, stored.version).await.unwrap());

    let mut browser = Browser::new(&app, &link);
    let (_, page) = browser.open().await;
    assert!(
        page.contains("This request has expired. Ask the agent to send a new one."),
        "{page}"
    );
    let sent = outbox(&app).await.len();
    let page = browser.submit_hidden_less("approval-send-code", &[]).await;
    assert!(page.contains("This request has expired."), "{page}");
    assert_eq!(
        outbox(&app).await.len(),
        sent,
        "no code for an expired request"
    );
    assert_eq!(agent.settled(id).await["status"], "expired");
    app.stop().await;
}

#[tokio::test]
async fn opening_the_link_changes_nothing() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let id = flow["id"].as_str().unwrap();
    let before = agent.flow(id).await;
    let sent = outbox(&app).await.len();
    let mut browser = Browser::new(&app, &link);
    for _ in 0..2 {
        let (status, page) = browser.open().await;
        assert_eq!(status, 200);
        assert!(page.contains("Send a code to •••0101"));
    }
    // A HEAD, as link scanners send, too.
    let head = app
        .http
        .head(format!("{}{}", app.url, browser.page))
        .send()
        .await
        .unwrap();
    assert!(head.headers().get("set-cookie").is_none());
    let after = agent.flow(id).await;
    assert_eq!(kinds(&after), ["sent"]);
    assert_eq!(after["timeline"], before["timeline"]);
    assert_eq!(outbox(&app).await.len(), sent);
    assert!(browser.cookie.is_none());
    browser.assert_clean(&[]);
    app.stop().await;
}

#[tokio::test]
async fn a_broken_link_and_too_many_attempts_get_plain_screens() {
    let app = TestApp::spawn().await;
    let mut broken = Browser::new(&app, &format!("{}/approve", app.url));
    let (status, page) = broken.open().await;
    assert_eq!(status, 200);
    assert!(page.contains("This link does not work"), "{page}");

    // A link the BFF does not know: the binding code from it is shown if it is plain.
    let mut browser = Browser::new(
        &app,
        &format!(
            "{}/approve?auth_req_id=unknown-request&binding_message=%3Cb%3E",
            app.url
        ),
    );
    let (_, page) = browser.open().await;
    assert!(
        page.contains("Your email address or phone number"),
        "{page}"
    );
    assert!(!page.contains("<b>"));

    // Every post counts against the address; the allowance is wide (many customers share a
    // carrier's address), and past it the page says how long to wait.
    let form = [
        ("auth_req_id", "unknown-request".to_owned()),
        ("binding_message", "<b>".to_owned()),
    ];
    for _ in 0..=server::limits::BffLimits::default().approval_per_ip.max {
        browser.cookie = None;
        browser.post("/api/approval-report", &form).await;
    }
    let response = app
        .http
        .get(format!("{}{}", app.url, browser.page))
        .header("Accept", HTML)
        .send()
        .await
        .unwrap();
    refused_for_a_while(&response);
    let page = response.text().await.unwrap();
    assert!(page.contains("Too many attempts"), "{page}");
    app.stop().await;
}

/// What `page` says, with `masked` (where the code went) written as `…`: to compare the
/// answers two addresses get.
fn said(page: &str, masked: &str) -> String {
    // The page's own words: its `<main>` (the rest holds per-response nonces).
    let start = page.find("<main").unwrap();
    let end = page.find("</main>").unwrap();
    page[start..end].replace(masked, "…")
}

/// A code other than `code`.
fn wrong_for(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

#[tokio::test]
async fn case_29_code_steps_for_a_request_this_bff_never_started_send_nothing() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    // A real request that names no address (a user id): what a stranger typing an address that
    // names nobody is told there.
    let (_, link) = agent.start("bob", "sms").await;
    let mut real = Browser::new(&app, &link);
    let real_sent = real
        .submit(
            "approval-send-code",
            &[("identifier", "nobody@example.com")],
        )
        .await;
    let real_wrong = real
        .submit("approval-verify-code", &[("code", "123456")])
        .await;
    let before = outbox(&app).await.len();

    let forged = format!(
        "{}/approve?auth_req_id=never-started-by-this-bff-0123456789abcdef&binding_message=K7-42QX",
        app.url
    );
    for typed in ["alice@example.com", "+15555550101", "nobody@example.com"] {
        let mut browser = Browser::new(&app, &forged);
        let (_, page) = browser.open().await;
        assert!(
            page.contains("Your email address or phone number"),
            "{page}"
        );
        let page = browser
            .submit("approval-send-code", &[("identifier", typed)])
            .await;
        assert!(page.contains("Enter the 6-digit code"), "{typed}: {page}");
        assert!(page.contains("is yours, we sent a code to it."), "{page}");
        let page = browser
            .submit("approval-verify-code", &[("code", "123456")])
            .await;
        assert!(
            page.contains("That code is not right. 4 tries left."),
            "{page}"
        );
        // The same words a real request gives a stranger.
        let notice = |html: &str| {
            html.split("role=\"alert\">")
                .nth(1)
                .map(|rest| rest.split('<').next().unwrap_or_default().to_owned())
        };
        assert_eq!(notice(&page), notice(&real_wrong));
        assert!(real_sent.contains("is yours, we sent a code to it."));
    }
    // Nothing went to anyone.
    assert_eq!(outbox(&app).await.len(), before, "no code was sent");
    app.stop().await;
}

#[tokio::test]
async fn a_known_and_an_unknown_address_and_the_first_and_sixth_send_read_the_same() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (_, link) = agent.start("bob", "sms").await;
    let mut answers: Vec<Vec<String>> = Vec::new();
    for (typed, masked) in [
        ("alice@example.com", "a•••e@example.com"),
        ("nobody@example.com", "n•••y@example.com"),
    ] {
        let mut browser = Browser::new(&app, &link);
        let mut pages = Vec::new();
        for _ in 0..6 {
            let page = browser
                .submit_hidden_less("approval-send-code", &[("identifier", typed)])
                .await;
            pages.push(said(&page, masked));
        }
        for _ in 0..6 {
            let page = browser
                .submit_hidden_less("approval-verify-code", &[("code", "123456")])
                .await;
            pages.push(said(&page, masked));
        }
        answers.push(pages);
    }
    assert_eq!(answers[0], answers[1]);
    // The session's allowance: three codes, five tries.
    assert!(answers[0][3].contains("Too many codes were asked for."));
    assert!(answers[0][5].contains("Too many codes were asked for."));
    assert!(answers[0][6].contains("That code is not right. 4 tries left."));
    assert!(answers[0][11].contains("no tries are left"));
    app.stop().await;
}

#[tokio::test]
async fn case_16_a_code_sent_for_one_request_does_not_sign_in_on_another() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (x_flow, x_link) = agent.start("alice@example.com", "email").await;
    let (y_flow, y_link) = agent.start("alice@example.com", "email").await;
    let mut y = Browser::new(&app, &y_link);
    y.submit("approval-send-code", &[]).await;
    let code_y = code_for(&app, "alice@example.com").await;
    let mut x = Browser::new(&app, &x_link);
    x.submit("approval-send-code", &[]).await;
    let code_x = code_for(&app, "alice@example.com").await;
    // The message says what the code is for.
    let message = outbox(&app).await[0]["body"].as_str().unwrap().to_owned();
    assert!(
        message.contains("for your call with Demo Bank"),
        "{message}"
    );

    // X's code on Y's page: refused, and Y is not signed in.
    if code_x != code_y {
        let page = y.submit("approval-verify-code", &[("code", &code_x)]).await;
        assert!(
            page.contains("That code is not right. 4 tries left."),
            "{page}"
        );
        assert!(!page.contains("Approve this request?"), "{page}");
    }
    // On X's page it works.
    let page = x.submit("approval-verify-code", &[("code", &code_x)]).await;
    assert!(page.contains("Approve this request?"), "{page}");
    // And Y's own code still works on Y.
    let page = y.submit("approval-verify-code", &[("code", &code_y)]).await;
    assert!(page.contains("Approve this request?"), "{page}");
    for id in [&x_flow["id"], &y_flow["id"]] {
        let flow = agent.flow(id.as_str().unwrap()).await;
        assert_eq!(flow["status"], "pending");
    }
    app.stop().await;
}

#[tokio::test]
async fn case_30_a_strangers_wrong_codes_do_not_lock_the_customer_out() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    // A stranger has a live link (a request for bob's user id) and types alice's address, in
    // one fresh session after another: fifteen wrong codes for alice.
    let (_, stranger_link) = agent.start("bob", "sms").await;
    for _ in 0..3 {
        let mut stranger = Browser::new(&app, &stranger_link);
        stranger
            .submit("approval-send-code", &[("identifier", "alice@example.com")])
            .await;
        let right = code_for(&app, "alice@example.com").await;
        for _ in 0..5 {
            stranger
                .submit("approval-verify-code", &[("code", wrong_for(&right))])
                .await;
        }
        // The session's allowance is spent: even the right code is refused there.
        let page = stranger
            .submit("approval-verify-code", &[("code", &right)])
            .await;
        assert!(page.contains("no tries are left"), "{page}");
        assert!(!page.contains("Approve this request?"), "{page}");
    }

    // Alice, on her own request, from her own session: signed in with her code.
    let (flow, link) = agent.start("alice@example.com", "email").await;
    let mut alice = Browser::new(&app, &link);
    alice.submit("approval-send-code", &[]).await;
    let code = code_for(&app, "alice@example.com").await;
    let page = alice
        .submit("approval-verify-code", &[("code", &code)])
        .await;
    assert!(page.contains("Approve this request?"), "{page}");
    let page = alice
        .submit("approval-decide", &[("decision", "approve")])
        .await;
    assert!(page.contains("You can go back to your call."), "{page}");
    assert_eq!(
        agent.settled(flow["id"].as_str().unwrap()).await["status"],
        "approved"
    );
    app.stop().await;
}

#[tokio::test]
async fn on_postgresql_a_customer_approves_and_the_agent_sees_them_verified() {
    let url = crate::kit::fresh_postgres_database().await;
    let app = TestApp::spawn_configured(|config| {
        config.database_url = Some(infra::secret::Secret::new(url.clone()));
        config.sealing_key = Some(infra::secret::Secret::new("ab".repeat(32)));
    })
    .await;
    // Nothing of the BFF's in the data folder: the flows live in PostgreSQL.
    assert!(!app.bff_store_path().exists());
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let mut browser = Browser::new(&app, &link);
    approve_with_code(&mut browser, &app, "+15555550101").await;
    let done = agent.settled(flow["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(
        kinds(&done),
        ["sent", "link_opened", "signed_in", "approved", "verified"]
    );

    // The rows are in PostgreSQL, the handle sealed under the configured key.
    let options = infra::postgres::options(&url).unwrap();
    let store = server::store::PgStore::open(options).await.unwrap();
    let stored = store
        .flow(flow["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, app::flow::FlowStatus::Approved);
    assert!(stored.auth_req_id.unwrap().starts_with("v1."));
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_a_verification_the_provider_calls_and_the_open_streams() {
    let app = TestApp::spawn_configured(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let agent = Agent::sign_in(&app).await;
    let stream = app.events(&agent.cookie, "", None).await;
    assert_eq!(stream.status(), 200);
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let id = flow["id"].as_str().unwrap().to_owned();
    let mut browser = Browser::new(&app, &link);
    approve_with_code(&mut browser, &app, "+15555550101").await;
    let mut done = agent.settled(&id).await;
    for _ in 0..40 {
        if kinds(&done).contains(&"verified".to_owned()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        done = agent.flow(&id).await;
    }
    assert!(kinds(&done).contains(&"verified".to_owned()), "{done}");

    let text = app.metrics().await;
    let value = |series: &str| infra::metrics::sample(&text, series).unwrap_or(0.0);
    for (series, expected) in [
        (
            r#"countersign_verifications_started_total{channel="sms"}"#,
            1.0,
        ),
        (
            r#"countersign_verifications_ended_total{outcome="verified"}"#,
            1.0,
        ),
        (
            r#"countersign_verifications_ended_total{outcome="failed"}"#,
            0.0,
        ),
        (
            r#"countersign_verification_decision_seconds_count{decision="approved"}"#,
            1.0,
        ),
        ("countersign_verification_verified_seconds_count", 1.0),
        (r#"countersign_polls_total{answer="verified"}"#, 1.0),
        (
            r#"countersign_oidc_call_seconds_count{endpoint="backchannel"}"#,
            1.0,
        ),
        (
            r#"countersign_oidc_call_seconds_count{endpoint="otp_authenticate"}"#,
            1.0,
        ),
        (r#"countersign_sign_ins_total{result="signed_in"}"#, 1.0),
        ("countersign_event_streams_open", 1.0),
        (
            r#"countersign_http_requests_total{route="/auth/callback",status="2xx"}"#,
            1.0,
        ),
        // The embedded provider's own series, served beside the BFF's.
        (
            r#"countersign_provider_http_requests_total{endpoint="/cis/oidc/backchannel",answer="ok"}"#,
            1.0,
        ),
        // The link, then the one-time code, both to the phone.
        (
            r#"countersign_provider_messages_total{channel="sms",result="sent"}"#,
            2.0,
        ),
        (
            r#"countersign_provider_decisions_total{decision="approved"}"#,
            1.0,
        ),
    ] {
        assert_eq!(value(series), expected, "{series}\n{text}");
    }
    // Polling took at least one token call, and none failed.
    assert!(value(r#"countersign_oidc_call_seconds_count{endpoint="token"}"#) >= 1.0);
    assert!(
        !text.contains("countersign_oidc_call_errors_total{"),
        "{text}"
    );
    // No customer, agent, flow or link in any label.
    for secret in ["+15555550101", "alice", AGENT.0, id.as_str(), link.as_str()] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }

    // A closed stream is no longer counted.
    drop(stream);
    let mut open = 1.0;
    for _ in 0..40 {
        open = infra::metrics::sample(&app.metrics().await, "countersign_event_streams_open")
            .unwrap_or(-1.0);
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open, 0.0);
    app.stop().await;
}

/// The customer's whole approval on `browser` (of `app`): open the link, send the code to
/// `to`, type it, approve.
async fn approve_with_code(browser: &mut Browser<'_>, app: &TestApp, to: &str) {
    browser.open().await;
    browser.submit("approval-send-code", &[]).await;
    let code = code_for(app, to).await;
    let page = browser
        .submit("approval-verify-code", &[("code", &code)])
        .await;
    assert!(page.contains("Approve this request?"), "{page}");
    let page = browser
        .submit("approval-decide", &[("decision", "approve")])
        .await;
    assert!(page.contains("data-outcome=\"approved\""), "{page}");
}

/// A provider running on its own (as `countersign-provider` does), its links pointing at the
/// approval page on `bff_port`: its URL, and what stops it.
async fn standalone_provider(
    bff_port: u16,
) -> (
    String,
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
    tempfile::TempDir,
) {
    let data = tempfile::TempDir::new().unwrap();
    let provider = provider::Provider::bind_with(
        crate::kit::provider_config(&data),
        provider::Options {
            links: Some(provider::Links {
                app_id: "demo-bank".into(),
                client_id: "agent-console".into(),
                login_uri: format!("http://127.0.0.1:{bff_port}/approve"),
                notify: None,
            }),
            ..provider::Options::default()
        },
    )
    .await
    .unwrap();
    let url = format!("http://{}", provider.local_addr());
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(provider.serve(stop.clone().cancelled_owned()));
    (url, stop, serving, data)
}

/// A free port on the loopback (for a BFF whose address the provider must know first).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A BFF on `port` talking to the standalone provider at `url` in the Mosaic profile, changed
/// by `change`.
async fn bff_of(url: &str, port: u16, change: impl FnOnce(&mut server::config::Config)) -> TestApp {
    TestApp::spawn_with_configured(
        server::config::ProviderMode::External {
            profile: server::oidc::Profile::Mosaic,
            url: url.to_owned(),
        },
        |config| {
            config.listen = format!("127.0.0.1:{port}").parse().unwrap();
            // The standalone provider's client is registered for poll, as Mosaic's guide has it.
            config.delivery = server::config::TokenDelivery::Poll;
            change(config);
        },
    )
    .await
}

/// A cluster's shape: the provider runs on its own and the BFF reaches it with its default
/// `mosaic` profile, discovery included.
#[tokio::test]
async fn with_a_standalone_provider_in_the_mosaic_profile_an_approval_ends_verified() {
    let port = free_port();
    let (url, stop, serving, _data) = standalone_provider(port).await;
    // The Mosaic profile's discovery document is where the BFF looks for it.
    let discovery: Value = reqwest::get(format!("{url}/cis/oidc/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], url.as_str());

    let app = bff_of(&url, port, |_| {}).await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let mut browser = Browser::new(&app, &link);
    approve_with_code(&mut browser, &app, "+15555550101").await;
    let done = agent.settled(flow["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(
        kinds(&done),
        ["sent", "link_opened", "signed_in", "approved", "verified"]
    );
    app.stop().await;
    stop.cancel();
    serving.await.unwrap().unwrap();
}

/// Two BFF instances on one PostgreSQL database behind one provider: the agent signs in and
/// starts on the first, the customer's steps land on the second, and the agent's stream on the
/// second sees every event, the first's poller included (LISTEN/NOTIFY carries "look again").
#[tokio::test]
async fn two_instances_on_one_database_share_sessions_flows_and_the_stream() {
    let database = crate::kit::fresh_postgres_database().await;
    let (port_a, port_b) = (free_port(), free_port());
    let (url, stop, serving, _data) = standalone_provider(port_a).await;
    let shared = |config: &mut server::config::Config| {
        config.database_url = Some(infra::secret::Secret::new(database.clone()));
        config.sealing_key = Some(infra::secret::Secret::new("c3".repeat(32)));
    };
    let a = bff_of(&url, port_a, shared).await;
    let b = bff_of(&url, port_b, shared).await;

    let agent = Agent::sign_in(&a).await;
    // The session is in the database: the second instance knows the agent too.
    let mut stream = SseReader::new(b.events(&agent.cookie, "", None).await);
    assert_eq!(stream.frame().await, "retry: 3000");
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let id = flow["id"].as_str().unwrap();
    let mut browser = Browser::new(&b, &link.replace(&a.url, &b.url));
    approve_with_code(&mut browser, &b, "+15555550101").await;

    // The stream on the second instance: every event of the flow, once, in order; the last
    // written by the first instance's poller.
    let mut seen = Vec::new();
    while !seen.contains(&"verified".to_owned()) {
        let frame = stream.frame().await;
        if frame.starts_with(':') {
            continue;
        }
        assert!(frame.contains(id), "{frame}");
        let kind = frame
            .lines()
            .find_map(|line| line.strip_prefix("event: "))
            .unwrap()
            .to_owned();
        seen.push(kind);
    }
    assert_eq!(
        seen,
        ["sent", "link_opened", "signed_in", "approved", "verified"]
    );
    let done = agent.settled(id).await;
    assert_eq!(done["status"], "approved", "{done}");
    a.stop().await;
    b.stop().await;
    stop.cancel();
    serving.await.unwrap().unwrap();
}

/// The embedded default is ping mode: the provider pings `/ciba/notify` on the customer's
/// approval, and the tokens are fetched then, with no poll that finds the request pending.
#[tokio::test]
async fn in_ping_mode_the_providers_ping_fetches_the_tokens_before_any_poll() {
    let app = TestApp::spawn_configured(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let id = flow["id"].as_str().unwrap().to_owned();
    let stored = store(&app).await.flow(&id).await.unwrap().unwrap();
    assert!(stored.notification_token_hash.is_some(), "a token was sent");
    let mut browser = Browser::new(&app, &link);
    approve_with_code(&mut browser, &app, "+15555550101").await;
    let done = agent.settled(&id).await;
    assert_eq!(done["status"], "approved", "{done}");

    let text = app.metrics().await;
    let value = |series: &str| infra::metrics::sample(&text, series).unwrap_or(0.0);
    for (series, expected) in [
        (
            r#"countersign_provider_pings_total{result="delivered"}"#,
            1.0,
        ),
        (
            r#"countersign_http_requests_total{route="/ciba/notify",status="2xx"}"#,
            1.0,
        ),
        (r#"countersign_polls_total{answer="verified"}"#, 1.0),
        (r#"countersign_polls_total{answer="pending"}"#, 0.0),
    ] {
        assert_eq!(value(series), expected, "{series}\n{text}");
    }
    let spent = store(&app).await.flow(&id).await.unwrap().unwrap();
    assert_eq!(
        spent.notification_token_hash, None,
        "the ping spent its token"
    );
    app.stop().await;
}

/// `/ciba/notify` without the flow's token: 401 (or 400 for a body that is not a ping), and the
/// flow is as it was.
#[tokio::test]
async fn a_ping_without_the_flows_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (flow, link) = agent.start("+15555550101", "sms").await;
    let id = flow["id"].as_str().unwrap().to_owned();
    let auth_req_id = reqwest::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "auth_req_id")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    let before = store(&app).await.flow(&id).await.unwrap().unwrap();
    let ping = |token: Option<&str>, body: String| {
        let mut request = app
            .http
            .post(format!("{}/ciba/notify", app.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let body = serde_json::json!({ "auth_req_id": auth_req_id }).to_string();
    // Shaped like the BFF's tokens (43 base64url characters), so it is looked up; a token of
    // another shape is refused before that.
    let wrong = "not-the-token-0123456789abcdef-0123456789ab";
    assert_eq!(wrong.len(), 43);
    for (token, body, status) in [
        (None, body.clone(), 401),
        (Some("not-the-token-0123456789abcdef"), body.clone(), 401),
        (Some(wrong), body.clone(), 401),
        (Some("not-the-token-0123456789abcdef"), body.clone(), 401),
        (
            Some(wrong),
            serde_json::json!({ "auth_req_id": "no-such-request" }).to_string(),
            401,
        ),
        (Some(wrong), "{".to_owned(), 400),
        (Some(wrong), "x".repeat(4096), 400),
    ] {
        let response = ping(token, body).await.unwrap();
        assert_eq!(response.status(), status, "{token:?}");
        if status == 401 {
            assert_eq!(
                response.headers()["www-authenticate"],
                r#"Bearer error="invalid_token""#
            );
        }
        let answer: Value = response.json().await.unwrap();
        assert!(answer["error_description"].as_str().is_some(), "{answer}");
    }
    let after = store(&app).await.flow(&id).await.unwrap().unwrap();
    assert_eq!(after.version, before.version);
    assert_eq!(after.next_poll_at, before.next_poll_at);
    assert_eq!(
        after.notification_token_hash,
        before.notification_token_hash
    );
    app.stop().await;
}

/// A phone posting the approval page's forms without scripts shows whatever comes back: a
/// refusal of a plain form post (the CSRF guard's, the body limit's) is a page with its
/// sentence and a link back to the approval page, never JSON.
#[tokio::test]
async fn a_refused_form_post_is_shown_as_a_page_with_a_way_back() {
    let app = TestApp::spawn().await;
    let agent = Agent::sign_in(&app).await;
    let (_, link) = agent.start("+15555550101", "sms").await;
    let page = link.strip_prefix(&app.url).unwrap().to_owned();
    let post = |origin: &str, body: String| {
        app.http
            .post(format!("{}/api/approval-report", app.url))
            .header("Accept", HTML)
            .header("Origin", origin)
            .header("Referer", &link)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let cases = [
        (
            post("https://evil.example", "auth_req_id=x".to_owned()),
            403,
        ),
        (
            post(&app.url, format!("auth_req_id={}", "x".repeat(70_000))),
            413,
        ),
    ];
    for (answer, status) in cases {
        let answer = answer.await.unwrap();
        assert_eq!(answer.status(), status);
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
        );
        assert_eq!(answer.headers()["cache-control"], "no-store");
        let html = answer.text().await.unwrap();
        let back = format!("href=\"{}\"", page.replace('&', "&amp;"));
        assert!(html.contains(&back), "{html}");
        assert!(html.contains("Back to the page"), "{html}");
        assert!(!html.contains("\"kind\""), "{html}");
    }

    // A Referer from elsewhere is never linked; a caller asking for JSON still gets JSON.
    let answer = app
        .http
        .post(format!("{}/api/approval-report", app.url))
        .header("Accept", HTML)
        .header("Origin", "https://evil.example")
        .header("Referer", "https://evil.example/approve?x=1")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("auth_req_id=x")
        .send()
        .await
        .unwrap();
    let html = answer.text().await.unwrap();
    assert!(html.contains("href=\"/\""), "{html}");
    assert!(!html.contains("evil.example"), "{html}");
    let answer = app
        .http
        .post(format!("{}/api/approval-report", app.url))
        .header("Accept", "application/json")
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("auth_req_id=x")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    assert_eq!(answer.headers()["content-type"], "application/json");
    app.stop().await;
}
