use serde_json::json;

use super::*;

fn error(status: u16, code: &str) -> Answer {
    Answer::json(
        status,
        &json!({"error": code, "error_description": "SENSITIVE text abc123"}),
    )
}

fn tokens() -> Value {
    json!({
        "access_token": "at-123", "token_type": "Bearer", "expires_in": 3600,
        "id_token": "a.b.c", "scope": "openid email", "refresh_token": "rt-1",
    })
}

fn request(channel: Channel, custom: Option<&str>) -> BackchannelRequest {
    BackchannelRequest {
        login_hint: "alice@example.com".into(),
        hint_type: HintType::Email,
        channel,
        binding_message: Some("K7-42".into()),
        custom_message: custom.map(str::to_owned),
        requested_expiry: Some(300),
        scope: "openid email".into(),
        notification_token: None,
    }
}

#[test]
fn mosaic_shaped_requests_carry_request_context() {
    for profile in [Profile::Embedded, Profile::Mosaic] {
        let params =
            backchannel_params(profile, &request(Channel::Email, Some("Hello there"))).unwrap();
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("login_hint").as_deref(), Some("alice@example.com"));
        assert_eq!(get("binding_message").as_deref(), Some("K7-42"));
        assert_eq!(get("requested_expiry").as_deref(), Some("300"));
        assert_eq!(get("scope").as_deref(), Some("openid email"));
        let context: Value = serde_json::from_str(&get("request_context").unwrap()).unwrap();
        assert_eq!(
            context,
            json!({"channel": "email", "login_hint_type": "email", "custom_message": "Hello there"})
        );
    }
    let params = backchannel_params(Profile::Mosaic, &request(Channel::Link, None)).unwrap();
    let context = &params
        .iter()
        .find(|(k, _)| *k == "request_context")
        .unwrap()
        .1;
    assert_eq!(
        serde_json::from_str::<Value>(context).unwrap(),
        json!({"channel": "link", "login_hint_type": "email"})
    );
}

#[test]
fn standard_requests_carry_only_standard_parameters() {
    let params = backchannel_params(Profile::Standard, &request(Channel::Sms, Some("Hi"))).unwrap();
    let names: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        ["scope", "login_hint", "binding_message", "requested_expiry"]
    );
}

#[test]
fn a_started_request_is_read() {
    let started = backchannel_started(&Answer::json(
        200,
        &json!({"auth_req_id": "abc", "expires_in": 600, "interval": 5}),
    ))
    .unwrap();
    assert_eq!(started.auth_req_id.expose(), "abc");
    assert_eq!((started.expires_in, started.interval), (600, 5));
    assert_eq!(started.link, None);
    let debug = format!("{started:?}");
    assert!(!debug.contains("abc"), "{debug}");

    let with_link = backchannel_started(&Answer::json(
        200,
        &json!({"auth_req_id": "abc", "expires_in": 600, "link": "https://x/approve?auth_req_id=abc"}),
    ))
    .unwrap();
    assert_eq!(with_link.interval, DEFAULT_INTERVAL_SECS);
    assert!(with_link.link.is_some());
    assert!(!format!("{with_link:?}").contains("abc"));

    for bad in [
        json!({"expires_in": 600}),
        json!({"auth_req_id": "", "expires_in": 600}),
        json!({"auth_req_id": "x", "expires_in": 0}),
        json!("nope"),
    ] {
        assert!(matches!(
            backchannel_started(&Answer::json(200, &bad)),
            Err(OidcError::Protocol(_))
        ));
    }
}

#[test]
fn backchannel_refusals_are_typed() {
    let cases = [
        (error(400, "unknown_user_id"), OidcError::UnknownUser),
        (
            error(400, "invalid_binding_message"),
            OidcError::InvalidBindingMessage,
        ),
        (
            error(401, "invalid_client"),
            OidcError::ClientAuthentication,
        ),
        (error(502, "delivery_failed"), OidcError::DeliveryFailed),
        (
            error(400, "invalid_scope"),
            OidcError::Refused {
                status: 400,
                code: "invalid_scope".into(),
            },
        ),
        (
            Answer {
                status: 401,
                retry_after: None,
                body: b"<html>".to_vec(),
            },
            OidcError::ClientAuthentication,
        ),
        (
            Answer {
                status: 503,
                retry_after: None,
                body: b"<html>SENSITIVE</html>".to_vec(),
            },
            OidcError::Unavailable("it answered HTTP 503".into()),
        ),
        (
            Answer {
                status: 429,
                retry_after: Some("30".into()),
                body: vec![],
            },
            OidcError::RateLimited {
                retry_after: Some(Duration::from_secs(30)),
            },
        ),
    ];
    for (answer, expected) in cases {
        let got = backchannel_started(&answer).unwrap_err();
        assert_eq!(got, expected);
        assert!(!got.to_string().contains("SENSITIVE"), "{got}");
        assert!(!got.to_string().contains("abc123"), "{got}");
    }
}

