use super::*;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(move |name| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    })
}

#[test]
fn defaults_start_the_embedded_provider() {
    let config = config(&[]).unwrap();
    assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
    assert_eq!(config.site_root, PathBuf::from("target/site"));
    let ProviderMode::Embedded(provider) = config.provider else {
        panic!("expected the embedded provider");
    };
    assert_eq!(provider.listen, "127.0.0.1:3001".parse().unwrap());
    assert_eq!(provider.data_dir, PathBuf::from("data"));
}

#[test]
fn own_variables_win_over_cargo_leptos_ones() {
    let config = config(&[
        ("LEPTOS_SITE_ADDR", "127.0.0.1:4000"),
        ("COUNTERSIGN_ADDR", "127.0.0.1:5000"),
        ("LEPTOS_SITE_ROOT", "a"),
        ("COUNTERSIGN_SITE_ROOT", "b"),
    ])
    .unwrap();
    assert_eq!(config.listen, "127.0.0.1:5000".parse().unwrap());
    assert_eq!(config.site_root, PathBuf::from("b"));
    let only_leptos = super::tests::config(&[("LEPTOS_SITE_ADDR", "127.0.0.1:4000")]).unwrap();
    assert_eq!(only_leptos.listen, "127.0.0.1:4000".parse().unwrap());
}

#[test]
fn an_external_provider_replaces_the_embedded_one() {
    let config = config(&[
        ("COUNTERSIGN_PROVIDER_URL", "https://id.example.com/"),
        ("COUNTERSIGN_CLIENT_ID", "console"),
        ("COUNTERSIGN_CLIENT_SECRET", "s3cret"),
        ("COUNTERSIGN_APP_ID", "bank"),
    ])
    .unwrap();
    assert_eq!(
        config.provider,
        ProviderMode::External {
            profile: Profile::Mosaic,
            url: "https://id.example.com".to_owned()
        }
    );
    assert_eq!(config.client.id, "console");
    assert_eq!(config.client.secret.expose(), "s3cret");
    assert!(!format!("{config:?}").contains("s3cret"));
}

