//! The console's server functions over HTTP: the session decides who may do what, identifiers
//! are checked, flows are per agent (supervisors see all), and starts are rate limited.

use serde_json::Value;

use crate::kit::{AGENT, SUPERVISOR, TestApp, refused_for_a_while};

async fn call(
    app: &TestApp,
    cookie: Option<&str>,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}{path}", app.url))
        .header("Accept", "application/json")
        .header("Origin", &app.url)
        .form(form);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    request.send().await.unwrap()
}

async fn start(app: &TestApp, cookie: &str, identifier: &str, channel: &str) -> reqwest::Response {
    call(
        app,
        Some(cookie),
        "/api/start-verification",
        &[
            ("request[identifier]", identifier),
            ("request[channel]", channel),
        ],
    )
    .await
}

#[tokio::test]
async fn an_agent_starts_a_verification_and_sees_its_code() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(AGENT).await;
    let me: Value = call(&app, Some(&cookie), "/api/me", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "Avery Agent");
    assert_eq!(me["supervisor"], false);
    assert!(me["dev_outbox"].as_str().unwrap().ends_with("/dev/outbox"));

    let response = start(&app, &cookie, " +1 555 555 0101 ", "sms").await;
    assert_eq!(response.status(), 200);
    let flow: Value = response.json().await.unwrap();
    assert_eq!(flow["status"], "pending");
    assert_eq!(flow["hint_type"], "phone");
    assert_eq!(flow["agent"], "Avery Agent");
    let code = flow["binding_code"].as_str().unwrap();
    assert_eq!(code.len(), 7);
    assert_eq!(flow["timeline"][0]["kind"], "sent");
    // The provider sent the customer a link carrying the same code.
    let outbox: Value = app
        .http
        .get(format!("{}/dev/outbox.json", app.provider_issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = outbox[0]["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/approve?auth_req_id=", app.url)),
        "{link}"
    );
    assert!(link.ends_with(&format!("binding_message={code}")), "{link}");
    // Nothing secret comes back to the browser.
    let auth_req_id = link
        .split("auth_req_id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!flow.to_string().contains(auth_req_id));
    // Nor is the handle kept in the clear: a copy of the database does not hold it.
    let database = app.database_bytes();
    assert!(
        !database
            .windows(auth_req_id.len())
            .any(|window| window == auth_req_id.as_bytes()),
        "the auth_req_id is in the BFF's database in the clear"
    );

    let mine: Value = call(&app, Some(&cookie), "/api/verifications", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_session_nothing_happens() {
    let app = TestApp::spawn().await;
    let me: Value = call(&app, None, "/api/me", &[]).await.json().await.unwrap();
    assert!(me.is_null());
    let refused = call(
        &app,
        None,
        "/api/start-verification",
        &[
            ("request[identifier]", "alice"),
            ("request[channel]", "link"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 401);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Sign in to continue.")
    );
}

#[tokio::test]
async fn case_22_agents_see_their_own_flows_and_supervisors_all() {
    let app = TestApp::spawn().await;
    let agent = app.sign_in(AGENT).await;
    let supervisor = app.sign_in(SUPERVISOR).await;
    let flow: Value = start(&app, &agent, "alice", "link")
        .await
        .json()
        .await
        .unwrap();
    let id = flow["id"].as_str().unwrap();
    assert!(
        flow["link"]
            .as_str()
            .unwrap()
            .contains("/approve?auth_req_id=")
    );

    let theirs: Value = call(&app, Some(&supervisor), "/api/verifications", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs[0]["id"], id);
    // The supervisor's own list is everyone's; an agent's list is theirs only.
    let _ = start(&app, &supervisor, "bob@example.com", "email").await;
    let agents: Value = call(&app, Some(&agent), "/api/verifications", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(agents.as_array().unwrap().len(), 1);

    // A supervisor may cancel another agent's flow (the engine's tests cover an agent who may
    // not); once ended, it cannot be cancelled again.
    let other = app.sign_in(SUPERVISOR).await;
    let cancelled = call(
        &app,
        Some(&other),
        "/api/cancel-verification",
        &[("flow_id", id)],
    )
    .await;
    assert_eq!(cancelled.status(), 200);
    let again = call(
        &app,
        Some(&agent),
        "/api/cancel-verification",
        &[("flow_id", id)],
    )
    .await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already ended"));
    let unknown = call(
        &app,
        Some(&agent),
        "/api/cancel-verification",
        &[("flow_id", "nope")],
    )
    .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn bad_identifiers_and_notes_are_refused_plainly() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(AGENT).await;
    let empty = start(&app, &cookie, "   ", "sms").await;
    assert_eq!(empty.status(), 400);
    assert!(
        empty
            .text()
            .await
            .unwrap()
            .contains("Type the customer's email")
    );
    for control in ["ali\0ce", "alice\u{7}", "a\u{1b}[2Jb"] {
        let refused = start(&app, &cookie, control, "link").await;
        assert_eq!(refused.status(), 400, "{control:?}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("Type the customer's email")
        );
    }
    let long_note = "x".repeat(121);
    let refused = call(
        &app,
        Some(&cookie),
        "/api/start-verification",
        &[
            ("request[identifier]", "alice"),
            ("request[channel]", "link"),
            ("request[custom_message]", &long_note),
        ],
    )
    .await;
    assert_eq!(refused.status(), 400);
    // An unknown customer: the provider's refusal ends the flow as failed, with a sentence.
    let unknown: Value = start(&app, &cookie, "nobody@example.com", "email")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unknown["status"], "failed");
    assert!(unknown["outcome"].as_str().unwrap().ends_with('.'));
}

#[tokio::test]
async fn case_14_one_customer_gets_three_requests_per_ten_minutes() {
    let app = TestApp::spawn().await;
    let agent = app.sign_in(AGENT).await;
    let supervisor = app.sign_in(SUPERVISOR).await;
    for hint in ["alice", "alice", " alice "] {
        assert_eq!(start(&app, &agent, hint, "link").await.status(), 200);
    }
    // Counted per customer across agents, whatever the spelling of the number.
    let limited = start(&app, &supervisor, "alice", "link").await;
    refused_for_a_while(&limited);
    assert_eq!(start(&app, &agent, "bob", "link").await.status(), 200);
}

#[tokio::test]
async fn case_15_many_different_numbers_from_one_agent_are_capped() {
    let app = TestApp::spawn().await;
    let agent = app.sign_in(AGENT).await;
    let supervisor = app.sign_in(SUPERVISOR).await;
    let allowed = server::limits::BffLimits::default().starts_per_agent.max;
    for n in 0..allowed {
        let number = format!("+1555777{n:04}");
        assert_eq!(start(&app, &agent, &number, "sms").await.status(), 200);
    }
    refused_for_a_while(&start(&app, &agent, "+15557779999", "sms").await);
    // Counted per agent: another agent still starts.
    assert_eq!(
        start(&app, &supervisor, "+15557779999", "sms")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_operator_sets_the_limits_of_both_sides() {
    // One start per customer at the BFF, and at the provider one backchannel request per
    // customer: each side's limit, set through the configuration, is the one applied.
    let app = TestApp::spawn_configured(|config| {
        config.limits.starts_per_customer.max = 1;
        if let server::ProviderMode::Embedded(provider) = &mut config.provider {
            provider.limits.backchannel_per_user.max = 1;
        }
    })
    .await;
    let agent = app.sign_in(AGENT).await;
    assert_eq!(start(&app, &agent, "alice", "link").await.status(), 200);
    refused_for_a_while(&start(&app, &agent, "alice", "link").await);

    let app = TestApp::spawn_configured(|config| {
        if let server::ProviderMode::Embedded(provider) = &mut config.provider {
            provider.limits.backchannel_per_user.max = 1;
        }
    })
    .await;
    let agent = app.sign_in(AGENT).await;
    assert_eq!(start(&app, &agent, "bob", "link").await.status(), 200);
    // The BFF allows a second start; the provider refuses it, and the flow says why.
    let second: Value = start(&app, &agent, "bob", "link")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["status"], "failed", "{second}");
}

/// `GET /api/audit.csv{query}` with `cookie`.
async fn audit(app: &TestApp, cookie: Option<&str>, query: &str) -> reqwest::Response {
    let mut request = app.http.get(format!("{}/api/audit.csv{query}", app.url));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn supervisors_export_every_verification_as_csv() {
    let app = TestApp::spawn().await;
    let agent = app.sign_in(AGENT).await;
    let sent: Value = start(&app, &agent, "alice@example.com", "email")
        .await
        .json()
        .await
        .unwrap();
    // An identifier a spreadsheet would run as a formula.
    let formula: Value = start(&app, &agent, "=HYPERLINK(\"x\",\"y\")", "link")
        .await
        .json()
        .await
        .unwrap();

    // Signed out, and agents, get a sentence and no data.
    let response = audit(&app, None, "").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.text().await.unwrap(),
        "Sign in to export the audit log."
    );
    let response = audit(&app, Some(&agent), "").await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.text().await.unwrap(),
        "Only supervisors can export the audit log."
    );

    let supervisor = app.sign_in(SUPERVISOR).await;
    let response = audit(&app, Some(&supervisor), "").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"countersign-audit-"),
        "{disposition}"
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines.len(),
        4,
        "a header, two rows and the last CRLF: {csv}"
    );
    // Every cell quoted; rows without quotes inside split at `","`.
    let cells = |line: &str| -> Vec<String> {
        let inner = line.strip_prefix('"').unwrap().strip_suffix('"').unwrap();
        inner.split("\",\"").map(str::to_owned).collect()
    };
    assert_eq!(
        cells(lines[0])[..5],
        ["flow_id", "started_at", "agent", "agent_id", "customer"]
    );
    assert_eq!(lines[3], "");
    // Newest first.
    let id = |flow: &Value| flow["id"].as_str().unwrap().to_owned();
    assert!(
        lines[1].starts_with(&format!("\"{}\",", id(&formula))),
        "{csv}"
    );
    assert!(
        lines[1].contains(",\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\",\"user_id\",\"link\","),
        "{csv}"
    );
    let row = cells(lines[2]);
    assert_eq!(row[0], id(&sent));
    assert_eq!(row[2], "Avery Agent");
    assert_eq!(row[4], "alice@example.com");
    assert_eq!(
        &row[5..9],
        [
            "email",
            "email",
            sent["binding_code"].as_str().unwrap(),
            "pending"
        ]
    );
    assert!(row[1].ends_with('Z'), "{}", row[1]);

    // A range before today holds no verification; bad ranges are refused with a sentence.
    let response = audit(&app, Some(&supervisor), "?from=2020-01-01&to=2020-01-31").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap().matches("\r\n").count(), 1);
    let response = audit(&app, Some(&supervisor), "?from=2020-01-31&to=2020-01-01").await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        "The first day comes after the last one."
    );
    app.stop().await;
}