#[test]
fn error_codes_are_read_only_when_plain() {
    assert_eq!(
        error(400, "slow_down").error_code().as_deref(),
        Some("slow_down")
    );
    assert_eq!(error(400, "<script>").error_code(), None);
    assert_eq!(error(400, &"a".repeat(65)).error_code(), None);
    assert_eq!(Answer::json(400, &json!({"error": 7})).error_code(), None);
    let mosaic_only = Answer::json(400, &json!({"message": ["x"], "error_code": 400}));
    assert_eq!(mosaic_only.error_code(), None);
}

#[test]
fn poll_answers_map_to_outcomes() {
    assert!(matches!(
        poll_outcome(&error(400, "authorization_pending")),
        PollOutcome::Pending
    ));
    assert!(matches!(
        poll_outcome(&error(400, "slow_down")),
        PollOutcome::SlowDown
    ));
    assert!(matches!(
        poll_outcome(&error(400, "access_denied")),
        PollOutcome::Denied
    ));
    assert!(matches!(
        poll_outcome(&error(403, "access_denied")),
        PollOutcome::Denied
    ));
    assert!(matches!(
        poll_outcome(&error(400, "expired_token")),
        PollOutcome::Expired
    ));
    assert!(matches!(
        poll_outcome(&error(400, "invalid_grant")),
        PollOutcome::Invalid(_)
    ));
    assert!(matches!(
        poll_outcome(&error(401, "invalid_client")),
        PollOutcome::Invalid(_)
    ));
    assert!(
        matches!(poll_outcome(&error(400, "weird")), PollOutcome::Invalid(t) if t.contains("weird"))
    );
    assert!(matches!(
        poll_outcome(&error(500, "server_error")),
        PollOutcome::Unavailable(_)
    ));
    assert!(matches!(
        poll_outcome(&Answer { status: 502, retry_after: None, body: b"Bad gateway".to_vec() }),
        PollOutcome::Unavailable(t) if t.contains("502")
    ));
    assert!(matches!(
        poll_outcome(&Answer { status: 429, retry_after: Some("12".into()), body: vec![] }),
        PollOutcome::RateLimited(Some(wait)) if wait == Duration::from_secs(12)
    ));
    assert!(matches!(
        poll_outcome(&Answer {
            status: 429,
            retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
            body: vec![]
        }),
        PollOutcome::RateLimited(None)
    ));
    let PollOutcome::Tokens(tokens) = poll_outcome(&Answer::json(200, &tokens())) else {
        panic!("expected tokens");
    };
    assert_eq!(tokens.access_token.expose(), "at-123");
    assert_eq!(tokens.id_token.expose(), "a.b.c");
    assert_eq!(
        tokens.refresh_token.as_ref().map(Secret::expose),
        Some("rt-1")
    );
    assert_eq!(tokens.expires_in, Some(3600));
    assert_eq!(tokens.scope.as_deref(), Some("openid email"));
    let debug = format!("{tokens:?}");
    assert!(
        !debug.contains("at-123") && !debug.contains("a.b.c") && !debug.contains("rt-1"),
        "{debug}"
    );
}

#[test]
fn token_answers_must_be_bearer_with_an_id_token() {
    let mut body = tokens();
    body["token_type"] = json!("mac");
    assert!(matches!(
        poll_outcome(&Answer::json(200, &body)),
        PollOutcome::Invalid(_)
    ));
    let mut body = tokens();
    body.as_object_mut().unwrap().remove("id_token");
    assert!(matches!(
        poll_outcome(&Answer::json(200, &body)),
        PollOutcome::Invalid(_)
    ));
    let mut body = tokens();
    body["token_type"] = json!("bearer");
    assert!(matches!(
        poll_outcome(&Answer::json(200, &body)),
        PollOutcome::Tokens(_)
    ));
    let PollOutcome::Invalid(text) = poll_outcome(&Answer {
        status: 200,
        retry_after: None,
        body: b"at-123".to_vec(),
    }) else {
        panic!("expected invalid");
    };
    assert!(!text.contains("at-123"), "{text}");
}

#[test]
fn client_tokens_are_reused_until_shortly_before_expiry() {
    assert_eq!(client_token_lifetime(Some(3600)), Duration::from_secs(3540));
    assert_eq!(client_token_lifetime(Some(60)), Duration::from_secs(30));
    assert_eq!(client_token_lifetime(Some(0)), Duration::ZERO);
    assert_eq!(client_token_lifetime(None), Duration::from_secs(60));
    let (token, expires) = client_token(&Answer::json(
        200,
        &json!({"access_token": "ct", "token_type": "Bearer", "expires_in": 3600, "scope": ""}),
    ))
    .unwrap();
    assert_eq!((token.expose(), expires), ("ct", Some(3600)));
    assert_eq!(
        client_token(&error(401, "invalid_client")).unwrap_err(),
        OidcError::ClientAuthentication
    );
}

