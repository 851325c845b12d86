//! The BFF's OpenID Connect and CIBA client against a real embedded provider in this process
//! (manual clock, temporary data folder, the demo seed), over HTTP only.

use infra::{
    clock::{Clock, Timestamp},
    secret::Secret,
};
use provider::{Options, Provider};
use reqwest::redirect::Policy;
use serde_json::Value;
use server::oidc::{
    BackchannelRequest, Channel, Credentials, Expected, HintType, IdTokenError, OidcClient,
    OidcError, OtpChannel, PollOutcome, Profile, ProviderSettings,
};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::kit::{closed_port_url, provider_config};

/// The provider's manual clock starts here (ms), so ID tokens are dated from it.
const START_MS: i64 = 1_800_000_000_000;
/// `now` for ID token checks: the provider's clock, in seconds.
const NOW: i64 = START_MS / 1000;
const REDIRECT: &str = "http://127.0.0.1:3000/auth/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An embedded provider on a free port.
struct Op {
    /// Its issuer, which is also its base URL.
    url: String,
    stop: CancellationToken,
    serving: Option<JoinHandle<std::io::Result<()>>>,
    _data: TempDir,
}

impl Op {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(configure: impl FnOnce(&mut provider::Config)) -> Self {
        let data = TempDir::new().unwrap();
        let mut config = provider_config(&data);
        configure(&mut config);
        let provider = Provider::bind_with(
            config,
            Options {
                clock: Clock::manual(Timestamp(START_MS)),
                ..Options::default()
            },
        )
        .await
        .unwrap();
        let url = provider.issuer().to_owned();
        let stop = CancellationToken::new();
        let serving = tokio::spawn(provider.serve(stop.clone().cancelled_owned()));
        Self {
            url,
            stop,
            serving: Some(serving),
            _data: data,
        }
    }

    /// Stops the provider and waits until its port is closed.
    async fn shut_down(&mut self) {
        self.stop.cancel();
        if let Some(serving) = self.serving.take() {
            serving.await.unwrap().unwrap();
        }
    }

    fn settings(&self, profile: Profile) -> ProviderSettings {
        ProviderSettings {
            profile,
            base_url: self.url.clone(),
            issuer: self.url.clone(),
            discovery_url: None,
            credentials: credentials(),
        }
    }

    async fn client(&self, profile: Profile) -> OidcClient {
        OidcClient::discover(self.settings(profile)).await.unwrap()
    }