/// A ticket or call id given with a verification is kept with it: in the flow, in the CSV export's
/// last column; one that is too long or not plain is refused with a sentence and costs nothing.
#[tokio::test]
async fn a_ticket_id_goes_with_the_verification_into_the_export() {
    let app = TestApp::spawn().await;
    let agent = app.sign_in(AGENT).await;
    let start_with_ticket = |ticket: String| {
        let (app, agent) = (&app, &agent);
        async move {
            call(
                app,
                Some(agent),
                "/api/start-verification",
                &[
                    ("request[identifier]", "alice@example.com"),
                    ("request[channel]", "email"),
                    ("request[ticket]", ticket.as_str()),
                ],
            )
            .await
        }
    };
    // More refusals than the customer has starts: none is counted.
    let too_long = "7".repeat(proto::MAX_TICKET_CHARS + 1);
    for refused in [
        too_long.as_str(),
        too_long.as_str(),
        too_long.as_str(),
        "=1+1",
        "a<b",
    ] {
        let answer = start_with_ticket(refused.to_owned()).await;
        assert_eq!(answer.status(), 400, "{refused}");
        let text = answer.text().await.unwrap();
        assert!(text.contains("ticket or call id"), "{text}");
    }
    let flow: Value = start_with_ticket(" INC-20461 ".to_owned())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flow["status"], "pending", "{flow}");
    assert_eq!(flow["ticket"], "INC-20461");

    // One a spreadsheet would read as a number: defused in the export, kept as typed.
    let negative: Value = start_with_ticket("-7".to_owned())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(negative["ticket"], "-7");
    let supervisor = app.sign_in(SUPERVISOR).await;
    let csv = audit(&app, Some(&supervisor), "")
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(lines[0].ends_with(",\"ticket\""), "{}", lines[0]);
    let row_of = |flow: &Value| {
        let id = format!("\"{}\",", flow["id"].as_str().unwrap());
        lines
            .iter()
            .find(|line| line.starts_with(&id))
            .copied()
            .unwrap_or_else(|| panic!("no row for {id}: {csv}"))
    };
    assert!(row_of(&negative).ends_with(",\"'-7\""), "{csv}");
    assert!(row_of(&flow).ends_with(",\"INC-20461\""), "{csv}");
    app.stop().await;
}

