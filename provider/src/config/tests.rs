use super::*;

fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

#[test]
fn defaults_when_nothing_is_set() {
    let config = Config::from_lookup(lookup(&[])).unwrap();
    assert_eq!(config.listen, "127.0.0.1:3001".parse().unwrap());
    assert_eq!(config.issuer, None);
    assert_eq!(config.data_dir, PathBuf::from("data"));
}

#[test]
fn reads_every_variable() {
    let config = Config::from_lookup(lookup(&[
        ("COUNTERSIGN_PROVIDER_ADDR", "0.0.0.0:4001"),
        ("COUNTERSIGN_PROVIDER_ISSUER", "https://id.example.com/"),
        ("COUNTERSIGN_DATA_DIR", "/var/lib/countersign"),
    ]))
    .unwrap();
    assert_eq!(config.listen, "0.0.0.0:4001".parse().unwrap());
    assert_eq!(config.issuer.as_deref(), Some("https://id.example.com"));
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/countersign"));
}

#[test]
fn trusting_a_proxy_is_a_clear_yes_or_no() {
    let on = Config::from_lookup(lookup(&[(
        "COUNTERSIGN_PROVIDER_TRUST_FORWARDED_FOR",
        "true",
    )]));
    assert!(on.unwrap().trust_forwarded_for);
    assert!(
        !Config::from_lookup(lookup(&[]))
            .unwrap()
            .trust_forwarded_for
    );
    let bad = Config::from_lookup(lookup(&[(
        "COUNTERSIGN_PROVIDER_TRUST_FORWARDED_FOR",
        "yes",
    )]));
    assert_eq!(
        bad.unwrap_err().variable,
        "COUNTERSIGN_PROVIDER_TRUST_FORWARDED_FOR"
    );
}

#[test]
fn a_bad_address_names_the_variable() {
    let error =
        Config::from_lookup(lookup(&[("COUNTERSIGN_PROVIDER_ADDR", "localhost")])).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_ADDR");
    assert!(error.to_string().contains("\"localhost\""), "{error}");
}

#[test]
fn issuers_must_be_plain_http_urls() {
    for bad in [
        "id.example.com",
        "ftp://id.example.com",
        "https://",
        "https:///path",
        "https://id.example.com?x=1",
        "https://id.example.com#top",
        "https://id example.com",
    ] {
        assert!(issuer("V", bad).is_err(), "{bad} was accepted");
    }
    assert_eq!(
        issuer("V", "http://127.0.0.1:3001").unwrap(),
        "http://127.0.0.1:3001"
    );
    assert_eq!(
        issuer("V", "https://id.example.com/tenant/").unwrap(),
        "https://id.example.com/tenant"
    );
}

fn owned_lookup(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    }
}

const SMTP: &[(&str, &str)] = &[
    ("COUNTERSIGN_EMAIL_SENDER", "smtp"),
    ("COUNTERSIGN_SMTP_HOST", "smtp.bank.example"),
    ("COUNTERSIGN_SMTP_FROM", "Demo Bank <no-reply@bank.example>"),
];