    /// The one-time code in the newest message to `to`.
    async fn code_sent_to(&self, to: &str) -> Secret {
        let outbox: Vec<Value> = reqwest::get(format!("{}/dev/outbox.json", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let message = outbox.iter().find(|m| m["to"] == to).unwrap();
        let body = message["body"].as_str().unwrap();
        let code = body
            .split(|c: char| !c.is_ascii_digit())
            .find(|part| part.len() == 6)
            .unwrap();
        Secret::new(code)
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn credentials() -> Credentials {
    Credentials {
        client_id: "agent-console".to_owned(),
        client_secret: Secret::new("demo-console-secret"),
    }
}

fn request(hint: &str, hint_type: HintType, channel: Channel) -> BackchannelRequest {
    BackchannelRequest {
        login_hint: hint.to_owned(),
        hint_type,
        channel,
        binding_message: Some("K7-42".to_owned()),
        custom_message: None,
        requested_expiry: Some(300),
        scope: "openid email phone".to_owned(),
        notification_token: None,
    }
}

/// Signs the customer in with a one-time code sent by email.
async fn sign_in(client: &OidcClient, op: &Op, email: &str) -> Secret {
    client
        .otp_send(OtpChannel::Email, HintType::Email, email, None)
        .await
        .unwrap();
    let code = op.code_sent_to(email).await;
    client
        .otp_authenticate(HintType::Email, email, &code, None)
        .await
        .unwrap()
        .access_token
}

#[tokio::test]
async fn standard_discovery_reads_every_endpoint() {
    let op = Op::start().await;
    let client = op.client(Profile::Standard).await;
    let endpoints = client.endpoints();
    assert_eq!(endpoints.issuer, op.url);
    assert_eq!(
        endpoints.backchannel,
        format!("{}/cis/oidc/backchannel", op.url)
    );
    assert_eq!(endpoints.token, format!("{}/oidc/token", op.url));
    assert_eq!(endpoints.jwks, format!("{}/.well-known/jwks.json", op.url));
    assert_eq!(endpoints.authorization, format!("{}/authorize", op.url));
    assert_eq!(
        endpoints.revocation.as_deref(),
        Some(format!("{}/oidc/token/revocation", op.url).as_str())
    );
    assert_eq!(endpoints.complete, None);
    assert_eq!(endpoints.otp_send, None);

    // Only standard parameters: the provider's defaults pick SMS and a phone hint.
    let started = client
        .backchannel(&request("+15555550101", HintType::Phone, Channel::Link))
        .await
        .unwrap();
    assert_eq!(started.link, None, "no request_context, no link channel");
    assert_eq!(started.expires_in, 300);
    assert!(matches!(
        client.poll(&started.auth_req_id).await,
        PollOutcome::Pending
    ));

    let error = client
        .otp_send(OtpChannel::Sms, HintType::Phone, "+15555550101", None)
        .await
        .unwrap_err();
    assert!(matches!(error, OidcError::Unsupported { .. }), "{error}");
}

#[tokio::test]
async fn a_request_is_pending_then_slowed_down() {
    let op = Op::start().await;
    let client = op.client(Profile::Embedded).await;
    let started = client
        .backchannel(&request(
            "alice@example.com",
            HintType::Email,
            Channel::Link,
        ))
        .await
        .unwrap();
    assert_eq!((started.expires_in, started.interval), (300, 5));
    let link = started.link.clone().unwrap();
    assert!(
        link.starts_with("http://127.0.0.1:3000/approve?auth_req_id="),
        "{link}"
    );
    assert!(link.contains(started.auth_req_id.expose()));
    assert!(!format!("{started:?}").contains(started.auth_req_id.expose()));

    assert!(matches!(
        client.poll(&started.auth_req_id).await,
        PollOutcome::Pending
    ));
    // The provider's clock has not moved: the second poll comes too soon.
    assert!(matches!(
        client.poll(&started.auth_req_id).await,
        PollOutcome::SlowDown
    ));
    assert!(matches!(
        client.poll(&Secret::new("made-up")).await,
        PollOutcome::Invalid(_)
    ));
}

#[tokio::test]
async fn refusals_are_typed() {
    let op = Op::start().await;
    let client = op.client(Profile::Embedded).await;
    let unknown = client
        .backchannel(&request(
            "nobody@example.com",
            HintType::Email,
            Channel::Email,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown, OidcError::UnknownUser);

    let mut bad_binding = request("alice@example.com", HintType::Email, Channel::Link);
    bad_binding.binding_message = Some("<b>hi</b>".to_owned());
    assert_eq!(
        client.backchannel(&bad_binding).await.unwrap_err(),
        OidcError::InvalidBindingMessage
    );

    let mut settings = op.settings(Profile::Embedded);
    settings.credentials.client_secret = Secret::new("wrong-secret");
    let impostor = OidcClient::discover(settings).await.unwrap();
    assert_eq!(
        impostor
            .backchannel(&request(
                "alice@example.com",
                HintType::Email,
                Channel::Link
            ))
            .await
            .unwrap_err(),
        OidcError::ClientAuthentication
    );
    assert!(matches!(
        impostor.poll(&Secret::new("x")).await,
        PollOutcome::Invalid(_)
    ));

    client
        .otp_send(
            OtpChannel::Email,
            HintType::Email,
            "alice@example.com",
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        client
            .otp_authenticate(
                HintType::Email,
                "alice@example.com",
                &Secret::new("000000"),
                None
            )
            .await
            .unwrap_err(),
        OidcError::WrongCode {
            attempts_left: Some(4)
        }
    );
}

#[tokio::test]
async fn approval_gives_tokens_whose_id_token_validates() {
    let op = Op::start().await;
    let client = op.client(Profile::Embedded).await;
    let started = client
        .backchannel(&request(
            "alice@example.com",
            HintType::Email,
            Channel::Email,
        ))
        .await
        .unwrap();
    assert_eq!(started.link, None);
    assert!(matches!(
        client.poll(&started.auth_req_id).await,
        PollOutcome::Pending
    ));

    let customer = sign_in(&client, &op, "alice@example.com").await;
    client
        .complete(&customer, &started.auth_req_id, true)
        .await
        .unwrap();
    assert_eq!(
        client
            .complete(&customer, &started.auth_req_id, false)
            .await
            .unwrap_err(),
        OidcError::AlreadyDecided
    );

    let PollOutcome::Tokens(tokens) = client.poll(&started.auth_req_id).await else {
        panic!("expected tokens");
    };
    let debug = format!("{tokens:?}");
    assert!(!debug.contains(tokens.access_token.expose()), "{debug}");

    let claims = client
        .validate_id_token(
            &tokens.id_token,
            Expected {
                sub: Some("alice"),
                nonce: None,
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.name.as_deref(), Some("Alice Anders"));
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
    assert_eq!(claims.phone_number.as_deref(), Some("+15555550101"));
    assert_eq!(claims.amr, ["otp", "email"]);
    assert_eq!(claims.auth_time, Some(NOW));
    assert!(claims.acr.is_some());
    assert_eq!(claims.role, None);

    // The customer who was asked for, and no one else.
    let error = client
        .validate_id_token(
            &tokens.id_token,
            Expected {
                sub: Some("bob"),
                nonce: None,
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert_eq!(error, OidcError::IdToken(IdTokenError::SubjectMismatch));

    // Time is the caller's: an hour later (plus the skew) the token has expired.
    let error = client
        .validate_id_token(&tokens.id_token, Expected::default(), NOW + 3600 + 60)
        .await
        .unwrap_err();
    assert_eq!(error, OidcError::IdToken(IdTokenError::Expired));

    // A payload changed by one character no longer verifies.
    let token = tokens.id_token.expose();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let payload = &mut parts[1];
    let middle = payload.len() / 2;
    let flipped = if &payload[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    payload.replace_range(middle..=middle, flipped);
    let tampered = Secret::new(parts.join("."));
    let error = client
        .validate_id_token(&tampered, Expected::default(), NOW)
        .await
        .unwrap_err();
    assert_eq!(error, OidcError::IdToken(IdTokenError::BadSignature));

    // Another header on the same payload and signature: an unknown key, or no signature.
    let original: Vec<&str> = token.split('.').collect();
    let headers = [
        // {"alg":"RS256","kid":"nope"}
        (
            "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUifQ",
            original[2],
            IdTokenError::UnknownKey,
        ),
        // {"alg":"none"}
        ("eyJhbGciOiJub25lIn0", "", IdTokenError::Malformed),
    ];
    for (header, signature, expected) in headers {
        let forged = Secret::new(format!("{header}.{}.{signature}", original[1]));
        let error = client
            .validate_id_token(&forged, Expected::default(), NOW)
            .await
            .unwrap_err();
        assert_eq!(error, OidcError::IdToken(expected));
    }

    // The access token speaks for alice; once revoked it does not.
    let info = client.userinfo(&tokens.access_token).await.unwrap();
    assert_eq!(info.sub, "alice");
    assert_eq!(info.profile.email.as_deref(), Some("alice@example.com"));
    client.revoke(&tokens.access_token).await.unwrap();
    assert_eq!(
        client.userinfo(&tokens.access_token).await.unwrap_err(),
        OidcError::InvalidToken
    );

    // Spent.
    assert!(matches!(
        client.poll(&started.auth_req_id).await,
        PollOutcome::Invalid(_)
    ));
}

#[tokio::test]
async fn a_denial_is_denied_and_only_the_customer_decides() {
    let op = Op::start().await;
    let client = op.client(Profile::Embedded).await;
    let started = client
        .backchannel(&request("bob", HintType::UserId, Channel::Sms))
        .await
        .unwrap();

    // Alice, signed in, may not decide bob's request.
    let alice = sign_in(&client, &op, "alice@example.com").await;
    assert_eq!(
        client
            .complete(&alice, &started.auth_req_id, true)
            .await
            .unwrap_err(),
        OidcError::Forbidden
    );

    client
        .otp_send(OtpChannel::Sms, HintType::UserId, "bob", None)
        .await
        .unwrap();
    let code = op.code_sent_to("+15555550102").await;
    let bob = client
        .otp_authenticate(HintType::UserId, "bob", &code, None)
        .await
        .unwrap();
    let bobs_id_token = bob.id_token.clone().unwrap();
    let claims = client
        .validate_id_token(
            &bobs_id_token,
            Expected {
                sub: Some("bob"),
                nonce: None,
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(claims.amr, ["otp", "sms"]);

    client
        .complete(&bob.access_token, &started.auth_req_id, false)
        .await
        .unwrap();
    assert!(matches!(
        client.poll(&started.auth_req_id).await,
        PollOutcome::Denied
    ));
    assert_eq!(
        client
            .complete(&bob.access_token, &Secret::new("made-up"), true)
            .await
            .unwrap_err(),
        OidcError::NotFound
    );
}

#[tokio::test]
async fn discovery_refuses_another_issuer() {
    let op = Op::start().await;
    let mut settings = op.settings(Profile::Embedded);
    settings.issuer = "https://id.elsewhere.example".to_owned();
    let error = OidcClient::discover(settings).await.unwrap_err();
    assert_eq!(
        error,
        OidcError::IssuerMismatch {
            expected: "https://id.elsewhere.example".to_owned(),
            found: op.url.clone(),
        }
    );
    assert!(error.to_string().contains("https://id.elsewhere.example"));

    // Issuers compare exactly: a trailing slash is another issuer.
    let mut settings = op.settings(Profile::Standard);
    settings.issuer = format!("{}/", op.url);
    assert!(matches!(
        OidcClient::discover(settings).await.unwrap_err(),
        OidcError::IssuerMismatch { .. }
    ));
}

#[tokio::test]
async fn a_provider_that_is_down_is_unavailable() {
    let url = closed_port_url().await;
    let settings = ProviderSettings {
        profile: Profile::Standard,
        base_url: url.clone(),
        issuer: url.clone(),
        discovery_url: None,
        credentials: credentials(),
    };
    let error = OidcClient::discover(settings).await.unwrap_err();
    assert_eq!(
        error,
        OidcError::Unavailable(format!("cannot connect to {url}"))
    );
    assert!(error.is_transient());

    // Up at discovery, down when polled.
    let mut op = Op::start().await;
    let client = op.client(Profile::Embedded).await;
    let started = client
        .backchannel(&request(
            "alice@example.com",
            HintType::Email,
            Channel::Link,
        ))
        .await
        .unwrap();
    op.shut_down().await;
    let outcome = client.poll(&started.auth_req_id).await;
    assert!(
        matches!(&outcome, PollOutcome::Unavailable(why) if !why.contains(started.auth_req_id.expose())),
        "{outcome:?}"
    );
    assert!(matches!(
        client
            .backchannel(&request(
                "alice@example.com",
                HintType::Email,
                Channel::Link
            ))
            .await,
        Err(OidcError::Unavailable(_))
    ));
    assert!(matches!(
        client.client_token().await,
        Err(OidcError::Unavailable(_))
    ));
}

#[tokio::test]
async fn an_agent_signs_in_with_a_code_and_pkce() {
    let op = Op::start().await;
    let client = op.client(Profile::Embedded).await;
    let url = client.authorization_url(REDIRECT, "state-1", "nonce-1", CHALLENGE);
    let parsed = reqwest::Url::parse(&url).unwrap();
    assert!(url.starts_with(&format!("{}/authorize?", op.url)), "{url}");
    let mut form: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    for (name, value) in [
        ("response_type", "code"),
        ("client_id", "agent-console"),
        ("redirect_uri", REDIRECT),
        ("state", "state-1"),
        ("nonce", "nonce-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ] {
        assert!(
            form.iter().any(|(n, v)| n == name && v == value),
            "{name} in {url}"
        );
    }

    // The browser: the sign-in form posted from the provider's own page.
    form.push(("email".to_owned(), "agent@demo.bank".to_owned()));
    form.push(("password".to_owned(), "agent-demo-password".to_owned()));
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let response = browser
        .post(format!("{}/authorize", op.url))
        .header("Origin", &op.url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = reqwest::Url::parse(&location)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();

    assert!(client.authorization_code(&query, "state-2").is_err());
    let code = client.authorization_code(&query, "state-1").unwrap();
    let tokens = client
        .exchange_code(&code, REDIRECT, &Secret::new(VERIFIER))
        .await
        .unwrap();
    let claims = client
        .validate_id_token(
            &tokens.id_token,
            Expected {
                sub: None,
                nonce: Some("nonce-1"),
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(claims.sub, "agent");
    assert_eq!(claims.role.as_deref(), Some("agent"));
    assert_eq!(claims.email.as_deref(), Some("agent@demo.bank"));
    assert_eq!(claims.amr, ["pwd"]);
    assert_eq!(
        client
            .validate_id_token(
                &tokens.id_token,
                Expected {
                    sub: None,
                    nonce: Some("nonce-2"),
                },
                NOW,
            )
            .await
            .unwrap_err(),
        OidcError::IdToken(IdTokenError::NonceMismatch)
    );

    // A code works once.
    assert_eq!(
        client
            .exchange_code(&code, REDIRECT, &Secret::new(VERIFIER))
            .await
            .unwrap_err(),
        OidcError::InvalidGrant
    );
}

/// Whether the provider offers ping mode is read from discovery: a BFF set to ping against a
/// provider that does not list it polls instead.
#[tokio::test]
async fn discovery_says_whether_the_provider_offers_ping() {
    let op = Op::start().await;
    assert!(op.client(Profile::Standard).await.offers_ping());

    let mut document: Value = reqwest::get(format!("{}/.well-known/openid-configuration", op.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    document["backchannel_token_delivery_modes_supported"] = serde_json::json!(["poll"]);
    let router = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            let document = document.clone();
            async move { axum::Json(document) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = format!(
        "http://{}/.well-known/openid-configuration",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut settings = op.settings(Profile::Standard);
    settings.discovery_url = Some(elsewhere);
    let poll_only = OidcClient::discover(settings).await.unwrap();
    assert!(!poll_only.offers_ping());
}

/// The passkey calls reach the provider's API: registration begins with the customer's token
/// and the approval page's relying party, a sign-in begins only for a customer with a passkey,
/// and a credential that is not an answer is refused as a wrong code is. (The ceremonies'
/// rules are the provider's tests; the browser's answers, the end-to-end tests'.)
#[tokio::test]
async fn passkey_calls_reach_the_provider_and_refusals_are_typed() {
    let op = Op::start_with(|config| {
        config.passkeys = Some(
            provider::passkeys::PasskeyConfig::new("https://verify.bank.example", None).unwrap(),
        );
    })
    .await;
    let client = op.client(Profile::Embedded).await;
    let customer = sign_in(&client, &op, "alice@example.com").await;
    let started = client.passkey_registration_start(&customer).await.unwrap();
    assert_eq!(
        started.options["publicKey"]["rp"]["id"],
        "verify.bank.example"
    );
    assert!(!format!("{started:?}").contains(started.ceremony_id.expose()));
    let refused = client
        .passkey_registration_finish(&customer, &started.ceremony_id, &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, OidcError::Refused { status: 400, .. }),
        "{refused:?}"
    );
    // A client token is not a customer's.
    let not_a_customer = client.client_token().await.unwrap();
    assert!(
        client
            .passkey_registration_start(&not_a_customer)
            .await
            .is_err()
    );

    // Alice has no passkey: nothing to offer.
    let none = client
        .passkey_authentication_start(HintType::Email, "alice@example.com")
        .await
        .unwrap();
    assert!(none.is_none());
    let unknown = client
        .passkey_authentication_finish(
            &Secret::new("no-such-ceremony"),
            &serde_json::json!({
                "id": "AA", "rawId": "AA", "type": "public-key", "extensions": {},
                "response": {"authenticatorData": "AA", "clientDataJSON": "AA", "signature": "AA"}
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown, OidcError::InvalidGrant);

    // The standard profile has no passkey calls: nothing is offered, nothing is sent.
    let standard = op.client(Profile::Standard).await;
    assert!(
        standard
            .passkey_authentication_start(HintType::Email, "alice@example.com")
            .await
            .unwrap()
            .is_none()
    );
}