/// Starts a verification for `identifier` by `channel` with the note `note`.
async fn start_with_note(
    app: &TestApp,
    cookie: &str,
    identifier: &str,
    channel: &str,
    note: &str,
) -> reqwest::Response {
    call(
        app,
        Some(cookie),
        "/api/start-verification",
        &[
            ("request[identifier]", identifier),
            ("request[channel]", channel),
            ("request[custom_message]", note),
        ],
    )
    .await
}

#[tokio::test]
async fn case_10_a_note_the_provider_would_refuse_is_refused_before_anything_is_counted() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(AGENT).await;
    let limit = proto::MAX_NOTE_CHARS;
    assert_eq!(limit, provider::ciba::request::MAX_CUSTOM_MESSAGE_CHARS);
    let too_long = "x".repeat(limit + 1);
    // More refusals than the customer has starts: none of them is counted, none is sent.
    for note in [
        too_long.as_str(),
        too_long.as_str(),
        too_long.as_str(),
        "see evil.example/login now",
        "<b>urgent</b>",
    ] {
        let refused = start_with_note(&app, &cookie, "+15555550101", "sms", note).await;
        assert_eq!(refused.status(), 400, "{note}");
        let text = refused.text().await.unwrap();
        assert!(text.contains("note to the customer"), "{text}");
    }
    let outbox: Value = app
        .http
        .get(format!("{}/dev/outbox.json", app.provider_issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outbox.as_array().unwrap().len(), 0, "nothing was sent");

    // The customer's three starts are all still there; a note of exactly the limit reaches the
    // provider and the customer.
    let longest = "y".repeat(limit);
    for _ in 0..3 {
        let started = start_with_note(&app, &cookie, "+15555550101", "sms", &longest).await;
        assert_eq!(started.status(), 200);
        let flow: Value = started.json().await.unwrap();
        assert_eq!(flow["status"], "pending", "{flow}");
    }
    let outbox: Value = app
        .http
        .get(format!("{}/dev/outbox.json", app.provider_issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        outbox[0]["body"].as_str().unwrap().contains(&longest),
        "{outbox}"
    );
    refused_for_a_while(&start_with_note(&app, &cookie, "+15555550101", "sms", "hello").await);
    app.stop().await;
}

/// Checks `response` is a 400 with the plain sentence and no serde text.
async fn unreadable(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 400, "{what}");
    let text = response.text().await.unwrap();
    assert!(
        text.contains(&app::refusal::Refusal::Unreadable.to_string()),
        "{what}: {text}"
    );
    for serde in [
        "unknown variant",
        "missing field",
        "expected",
        "Pigeon",
        "Args|",
        "invalid",
    ] {
        assert!(!text.contains(serde), "{what}: {text}");
    }
}