fn with(
    base: &[(&'static str, &'static str)],
    more: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut pairs: Vec<(&'static str, String)> = more.to_vec();
    for (key, value) in base {
        if !more.iter().any(|(k, _)| k == key) {
            pairs.push((key, (*value).to_owned()));
        }
    }
    pairs
}

fn delivery(pairs: Vec<(&'static str, String)>) -> Result<Delivery, ConfigError> {
    Delivery::from_lookup(&owned_lookup(pairs))
}

fn smtp(more: &[(&'static str, String)]) -> Result<SmtpConfig, ConfigError> {
    match delivery(with(SMTP, more))?.email {
        EmailDelivery::Smtp(config) => Ok(config),
        EmailDelivery::Outbox => panic!("not smtp"),
    }
}

const WEBHOOK: &[(&str, &str)] = &[
    ("COUNTERSIGN_SMS_SENDER", "webhook"),
    (
        "COUNTERSIGN_SMS_WEBHOOK_URL",
        "https://sms.bank.example/send?token=t0k",
    ),
    ("COUNTERSIGN_SMS_WEBHOOK_SECRET", "0123456789abcdef-secret"),
];

fn webhook(more: &[(&'static str, String)]) -> Result<WebhookConfig, ConfigError> {
    match delivery(with(WEBHOOK, more))?.sms {
        SmsDelivery::Webhook(config) => Ok(config),
        SmsDelivery::Outbox => panic!("not webhook"),
    }
}

#[test]
fn the_outbox_delivers_everything_by_default() {
    let config = Config::from_lookup(lookup(&[])).unwrap();
    assert_eq!(config.delivery, Delivery::default());
    assert_eq!(config.delivery.email, EmailDelivery::Outbox);
    assert_eq!(config.delivery.sms, SmsDelivery::Outbox);
    assert!(config.delivery.uses_outbox());
    let named = Config::from_lookup(lookup(&[
        ("COUNTERSIGN_EMAIL_SENDER", "outbox"),
        ("COUNTERSIGN_SMS_SENDER", " outbox "),
    ]))
    .unwrap();
    assert_eq!(named.delivery, Delivery::default());
}

#[test]
fn unknown_senders_are_refused() {
    let error =
        Config::from_lookup(lookup(&[("COUNTERSIGN_EMAIL_SENDER", "sendmail")])).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_EMAIL_SENDER");
    assert!(error.to_string().contains("outbox or smtp"), "{error}");
    let error = Config::from_lookup(lookup(&[("COUNTERSIGN_SMS_SENDER", "smtp")])).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_SMS_SENDER");
}

#[test]
fn smtp_defaults_to_required_starttls_on_587() {
    let config = smtp(&[]).unwrap();
    assert_eq!(config.host, "smtp.bank.example");
    assert_eq!(config.tls, SmtpTls::StartTls);
    assert_eq!(config.port, 587);
    assert_eq!(config.login, None);
    assert_eq!(config.from.to_string(), "Demo Bank <no-reply@bank.example>");
    assert_eq!(config.timeout, Duration::from_secs(5));
}

#[test]
fn smtp_reads_every_variable() {
    let config = smtp(&[
        ("COUNTERSIGN_SMTP_TLS", "tls".into()),
        ("COUNTERSIGN_SMTP_PORT", "2465".into()),
        ("COUNTERSIGN_SMTP_USERNAME", "mailer".into()),
        ("COUNTERSIGN_SMTP_PASSWORD", "hunter2 with spaces".into()),
        ("COUNTERSIGN_SMTP_FROM", "no-reply@bank.example".into()),
        ("COUNTERSIGN_SMTP_TIMEOUT_SECS", "7".into()),
    ])
    .unwrap();
    assert_eq!(config.tls, SmtpTls::Tls);
    assert_eq!(config.port, 2465);
    let login = config.login.clone().unwrap();
    assert_eq!(login.username, "mailer");
    assert_eq!(login.password.expose(), "hunter2 with spaces");
    assert_eq!(config.from.email.to_string(), "no-reply@bank.example");
    assert_eq!(config.timeout, Duration::from_secs(7));
    assert!(!format!("{config:?}").contains("hunter2"), "{config:?}");

    assert_eq!(
        smtp(&[("COUNTERSIGN_SMTP_TLS", "tls".into())])
            .unwrap()
            .port,
        465
    );
    let plain = smtp(&[("COUNTERSIGN_SMTP_TLS", "none".into())]).unwrap();
    assert_eq!((plain.tls, plain.port), (SmtpTls::None, 25));
}

#[test]
fn the_smtp_password_may_come_from_a_file() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("password");
    std::fs::write(&path, "from-a-file\r\n").unwrap();
    let file = path.display().to_string();
    let config = smtp(&[
        ("COUNTERSIGN_SMTP_USERNAME", "mailer".into()),
        ("COUNTERSIGN_SMTP_PASSWORD_FILE", file.clone()),
    ])
    .unwrap();
    assert_eq!(config.login.unwrap().password.expose(), "from-a-file");

    let both = smtp(&[
        ("COUNTERSIGN_SMTP_USERNAME", "mailer".into()),
        ("COUNTERSIGN_SMTP_PASSWORD", "hunter2".into()),
        ("COUNTERSIGN_SMTP_PASSWORD_FILE", file),
    ])
    .unwrap_err();
    assert_eq!(both.variable, "COUNTERSIGN_SMTP_PASSWORD_FILE");
    assert!(!both.to_string().contains("hunter2"), "{both}");

    let missing = smtp(&[
        ("COUNTERSIGN_SMTP_USERNAME", "mailer".into()),
        (
            "COUNTERSIGN_SMTP_PASSWORD_FILE",
            dir.path().join("nothing").display().to_string(),
        ),
    ])
    .unwrap_err();
    assert_eq!(missing.variable, "COUNTERSIGN_SMTP_PASSWORD_FILE");

    std::fs::write(&path, "\n").unwrap();
    let empty = smtp(&[
        ("COUNTERSIGN_SMTP_USERNAME", "mailer".into()),
        ("COUNTERSIGN_SMTP_PASSWORD_FILE", path.display().to_string()),
    ])
    .unwrap_err();
    assert!(empty.to_string().contains("empty"), "{empty}");
}

#[test]
fn bad_smtp_settings_name_their_variable() {
    let cases: &[(&[(&'static str, &str)], &str)] = &[
        (&[("COUNTERSIGN_SMTP_HOST", "")], "COUNTERSIGN_SMTP_HOST"),
        (
            &[("COUNTERSIGN_SMTP_HOST", "smtp://x")],
            "COUNTERSIGN_SMTP_HOST",
        ),
        (&[("COUNTERSIGN_SMTP_FROM", "")], "COUNTERSIGN_SMTP_FROM"),
        (
            &[("COUNTERSIGN_SMTP_FROM", "not an address")],
            "COUNTERSIGN_SMTP_FROM",
        ),
        (&[("COUNTERSIGN_SMTP_TLS", "ssl")], "COUNTERSIGN_SMTP_TLS"),
        (&[("COUNTERSIGN_SMTP_PORT", "0")], "COUNTERSIGN_SMTP_PORT"),
        (
            &[("COUNTERSIGN_SMTP_PORT", "70000")],
            "COUNTERSIGN_SMTP_PORT",
        ),
        (
            &[("COUNTERSIGN_SMTP_TIMEOUT_SECS", "0")],
            "COUNTERSIGN_SMTP_TIMEOUT_SECS",
        ),
        (
            &[("COUNTERSIGN_SMTP_TIMEOUT_SECS", "1.5")],
            "COUNTERSIGN_SMTP_TIMEOUT_SECS",
        ),
        // Longer than the deadline of the whole send: refused, not silently cut.
        (
            &[("COUNTERSIGN_SMTP_TIMEOUT_SECS", "8")],
            "COUNTERSIGN_SMTP_TIMEOUT_SECS",
        ),
        (
            &[("COUNTERSIGN_SMTP_TIMEOUT_SECS", "300")],
            "COUNTERSIGN_SMTP_TIMEOUT_SECS",
        ),
        (
            &[("COUNTERSIGN_SMTP_USERNAME", "mailer")],
            "COUNTERSIGN_SMTP_PASSWORD",
        ),
        (
            &[("COUNTERSIGN_SMTP_PASSWORD", "hunter2")],
            "COUNTERSIGN_SMTP_USERNAME",
        ),
        (
            &[
                ("COUNTERSIGN_SMTP_TLS", "none"),
                ("COUNTERSIGN_SMTP_USERNAME", "mailer"),
                ("COUNTERSIGN_SMTP_PASSWORD", "hunter2"),
            ],
            "COUNTERSIGN_SMTP_TLS",
        ),
    ];
    for (more, variable) in cases {
        let more: Vec<(&'static str, String)> =
            more.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let error = smtp(&more).unwrap_err();
        assert_eq!(error.variable, *variable, "{more:?}: {error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}

#[test]
fn the_webhook_needs_a_url_and_a_long_enough_secret() {
    let config = webhook(&[]).unwrap();
    assert_eq!(
        config.url.as_str(),
        "https://sms.bank.example/send?token=t0k"
    );
    assert_eq!(config.secret.expose(), "0123456789abcdef-secret");
    assert_eq!(config.timeout, Duration::from_secs(5));
    assert!(!format!("{config:?}").contains("abcdef-secret"));

    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "whsec_from_a_file_0123\n").unwrap();
    let from_file = delivery(with(
        &WEBHOOK[..2],
        &[
            (
                "COUNTERSIGN_SMS_WEBHOOK_SECRET_FILE",
                path.display().to_string(),
            ),
            ("COUNTERSIGN_SMS_WEBHOOK_TIMEOUT_SECS", "3".into()),
        ],
    ))
    .unwrap();
    let SmsDelivery::Webhook(from_file) = from_file.sms else {
        panic!("not webhook")
    };
    assert_eq!(from_file.secret.expose(), "whsec_from_a_file_0123");
    assert_eq!(from_file.timeout, Duration::from_secs(3));

    let no_secret = delivery(with(&WEBHOOK[..2], &[])).unwrap_err();
    assert_eq!(no_secret.variable, "COUNTERSIGN_SMS_WEBHOOK_SECRET");
    let short = webhook(&[("COUNTERSIGN_SMS_WEBHOOK_SECRET", "short".into())]).unwrap_err();
    assert_eq!(short.variable, "COUNTERSIGN_SMS_WEBHOOK_SECRET");
    assert!(!short.to_string().contains("short\""), "{short}");
    for bad in [
        "",
        "sms.bank.example/send",
        "ftp://sms.bank.example",
        "https://sms.bank.example/#frag",
    ] {
        let error = webhook(&[("COUNTERSIGN_SMS_WEBHOOK_URL", bad.into())]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_SMS_WEBHOOK_URL", "{bad}");
    }
    let error =
        webhook(&[("COUNTERSIGN_SMS_WEBHOOK_URL", "nonsense?token=t0k".into())]).unwrap_err();
    assert!(!error.to_string().contains("t0k"), "{error}");
}

#[test]
fn each_channel_has_its_own_sender() {
    let both = delivery(with(SMTP, &with(WEBHOOK, &[]))).unwrap();
    assert!(matches!(both.email, EmailDelivery::Smtp(_)));
    assert!(matches!(both.sms, SmsDelivery::Webhook(_)));
    assert!(!both.uses_outbox());
    let email_only = delivery(with(SMTP, &[])).unwrap();
    assert!(email_only.uses_outbox());
    // The SMTP variables are ignored while the outbox takes emails.
    let ignored = delivery(with(&SMTP[1..], &[])).unwrap();
    assert_eq!(ignored, Delivery::default());
}

#[test]
fn case_32_the_outbox_is_served_only_under_the_switch_and_never_beside_a_real_sender() {
    let dev = |more: &[(&'static str, &'static str)]| {
        let mut pairs: Vec<(&'static str, String)> =
            more.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        pairs.push((DEV_OUTBOX, "true".to_owned()));
        Config::from_lookup(owned_lookup(pairs))
    };
    // Off unless asked for.
    assert!(!Config::from_lookup(lookup(&[])).unwrap().dev_outbox);
    assert!(dev(&[]).unwrap().dev_outbox);
    let bad = Config::from_lookup(lookup(&[(DEV_OUTBOX, "yes")])).unwrap_err();
    assert_eq!(bad.variable, DEV_OUTBOX);
    // A real sender on any channel refuses the switch, naming the variables.
    for (real, names) in [
        (SMTP, "COUNTERSIGN_EMAIL_SENDER=smtp"),
        (WEBHOOK, "COUNTERSIGN_SMS_SENDER=webhook"),
    ] {
        let error = dev(real).unwrap_err();
        assert_eq!(error.variable, DEV_OUTBOX);
        let text = error.to_string();
        assert!(text.contains(names), "{text}");
        assert!(text.contains(DEV_OUTBOX), "{text}");
        assert!(!text.contains("t0k"), "{text}");
    }
    let both: Vec<_> = SMTP.iter().chain(WEBHOOK).copied().collect();
    let text = dev(&both).unwrap_err().to_string();
    assert!(
        text.contains("smtp and COUNTERSIGN_SMS_SENDER=webhook"),
        "{text}"
    );
    // Behind a reverse proxy (forwarded-for trusted, or an https issuer): refused too.
    for proxied in [
        (TRUST_FORWARDED_FOR, "true"),
        ("COUNTERSIGN_PROVIDER_ISSUER", "https://id.bank.example"),
    ] {
        let error = dev(&[proxied]).unwrap_err();
        assert_eq!(error.variable, DEV_OUTBOX);
        let text = error.to_string();
        assert!(
            text.contains(proxied.0) && text.contains("reverse proxy"),
            "{text}"
        );
    }
    // Without the switch, a real sender beside the outbox is fine (its messages are kept).
    let mixed = Config::from_lookup(owned_lookup(
        WEBHOOK.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    ))
    .unwrap();
    assert!(!mixed.dev_outbox);
    assert!(mixed.delivery.uses_outbox());
}

#[test]
fn a_cluster_database_needs_the_shared_hash_key() {
    const URL: &str = "postgres://provider:s3cret@db.internal/provider?sslmode=verify-full";
    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let plain = Config::from_lookup(lookup(&[])).unwrap();
    assert_eq!((plain.database_url, plain.hash_key), (None, None));

    let refused =
        Config::from_lookup(lookup(&[("COUNTERSIGN_PROVIDER_DATABASE_URL", URL)])).unwrap_err();
    assert_eq!(refused.variable, "COUNTERSIGN_PROVIDER_HASH_KEY");
    assert!(refused.problem.contains("same key"), "{}", refused.problem);

    let cluster = Config::from_lookup(lookup(&[
        ("COUNTERSIGN_PROVIDER_DATABASE_URL", URL),
        ("COUNTERSIGN_PROVIDER_HASH_KEY", KEY),
    ]))
    .unwrap();
    assert_eq!(cluster.database_url.as_ref().map(Secret::expose), Some(URL));
    assert!(!format!("{cluster:?}").contains("s3cret"));
    assert!(!format!("{cluster:?}").contains("aabbcc"));

    let refused = Config::from_lookup(lookup(&[
        ("COUNTERSIGN_PROVIDER_DATABASE_URL", "mysql://db/provider"),
        ("COUNTERSIGN_PROVIDER_HASH_KEY", KEY),
    ]))
    .unwrap_err();
    assert_eq!(refused.variable, "COUNTERSIGN_PROVIDER_DATABASE_URL");
    let refused =
        Config::from_lookup(lookup(&[("COUNTERSIGN_PROVIDER_HASH_KEY", "too-short")])).unwrap_err();
    assert_eq!(refused.variable, "COUNTERSIGN_PROVIDER_HASH_KEY");
}

#[test]
fn a_standalone_providers_metrics_are_on_the_loopback_unless_moved_or_switched_off() {
    let default = Config::from_lookup(lookup(&[])).unwrap();
    assert_eq!(
        default.metrics_listen,
        Some("127.0.0.1:9465".parse().unwrap())
    );
    let off = Config::from_lookup(lookup(&[("COUNTERSIGN_PROVIDER_METRICS_ADDR", "off")])).unwrap();
    assert_eq!(off.metrics_listen, None);
    let error = Config::from_lookup(lookup(&[("COUNTERSIGN_PROVIDER_METRICS_ADDR", "nowhere")]))
        .unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_METRICS_ADDR");
}
