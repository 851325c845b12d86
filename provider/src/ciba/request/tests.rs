use super::*;

fn raw(hint: &'static str) -> RawRequest<'static> {
    RawRequest {
        scope: Some("openid"),
        login_hint: Some(hint),
        ..RawRequest::default()
    }
}

fn code(result: Result<ValidRequest, OAuthError>) -> ErrorCode {
    result.unwrap_err().code
}

#[test]
fn mosaics_defaults() {
    let valid = validate(&raw("+15555550101")).unwrap();
    assert_eq!(valid.scopes, ["openid"]);
    assert_eq!(valid.hint, Hint::Phone("+15555550101".into()));
    assert_eq!(valid.channel, Channel::Sms);
    assert_eq!(valid.expiry, DEFAULT_EXPIRY);
    assert_eq!(valid.custom_message, DEFAULT_CUSTOM_MESSAGE);
    assert_eq!(valid.binding_message, None);
}

#[test]
fn the_seeds_email_example() {
    let valid = validate(&RawRequest {
        binding_message: Some("MESSAGE"),
        request_context: Some(
            r#"{"channel": "email", "login_hint_type": "email", "custom_message": "Ready to authenticate?"}"#,
        ),
        ..raw("Alice@Example.com")
    })
    .unwrap();
    assert_eq!(valid.hint, Hint::Email("alice@example.com".into()));
    assert_eq!(valid.channel, Channel::Email);
    assert_eq!(valid.custom_message, "Ready to authenticate?");
    assert_eq!(valid.binding_message.unwrap().as_str(), "MESSAGE");
}

#[test]
fn hints_missing_doubled_or_unsupported() {
    assert_eq!(
        code(validate(&RawRequest {
            login_hint: None,
            ..raw("x")
        })),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(validate(&RawRequest {
            id_token_hint: Some("eyJ"),
            ..raw("+15555550101")
        })),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(validate(&RawRequest {
            login_hint: None,
            login_hint_token: Some("t"),
            ..raw("x")
        })),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn malformed_phones_emails_and_ids() {
    for bad in [
        "5555550101",
        "+0123456789",
        "+1555",
        "+1555555010199999",
        "+1 555 abc",
        "",
    ] {
        assert!(
            hint(bad, HintType::Phone).is_err(),
            "{bad:?} accepted as a phone"
        );
    }
    assert_eq!(
        hint(" +1 (555) 555-0101 ", HintType::Phone).unwrap(),
        Hint::Phone("+15555550101".into())
    );
    for bad in [
        "alice",
        "alice@",
        "@example.com",
        "a@b",
        "a b@example.com",
        "a@-x.com",
        "a..b@example.com",
    ] {
        assert!(
            hint(bad, HintType::Email).is_err(),
            "{bad:?} accepted as an email"
        );
    }
    for bad in ["", "a b", "a/b", &"x".repeat(65)] {
        assert!(
            hint(bad, HintType::UserId).is_err(),
            "{bad:?} accepted as a user id"
        );
    }
    assert_eq!(
        hint("alice", HintType::UserId).unwrap(),
        Hint::UserId("alice".into())
    );
}

#[test]
fn binding_messages_outside_mosaics_pattern() {
    for bad in [
        "",
        "line\r\nbreak",
        "<b>hi</b>",
        "\u{202E}abc",
        "a\u{200B}b",
        "smile😀",
        "spaces here",
        "abcdefghijklmnopqrstu",
    ] {
        let result = validate(&RawRequest {
            binding_message: Some(bad),
            ..raw("+15555550101")
        });
        assert_eq!(code(result), ErrorCode::InvalidBindingMessage, "{bad:?}");
    }
    for good in ["K7-42", "a.b_c+d/e!f?g#h", "abcdefghijklmnopqrst"] {
        assert_eq!(BindingMessage::parse(good).unwrap().as_str(), good);
    }
}

#[test]
fn requested_expiry_rules() {
    assert_eq!(expiry(Some("120")).unwrap(), Duration::from_secs(120));
    assert_eq!(expiry(Some(" 120 ")).unwrap(), Duration::from_secs(120));
    assert_eq!(expiry(Some("99999999999999999999999")).unwrap(), MAX_EXPIRY);
    assert_eq!(expiry(Some("7200")).unwrap(), MAX_EXPIRY);
    for bad in ["0", "-5", "abc", "1.5", "", "1e3"] {
        assert!(expiry(Some(bad)).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn scope_rules() {
    assert_eq!(
        scopes(Some("openid email openid offline_access")).unwrap(),
        ["openid", "email", "offline_access"]
    );
    for bad in [
        None,
        Some(""),
        Some("email"),
        Some("openid profile"),
        Some("openid admin"),
    ] {
        let error = scopes(bad).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidScope, "{bad:?}");
    }
}

#[test]
fn request_context_must_be_known_json() {
    for bad in [
        "not json",
        "[]",
        r#"{"channel": "fax"}"#,
        r#"{"login_hint_type": "name"}"#,
        r#"{"surprise": 1}"#,
    ] {
        let result = validate(&RawRequest {
            request_context: Some(bad),
            ..raw("+15555550101")
        });
        assert_eq!(code(result), ErrorCode::InvalidRequest, "{bad:?}");
    }
}

#[test]
fn custom_messages_are_plain_text() {
    for bad in [
        "Click https://evil.example",
        "visit www.evil.example",
        "go to evil.example/login now",
        "see bank.co.uk.",
        "visit evil\u{3002}example",
        "(secure-bank.com)",
        "<script>",
        "two\nlines",
        "\u{202E}reversed",
        "zero\u{200B}width",
        "line\u{2028}separator",
        "",
        &"x".repeat(MAX_CUSTOM_MESSAGE_CHARS + 1),
    ] {
        assert!(custom_message(bad).is_err(), "{bad:?} accepted");
    }
    for good in [
        "Your balance is 10.50 today.",
        "Call us, e.g. at 555.0101.",
        "Is this you? Click:",
    ] {
        assert_eq!(custom_message(good).unwrap(), good);
    }
    assert_eq!(
        custom_message("Démo Bank asks: is this you? ✓").unwrap(),
        "Démo Bank asks: is this you? ✓"
    );
}

#[test]
fn custom_messages_refuse_every_invisible_or_direction_character() {
    // Format characters the first check missed: the Arabic letter mark (a direction
    // mark), the soft hyphen, the Mongolian vowel separator, invisible operators,
    // interlinear annotations, tag characters, Hangul fillers.
    for c in [
        '\u{061C}',
        '\u{00AD}',
        '\u{180E}',
        '\u{2064}',
        '\u{206A}',
        '\u{FFF9}',
        '\u{E0041}',
        '\u{E0001}',
        '\u{3164}',
        '\u{115F}',
        '\u{034F}',
        '\u{1D173}',
        '\u{0600}',
    ] {
        let text = format!("Is this{c} you?");
        assert!(
            custom_message(&text).is_err(),
            "U+{:04X} accepted",
            c as u32
        );
    }
    // Addresses written as numbers are addresses too; plain numbers are not.
    assert!(custom_message("Log in at 192.0.2.7/login").is_err());
    assert!(custom_message("Go to 10.0.0.1").is_err());
    assert!(custom_message("Version 1.2.3 is out, 10.5 % off").is_ok());
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    /// The errors a parser of outside input may give: never a panic, never a server error.
    fn clear(error: &OAuthError) -> bool {
        matches!(
            error.code,
            ErrorCode::InvalidRequest | ErrorCode::InvalidScope | ErrorCode::InvalidBindingMessage
        )
    }

    /// Any text, long ones included (up to about 8 KB of characters).
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            proptest::collection::vec(any::<char>(), 0..2048)
                .prop_map(|chars| chars.into_iter().collect()),
            "[ +0-9().-]{0,64}",
            "[a-zA-Z0-9.@_+-]{0,80}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_hint_is_normalised_or_refused_clearly(value in text()) {
            for kind in [HintType::Phone, HintType::Email, HintType::UserId] {
                match hint(&value, kind) {
                    Ok(Hint::Phone(phone)) => {
                        prop_assert!(phone.starts_with('+'));
                        prop_assert!((8..=16).contains(&phone.len()));
                        prop_assert!(phone[1..].bytes().all(|b| b.is_ascii_digit()));
                        // Normalised once is normalised for good.
                        prop_assert_eq!(hint(&phone, kind).ok(), Some(Hint::Phone(phone.clone())));
                    }
                    Ok(Hint::Email(email)) => {
                        prop_assert_eq!(email.to_ascii_lowercase(), email.clone());
                        prop_assert!(email.len() <= 254);
                        prop_assert_eq!(hint(&email, kind).ok(), Some(Hint::Email(email.clone())));
                    }
                    Ok(Hint::UserId(id)) => {
                        prop_assert!((1..=64).contains(&id.len()));
                        prop_assert_eq!(hint(&id, kind).ok(), Some(Hint::UserId(id.clone())));
                    }
                    Err(error) => prop_assert!(clear(&error), "{:?}", error.code),
                }
            }
        }

        #[test]
        fn e164_numbers_round_trip_however_they_are_written(
            digits in "[1-9][0-9]{6,14}",
            separators in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just("("), Just(")"), Just(".")], 16),
            mangled in any::<bool>(),
        ) {
            let mut written = String::from(if mangled { " " } else { "+" });
            for (digit, separator) in digits.chars().zip(separators.iter().cycle()) {
                written.push(digit);
                written.push_str(separator);
            }
            // A form-encoded `+` arrives as a space, and is read back as the `+` it was.
            let expected = format!("+{digits}");
            prop_assert_eq!(hint(&written, HintType::Phone).ok(), Some(Hint::Phone(expected)));
        }

        #[test]
        fn email_addresses_round_trip_lower_cased(
            local in "[a-zA-Z0-9][a-zA-Z0-9._+-]{0,20}[a-zA-Z0-9]",
            domain in "[a-zA-Z0-9]{1,20}(\\.[a-zA-Z0-9]{1,10}){0,3}\\.[a-zA-Z]{2,8}",
        ) {
            prop_assume!(!local.contains(".."));
            let address = format!("{local}@{domain}");
            prop_assert_eq!(
                hint(&format!(" {address} "), HintType::Email).ok(),
                Some(Hint::Email(address.to_ascii_lowercase()))
            );
        }

        #[test]
        fn binding_messages_match_mosaics_pattern_exactly(value in text()) {
            let pattern = !value.is_empty()
                && value.chars().count() <= 20
                && value.chars().all(|c| c.is_ascii_alphanumeric() || "-._+/!?#".contains(c));
            match BindingMessage::parse(&value) {
                Ok(message) => {
                    prop_assert!(pattern);
                    prop_assert_eq!(message.as_str(), value.as_str());
                }
                Err(error) => {
                    prop_assert!(!pattern);
                    prop_assert_eq!(error.code, ErrorCode::InvalidBindingMessage);
                }
            }
        }

        #[test]
        fn valid_binding_messages_round_trip(value in "[a-zA-Z0-9._+/!?#-]{1,20}") {
            let parsed = BindingMessage::parse(&value).unwrap();
            prop_assert_eq!(parsed.as_str(), value.as_str());
        }

        #[test]
        fn accepted_custom_messages_are_plain_text(value in text()) {
            match custom_message(&value) {
                Ok(message) => {
                    prop_assert_eq!(message.as_str(), value.trim());
                    prop_assert!((1..=MAX_CUSTOM_MESSAGE_CHARS).contains(&message.chars().count()));
                    prop_assert!(!message.chars().any(|c| proto::invisible(c) || c == '<' || c == '>'));
                    prop_assert!(!message.to_lowercase().contains("://"));
                }
                Err(error) => prop_assert_eq!(error.code, ErrorCode::InvalidRequest),
            }
        }

        #[test]
        fn an_invisible_character_anywhere_is_refused(
            before in "[a-zA-Z ,!?]{0,40}",
            after in "[a-zA-Z ,!?]{0,40}",
            c in prop_oneof![
                proptest::char::range('\u{0}', '\u{1F}'),
                proptest::char::range('\u{7F}', '\u{9F}'),
                proptest::char::range('\u{200B}', '\u{200F}'),
                proptest::char::range('\u{202A}', '\u{202E}'),
                proptest::char::range('\u{2066}', '\u{2069}'),
                proptest::char::range('\u{E0000}', '\u{E007F}'),
                Just('\u{061C}'), Just('\u{00AD}'), Just('\u{180E}'), Just('\u{FEFF}'),
            ],
        ) {
            let text = format!("Hi{before}{c}{after}there");
            prop_assert!(custom_message(&text).is_err());
        }

        #[test]
        fn requested_expiry_is_capped_or_refused(value in text(), seconds in any::<u64>()) {
            match expiry(Some(&value)) {
                Ok(expiry) => {
                    prop_assert!(expiry > Duration::ZERO && expiry <= MAX_EXPIRY);
                    prop_assert!(value.trim().bytes().all(|b| b.is_ascii_digit()));
                }
                Err(error) => prop_assert_eq!(error.code, ErrorCode::InvalidRequest),
            }
            let number = seconds.to_string();
            let expected = (seconds > 0).then(|| Duration::from_secs(seconds).min(MAX_EXPIRY));
            prop_assert_eq!(expiry(Some(&number)).ok(), expected);
            prop_assert_eq!(expiry(Some(&format!(" {number} "))).ok(), expected);
        }

        #[test]
        fn request_context_is_known_json_or_refused(value in prop_oneof![
            text(),
            "\\{\"(channel|login_hint_type|custom_message|other)\": ?\"[a-z_ ]{0,12}\"\\}",
            "[\\[{]{0,300}",
        ]) {
            let request = RawRequest {
                scope: Some("openid"),
                login_hint: Some("+15555550101"),
                request_context: Some(&value),
                ..RawRequest::default()
            };
            if let Err(error) = validate(&request) {
                prop_assert!(clear(&error), "{:?}", error.code);
            }
        }

        #[test]
        fn request_contexts_round_trip(
            channel in prop_oneof![Just(Channel::Sms), Just(Channel::Email), Just(Channel::Link)],
            message in "[A-Za-z][A-Za-z ,!?']{0,60}[A-Za-z?!]",
        ) {
            let context = serde_json::json!({
                "channel": channel.as_str(),
                "login_hint_type": "phone",
                "custom_message": message,
            })
            .to_string();
            let valid = validate(&RawRequest {
                scope: Some("openid"),
                login_hint: Some("+15555550101"),
                request_context: Some(&context),
                ..RawRequest::default()
            })
            .unwrap();
            prop_assert_eq!(valid.channel, channel);
            prop_assert_eq!(valid.custom_message, message);
        }

        #[test]
        fn whole_requests_never_panic(
            scope in proptest::option::of(text()),
            login_hint in proptest::option::of(text()),
            binding_message in proptest::option::of(text()),
            requested_expiry in proptest::option::of(text()),
            request_context in proptest::option::of(text()),
        ) {
            let raw = RawRequest {
                scope: scope.as_deref(),
                login_hint: login_hint.as_deref(),
                binding_message: binding_message.as_deref(),
                requested_expiry: requested_expiry.as_deref(),
                request_context: request_context.as_deref(),
                ..RawRequest::default()
            };
            if let Err(error) = validate(&raw) {
                prop_assert!(clear(&error), "{:?}", error.code);
            }
        }
    }

    /// Long inputs are answered in linear time: a 1 MB hint, custom message, expiry and
    /// context each come back at once.
    #[test]
    fn megabyte_inputs_are_answered_at_once() {
        let started = std::time::Instant::now();
        let long = "9".repeat(1 << 20);
        let spaced = "1 ".repeat(1 << 19);
        let words = "evil.example ".repeat(1 << 16);
        let nested = "[".repeat(1 << 20);
        assert!(hint(&format!("+{long}"), HintType::Phone).is_err());
        assert!(hint(&format!("+{spaced}"), HintType::Phone).is_err());
        assert!(hint(&format!("{long}@{long}.com"), HintType::Email).is_err());
        assert!(hint(&long, HintType::UserId).is_err());
        assert!(BindingMessage::parse(&long).is_err());
        assert!(custom_message(&words).is_err());
        assert_eq!(expiry(Some(&long)).unwrap(), MAX_EXPIRY);
        let request = RawRequest {
            scope: Some("openid"),
            login_hint: Some("+15555550101"),
            request_context: Some(&nested),
            ..RawRequest::default()
        };
        assert_eq!(
            validate(&request).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