#[tokio::test]
async fn malformed_server_function_calls_get_a_400_with_a_sentence() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(AGENT).await;
    unreadable(
        start(&app, &cookie, "alice", "Pigeon").await,
        "channel=Pigeon",
    )
    .await;
    unreadable(
        call(
            &app,
            Some(&cookie),
            "/api/start-verification",
            &[("request[identifier]", "alice")],
        )
        .await,
        "no channel",
    )
    .await;
    unreadable(
        call(&app, Some(&cookie), "/api/start-verification", &[]).await,
        "no request",
    )
    .await;
    for (content_type, body) in [
        (
            "application/json",
            &br#"{"request": {"identifier": "alice"}}"#[..],
        ),
        (
            "application/x-www-form-urlencoded",
            &b"\xff\xfe\x00garbage"[..],
        ),
        ("text/plain", &b"hello"[..]),
    ] {
        let response = app
            .http
            .post(format!("{}/api/start-verification", app.url))
            .header("Origin", &app.url)
            .header("Cookie", &cookie)
            .header("Content-Type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        unreadable(response, content_type).await;
    }
    // Anonymous callers too, and a wrong argument type on another function.
    unreadable(
        call(
            &app,
            None,
            "/api/start-verification",
            &[("request[channel]", "sms")],
        )
        .await,
        "anonymous",
    )
    .await;

    // The console's own refusals keep their status and sentence.
    let refused = start(&app, &cookie, "  ", "sms").await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Type the customer's email")
    );
    app.stop().await;
}