#[test]
fn one_time_login_answers() {
    assert_eq!(identifier_type(HintType::Phone), "phone_number");
    assert_eq!(identifier_type(HintType::Email), "email");
    assert_eq!(identifier_type(HintType::UserId), "user_id");
    assert_eq!(
        otp_sent(&Answer::json(200, &json!({"message": "A code was sent."}))),
        Ok(())
    );
    assert_eq!(
        otp_sent(&error(400, "unknown_user_id")),
        Err(OidcError::UnknownUser)
    );
    assert_eq!(
        otp_sent(&error(401, "invalid_token")),
        Err(OidcError::InvalidToken)
    );
    assert_eq!(
        otp_sent(&Answer {
            status: 429,
            retry_after: Some("900".into()),
            body: vec![]
        }),
        Err(OidcError::RateLimited {
            retry_after: Some(Duration::from_secs(900))
        })
    );
    assert_eq!(
        otp_session(&error(400, "invalid_grant")).unwrap_err(),
        OidcError::WrongCode {
            attempts_left: None
        }
    );
    let wrong = |text: &str| {
        Answer::json(
            400,
            &json!({"error": "invalid_grant", "error_description": text, "message": [text]}),
        )
    };
    for (text, left) in [
        ("Wrong code. 3 attempts left.", Some(3)),
        ("Wrong code. 1 attempt left.", Some(1)),
        ("Too many wrong codes: ask for a new one.", Some(0)),
        ("The code has expired: ask for a new one.", None),
        ("Wrong code. 99999 attempts left.", None),
    ] {
        assert_eq!(
            otp_session(&wrong(text)).unwrap_err(),
            OidcError::WrongCode {
                attempts_left: left
            },
            "{text}"
        );
    }
    let session = otp_session(&Answer::json(
        200,
        &json!({"access_token": "cat", "id_token": "x.y.z", "token_type": "Bearer", "expires_in": 3600, "session_id": "s"}),
    ))
    .unwrap();
    assert_eq!(session.access_token.expose(), "cat");
    assert!(!format!("{session:?}").contains("cat"));
}

#[test]
fn completion_answers() {
    assert_eq!(
        completed(&Answer::json(200, &json!({"status": "approved"}))),
        Ok(())
    );
    assert_eq!(
        completed(&error(403, "access_denied")),
        Err(OidcError::Forbidden)
    );
    assert_eq!(
        completed(&error(409, "conflict")),
        Err(OidcError::AlreadyDecided)
    );
    assert_eq!(
        completed(&error(400, "expired_token")),
        Err(OidcError::Expired)
    );
    assert_eq!(
        completed(&error(404, "not_found")),
        Err(OidcError::NotFound)
    );
    assert_eq!(
        completed(&error(401, "invalid_token")),
        Err(OidcError::InvalidToken)
    );
    assert_eq!(
        completed(&error(400, "invalid_request")),
        Err(OidcError::Refused {
            status: 400,
            code: "invalid_request".into()
        })
    );
    assert!(matches!(
        completed(&error(500, "server_error")),
        Err(OidcError::Unavailable(_))
    ));
}

#[test]
fn basic_credentials_are_form_encoded() {
    assert_eq!(form_encode("agent-console"), "agent-console");
    assert_eq!(form_encode("a b:c/d%é"), "a+b%3Ac%2Fd%25%C3%A9");
}

#[test]
fn authorization_answers_are_checked() {
    let iss = "http://127.0.0.1:3001";
    let ok = "code=c0de&state=s1&iss=http%3A%2F%2F127.0.0.1%3A3001";
    assert_eq!(
        authorization_code(ok, "s1", iss, true).unwrap().expose(),
        "c0de"
    );
    assert_eq!(
        authorization_code(&format!("?{ok}"), "s1", iss, true)
            .unwrap()
            .expose(),
        "c0de"
    );
    assert!(authorization_code(ok, "s2", iss, true).is_err());
    assert!(authorization_code(ok, "s1", "https://other", true).is_err());
    assert!(authorization_code("code=c&state=s1", "s1", iss, true).is_err());
    assert!(authorization_code("code=c&state=s1", "s1", iss, false).is_ok());
    assert!(authorization_code("code=c&code=d&state=s1", "s1", iss, false).is_err());
    assert!(authorization_code("state=s1", "s1", iss, false).is_err());
    let denied = authorization_code("error=access_denied&state=s1", "s1", iss, false).unwrap_err();
    assert_eq!(
        denied,
        OidcError::Authorization("the provider answered access_denied".into())
    );
}