#[test]
fn an_external_provider_needs_its_own_credentials() {
    let url = ("COUNTERSIGN_PROVIDER_URL", "https://id.example.com");
    let error = config(&[url]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_CLIENT_SECRET");
    let error = config(&[url, ("COUNTERSIGN_CLIENT_SECRET", "x")]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_CLIENT_ID");
    let error = config(&[("COUNTERSIGN_PROVIDER_PROFILE", "standard")]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_URL");
    let error = config(&[url, ("COUNTERSIGN_PROVIDER_PROFILE", "okta")]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_PROFILE");
}

#[test]
fn a_standard_provider_needs_no_application_id() {
    let standard = [
        ("COUNTERSIGN_PROVIDER_PROFILE", "standard"),
        ("COUNTERSIGN_PROVIDER_URL", "https://id.example.com"),
        ("COUNTERSIGN_CLIENT_ID", "console"),
        ("COUNTERSIGN_CLIENT_SECRET", "s3cret"),
    ];
    let config = config(&standard).unwrap();
    assert_eq!(
        config.provider,
        ProviderMode::External {
            profile: Profile::Standard,
            url: "https://id.example.com".to_owned()
        }
    );
    assert_eq!(config.client.app_id, "");
    // The mosaic profile still asks for one.
    let mosaic = super::tests::config(&[
        ("COUNTERSIGN_PROVIDER_PROFILE", "mosaic"),
        standard[1],
        standard[2],
        standard[3],
    ]);
    assert_eq!(mosaic.unwrap_err().variable, "COUNTERSIGN_APP_ID");
}

#[test]
fn the_secret_may_come_from_a_file_but_not_from_both() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "from-a-file\n").unwrap();
    let path = path.to_str().unwrap();
    let config = config(&[("COUNTERSIGN_CLIENT_SECRET_FILE", path)]).unwrap();
    assert_eq!(config.client.secret.expose(), "from-a-file");
    let both = super::tests::config(&[
        ("COUNTERSIGN_CLIENT_SECRET_FILE", path),
        ("COUNTERSIGN_CLIENT_SECRET", "x"),
    ]);
    assert_eq!(both.unwrap_err().variable, "COUNTERSIGN_CLIENT_SECRET_FILE");
    let missing = super::tests::config(&[("COUNTERSIGN_CLIENT_SECRET_FILE", "/nonexistent/x")]);
    assert_eq!(
        missing.unwrap_err().variable,
        "COUNTERSIGN_CLIENT_SECRET_FILE"
    );
}

#[test]
fn the_embedded_default_uses_the_demo_client_and_sane_timeouts() {
    let config = config(&[]).unwrap();
    assert_eq!(config.client.id, "agent-console");
    assert_eq!(config.client.app_id, "demo-bank");
    assert_eq!(config.session_idle, Duration::from_secs(1800));
    assert_eq!(config.session_max, Duration::from_secs(12 * 3600));
    assert_eq!(config.request_expiry, Duration::from_secs(300));
    let short = super::tests::config(&[("COUNTERSIGN_REQUEST_EXPIRY_SECS", "15")]).unwrap();
    assert_eq!(short.request_expiry, Duration::from_secs(15));
    for bad in ["5", "x", "99999"] {
        let error = super::tests::config(&[("COUNTERSIGN_REQUEST_EXPIRY_SECS", bad)]);
        assert_eq!(
            error.unwrap_err().variable,
            "COUNTERSIGN_REQUEST_EXPIRY_SECS"
        );
    }
}

#[test]
fn a_settings_file_flattens_to_variable_names_and_refuses_secrets() {
    let settings = file_settings(
        "[provider]\nprofile = \"standard\"\nurl = \"https://id.example.com\"\n\
         [client]\nid = \"console\"\nsecret_file = \"/run/secret\"\n\
         [session]\nidle_minutes = 15\n",
    )
    .unwrap();
    assert_eq!(settings["COUNTERSIGN_PROVIDER_PROFILE"], "standard");
    assert_eq!(settings["COUNTERSIGN_CLIENT_SECRET_FILE"], "/run/secret");
    assert_eq!(settings["COUNTERSIGN_SESSION_IDLE_MINUTES"], "15");
    let refused = file_settings("[client]\nsecret = \"x\"\n").unwrap_err();
    assert!(refused.contains("COUNTERSIGN_CLIENT_SECRET"), "{refused}");
    assert!(file_settings("not = [toml").is_err());
}

#[test]
fn case_32_the_development_outbox_is_switched_on_explicitly_in_the_env_or_the_file() {
    let embedded = |config: Config| match config.provider {
        ProviderMode::Embedded(provider) => provider,
        ProviderMode::External { .. } => panic!("expected the embedded provider"),
    };
    assert!(!embedded(config(&[]).unwrap()).dev_outbox);
    let on = config(&[("COUNTERSIGN_DEV_OUTBOX", "true")]).unwrap();
    assert!(embedded(on).dev_outbox);
    let file = file_settings("[dev]\noutbox = true\n").unwrap();
    assert_eq!(file["COUNTERSIGN_DEV_OUTBOX"], "true");
    let from_file = Config::from_lookup(|name| file.get(name).cloned()).unwrap();
    assert!(embedded(from_file).dev_outbox);
    // Beside a real sender the start is refused, naming both variables.
    let error = config(&[
        ("COUNTERSIGN_DEV_OUTBOX", "true"),
        ("COUNTERSIGN_SMS_SENDER", "webhook"),
        (
            "COUNTERSIGN_SMS_WEBHOOK_URL",
            "https://sms.bank.example/send",
        ),
        ("COUNTERSIGN_SMS_WEBHOOK_SECRET", "0123456789abcdef-secret"),
    ])
    .unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_DEV_OUTBOX");
    assert!(
        error.to_string().contains("COUNTERSIGN_SMS_SENDER=webhook"),
        "{error}"
    );
}

#[test]
fn rate_limits_come_from_the_file_or_the_environment_for_both_sides() {
    let settings = file_settings(
        "[limit]\nstarts_per_customer = \"2/5m\"\n\
         [provider.limit]\nbackchannel_per_client = \"100000/1m\"\n",
    )
    .unwrap();
    let read = Config::from_lookup(|name| settings.get(name).cloned()).unwrap();
    assert_eq!(read.limits.starts_per_customer.max, 2);
    assert_eq!(
        read.limits.starts_per_customer.window,
        Duration::from_secs(300)
    );
    assert_eq!(
        read.limits.starts_per_agent,
        crate::limits::BffLimits::default().starts_per_agent
    );
    let ProviderMode::Embedded(provider) = &read.provider else {
        panic!("embedded by default");
    };
    assert_eq!(provider.limits.backchannel_per_client.max, 100_000);
    let bad = config(&[("COUNTERSIGN_PROVIDER_LIMIT_SMS_PER_NUMBER", "many")]).unwrap_err();
    assert_eq!(bad.variable, "COUNTERSIGN_PROVIDER_LIMIT_SMS_PER_NUMBER");
    let bad = config(&[("COUNTERSIGN_LIMIT_APPROVAL_PER_IP", "10/0s")]).unwrap_err();
    assert_eq!(bad.variable, "COUNTERSIGN_LIMIT_APPROVAL_PER_IP");
}

#[test]
fn trusting_a_proxy_is_a_clear_yes_or_no() {
    assert!(!config(&[]).unwrap().trust_forwarded_for);
    let on = config(&[("COUNTERSIGN_TRUST_FORWARDED_FOR", "true")]).unwrap();
    assert!(on.trust_forwarded_for);
    let bad = config(&[("COUNTERSIGN_TRUST_FORWARDED_FOR", "yes")]).unwrap_err();
    assert_eq!(bad.variable, "COUNTERSIGN_TRUST_FORWARDED_FOR");
}

#[test]
fn the_display_name_defaults_to_the_demo_bank() {
    assert_eq!(config(&[]).unwrap().display_name, "Demo Bank");
    let named = config(&[("COUNTERSIGN_DISPLAY_NAME", "  Acme Savings ")]).unwrap();
    assert_eq!(named.display_name, "Acme Savings");
    let long = "x".repeat(61);
    for bad in ["two\nlines", long.as_str()] {
        let error = config(&[("COUNTERSIGN_DISPLAY_NAME", bad)]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_DISPLAY_NAME");
    }
}

#[test]
fn bad_values_name_their_variable() {
    let error = config(&[("COUNTERSIGN_ADDR", "3000")]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_ADDR");
    let error = config(&[("COUNTERSIGN_PROVIDER_URL", "id.example.com")]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_URL");
    let error = config(&[("COUNTERSIGN_PROVIDER_ADDR", "nowhere")]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_ADDR");
}

#[test]
fn a_cluster_database_needs_the_shared_sealing_key() {
    const URL: &str = "postgres://bff:pa55word@db.internal:5432/countersign?sslmode=require";
    let key = "0123456789abcdef".repeat(4);

    let by_default = config(&[]).unwrap();
    assert_eq!(
        (by_default.database_url, by_default.sealing_key),
        (None, None)
    );

    let refused = config(&[("COUNTERSIGN_DATABASE_URL", URL)]).unwrap_err();
    assert_eq!(refused.variable, "COUNTERSIGN_SEALING_KEY");
    assert!(refused.problem.contains("same key"), "{}", refused.problem);

    // A cluster's BFFs share a provider too: the embedded one is refused.
    let embedded = config(&[
        ("COUNTERSIGN_DATABASE_URL", URL),
        ("COUNTERSIGN_SEALING_KEY", &key),
    ])
    .unwrap_err();
    assert_eq!(embedded.variable, "COUNTERSIGN_PROVIDER_URL");
    let cluster = config(&[
        ("COUNTERSIGN_DATABASE_URL", URL),
        ("COUNTERSIGN_SEALING_KEY", &key),
        ("COUNTERSIGN_PROVIDER_URL", "https://provider.internal"),
        ("COUNTERSIGN_CLIENT_SECRET", "a-client-secret"),
        ("COUNTERSIGN_CLIENT_ID", "agent-console"),
        ("COUNTERSIGN_APP_ID", "demo-bank"),
    ])
    .unwrap();
    assert_eq!(cluster.database_url.as_ref().map(Secret::expose), Some(URL));
    // The password is never shown.
    assert!(!format!("{cluster:?}").contains("pa55word"));

    for bad in [
        "mysql://db/countersign",
        "sqlite:data.db",
        "postgres://[::1",
        "postgres://bff:pa55word@db.internal/countersign",
    ] {
        let refused = config(&[
            ("COUNTERSIGN_DATABASE_URL", bad),
            ("COUNTERSIGN_SEALING_KEY", &key),
        ])
        .unwrap_err();
        assert_eq!(refused.variable, "COUNTERSIGN_DATABASE_URL", "{bad}");
        assert!(!refused.problem.contains(bad), "{}", refused.problem);
    }
    for bad in ["abc", &"g".repeat(64), &"0".repeat(63), &"0".repeat(66)] {
        let refused = config(&[("COUNTERSIGN_SEALING_KEY", bad)]).unwrap_err();
        assert_eq!(refused.variable, "COUNTERSIGN_SEALING_KEY", "{bad}");
        assert!(refused.problem.contains("64 hex characters"));
    }
    // A key alone (a single instance on SQLite) is fine too; upper case as well.
    let keyed = config(&[("COUNTERSIGN_SEALING_KEY", &key.to_uppercase())]).unwrap();
    assert!(keyed.sealing_key.is_some());
    assert_eq!(
        crate::sealed::key_from_hex(&key),
        crate::sealed::key_from_hex(&key.to_uppercase())
    );
    assert_eq!(
        crate::sealed::key_from_hex(&key).unwrap()[..2],
        [0x01, 0x23]
    );
}

#[test]
fn metrics_are_served_on_the_loopback_unless_moved_or_switched_off() {
    assert_eq!(
        config(&[]).unwrap().metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    let moved = config(&[("COUNTERSIGN_METRICS_ADDR", "0.0.0.0:9500")]).unwrap();
    assert_eq!(moved.metrics_listen, Some("0.0.0.0:9500".parse().unwrap()));
    let off = config(&[("COUNTERSIGN_METRICS_ADDR", "off")]).unwrap();
    assert_eq!(off.metrics_listen, None);
    let error = config(&[("COUNTERSIGN_METRICS_ADDR", "9464")]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_METRICS_ADDR");
}

#[test]
fn the_listeners_caps_are_set_within_each_other() {
    let defaults = config(&[]).unwrap().serve_limits;
    assert_eq!(defaults, ServeLimits::default());
    let wide = config(&[
        ("COUNTERSIGN_MAX_CONNECTIONS", "12000"),
        ("COUNTERSIGN_MAX_STREAMS", "11000"),
    ])
    .unwrap()
    .serve_limits;
    assert_eq!((wide.max_connections, wide.max_streams), (12_000, 11_000));
    let error = config(&[
        ("COUNTERSIGN_MAX_CONNECTIONS", "100"),
        ("COUNTERSIGN_MAX_STREAMS", "200"),
    ])
    .unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_MAX_STREAMS");
    let error = config(&[("COUNTERSIGN_MAX_CONNECTIONS", "lots")]).unwrap_err();
    assert_eq!(error.variable, "COUNTERSIGN_MAX_CONNECTIONS");
}
