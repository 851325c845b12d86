//! Customers' passkeys (`/cis/v1/auth/webauthn/…`): registered with the customer's token after
//! a code sign-in, then used alone to sign in, counting as the customer's authentication for a
//! decision as a code does. A software passkey ([`SoftPasskey`]) plays the phone: it makes
//! credentials and signs assertions as an authenticator would, and can be told to lie (another
//! origin, another relying party, a counter that does not move on, another user's handle).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::kit::{Op, PASSKEY_ORIGIN, error_of};

const RP_ID: &str = "verify.bank.example";

/// A passkey on a phone: one credential, its key and its signature counter.
struct SoftPasskey {
    id: Vec<u8>,
    key: SigningKey,
    counter: u32,
    /// The user handle the site gave at registration.
    user_handle: Option<Vec<u8>>,
}

/// What the phone's browser and authenticator put in an answer; changed to make it lie.
#[derive(Clone)]
struct Answer {
    origin: String,
    rp_id: String,
    user_verified: bool,
}

impl Default for Answer {
    fn default() -> Self {
        Self {
            origin: PASSKEY_ORIGIN.to_owned(),
            rp_id: RP_ID.to_owned(),
            user_verified: true,
        }
    }
}

fn cbor_map(entries: Vec<(Cbor, Cbor)>) -> Cbor {
    Cbor::Map(entries.into_iter().collect())
}

impl SoftPasskey {
    fn new(seed: u8) -> Self {
        let mut secret = [seed; 32];
        secret[0] = 1;
        Self {
            id: (0..32)
                .map(|i| seed.wrapping_mul(31).wrapping_add(i))
                .collect(),
            key: SigningKey::from_slice(&secret).unwrap(),
            counter: 0,
            user_handle: None,
        }
    }

    fn client_data(kind: &str, options: &Value, answer: &Answer) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": options["publicKey"]["challenge"],
            "origin": answer.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn flags(answer: &Answer, attested: bool) -> u8 {
        let mut flags = 0x01; // user present
        if answer.user_verified {
            flags |= 0x04;
        }
        if attested {
            flags |= 0x40;
        }
        flags
    }

    /// `navigator.credentials.create` with the site's `options`, as JSON for the site.
    fn create(&mut self, options: &Value, answer: &Answer) -> Value {
        let handle = options["publicKey"]["user"]["id"].as_str().unwrap();
        self.user_handle = Some(B64.decode(handle.trim_end_matches('=')).unwrap());
        let point = self.key.verifying_key().to_sec1_point(false);
        let point = point.as_bytes();
        assert_eq!((point.len(), point[0]), (65, 4));
        let cose = cbor_map(vec![
            (Cbor::Integer(1), Cbor::Integer(2)),
            (Cbor::Integer(3), Cbor::Integer(-7)),
            (Cbor::Integer(-1), Cbor::Integer(1)),
            (Cbor::Integer(-2), Cbor::Bytes(point[1..33].to_vec())),
            (Cbor::Integer(-3), Cbor::Bytes(point[33..].to_vec())),
        ]);
        let mut auth_data = Sha256::digest(answer.rp_id.as_bytes()).to_vec();
        auth_data.push(Self::flags(answer, true));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0; 16]); // AAGUID
        auth_data.extend_from_slice(&u16::try_from(self.id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(&self.id);
        auth_data.extend_from_slice(&serde_cbor_2::to_vec(&cose).unwrap());
        let attestation = cbor_map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), cbor_map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        let id = B64.encode(&self.id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(serde_cbor_2::to_vec(&attestation).unwrap()),
                "clientDataJSON": B64.encode(Self::client_data("webauthn.create", options, answer)),
            },
            "extensions": {},
        })
    }

    /// `navigator.credentials.get` with the site's `options`; the counter moves on by `step`.
    fn get(&mut self, options: &Value, answer: &Answer, step: u32) -> Value {
        self.counter += step;
        let client_data = Self::client_data("webauthn.get", options, answer);
        let mut auth_data = Sha256::digest(answer.rp_id.as_bytes()).to_vec();
        auth_data.push(Self::flags(answer, false));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let id = B64.encode(&self.id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": self.user_handle.as_ref().map(|handle| B64.encode(handle)),
            },
            "extensions": {},
        })
    }
}

async fn post(op: &Op, path: &str, token: &str, body: &Value) -> reqwest::Response {
    op.http
        .post(format!("{}/cis/v1/auth/webauthn/{path}", op.url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Registers `passkey` for the customer at `email`, after a code sign-in.
async fn register(op: &Op, email: &str, passkey: &mut SoftPasskey) -> String {
    let customer = op.customer_token(email).await;
    let started = ok(post(op, "registration/start", &customer, &json!({})).await).await;
    let options = &started["options"];
    assert_eq!(options["publicKey"]["rp"]["id"], RP_ID);
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = passkey.create(options, &Answer::default());
    let finished = post(
        op,
        "registration/finish",
        &customer,
        &json!({"ceremony_id": started["ceremony_id"], "credential": credential}),
    )
    .await;
    ok(finished).await["credential_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Starts a passkey sign-in for `email`; answers the ceremony id and the browser's options.
async fn sign_in_start(op: &Op, email: &str) -> (String, Value) {
    let client = op.client_token().await;
    let body = json!({"identifier_type": "email", "identifier": email});
    let started = ok(post(op, "authentication/start", &client, &body).await).await;
    (
        started["ceremony_id"].as_str().unwrap().to_owned(),
        started["options"].clone(),
    )
}

async fn sign_in_finish(op: &Op, ceremony: &str, credential: Value) -> reqwest::Response {
    let client = op.client_token().await;
    let body = json!({"ceremony_id": ceremony, "credential": credential});
    post(op, "authentication/finish", &client, &body).await
}

/// The claims of a JWT, unchecked (the token endpoint's own tests check signatures).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_passkey_registered_after_a_code_signs_the_customer_in_alone_and_decides() {
    let op = Op::start().await;
    let mut phone = SoftPasskey::new(3);
    let credential_id = register(&op, "alice@example.com", &mut phone).await;
    assert_eq!(credential_id, B64.encode(&phone.id));

    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["id"], credential_id);
    let answer = phone.get(&options, &Answer::default(), 1);
    let signed_in = ok(sign_in_finish(&op, &ceremony, answer).await).await;
    assert_eq!(signed_in["amr"], json!(["hwk", "user"]));
    let id_claims = claims(signed_in["id_token"].as_str().unwrap());
    assert_eq!(id_claims["sub"], "alice");
    assert_eq!(id_claims["amr"], json!(["hwk", "user"]));

    // The passkey sign-in decides a backchannel request as a code sign-in does, and the
    // client's ID token says how the customer authenticated.
    let id = op.start_for_alice().await;
    let customer = signed_in["access_token"].as_str().unwrap();
    assert_eq!(op.complete(customer, &id, true).await.status(), 200);
    let tokens: Value = op.poll(&id).await.json().await.unwrap();
    let decided = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(decided["sub"], "alice");
    assert_eq!(decided["amr"], json!(["hwk", "user"]));

    // The audit has the registration and the sign-in.
    let events: Vec<String> = op
        .audit_trail()
        .await
        .iter()
        .map(|event| format!("{} {}", event["event"], event["detail"]))
        .collect();
    assert!(
        events.contains(&"\"passkey_registered\" null".to_owned()),
        "{events:?}"
    );
    assert!(
        events.contains(&"\"customer_signed_in\" \"passkey\"".to_owned()),
        "{events:?}"
    );
}

/// SECURITY.md case 19: an assertion made for another origin or another relying-party id is
/// refused; each try spends its ceremony, and the customer's next real try works.
#[tokio::test]
async fn case_19_an_assertion_for_another_origin_or_rp_id_is_refused() {
    let op = Op::start().await;
    let mut phone = SoftPasskey::new(4);
    register(&op, "alice@example.com", &mut phone).await;
    for lie in [
        Answer {
            origin: "https://verify.bank.example.evil.example".to_owned(),
            ..Answer::default()
        },
        Answer {
            origin: "http://verify.bank.example".to_owned(),
            ..Answer::default()
        },
        Answer {
            rp_id: "evil.example".to_owned(),
            ..Answer::default()
        },
        Answer {
            user_verified: false,
            ..Answer::default()
        },
    ] {
        let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
        let answer = phone.get(&options, &lie, 1);
        let refused = sign_in_finish(&op, &ceremony, answer).await;
        assert_eq!(error_of(refused).await, "invalid_grant", "{}", lie.origin);
        // Spent: the right answer to that challenge no longer counts.
        let right = phone.get(&options, &Answer::default(), 1);
        assert_eq!(
            error_of(sign_in_finish(&op, &ceremony, right).await).await,
            "invalid_grant"
        );
    }
    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let answer = phone.get(&options, &Answer::default(), 1);
    assert_eq!(
        error_of(sign_in_finish(&op, &ceremony, answer).await).await,
        "tokens"
    );

    // A registration made for another origin is refused too, and stores nothing.
    let customer = op.customer_token("bob@example.com").await;
    let started = ok(post(&op, "registration/start", &customer, &json!({})).await).await;
    let mut other = SoftPasskey::new(5);
    let lie = Answer {
        origin: "https://evil.example".to_owned(),
        ..Answer::default()
    };
    let credential = other.create(&started["options"], &lie);
    let refused = post(
        &op,
        "registration/finish",
        &customer,
        &json!({"ceremony_id": started["ceremony_id"], "credential": credential}),
    )
    .await;
    assert_eq!(error_of(refused).await, "invalid_grant");
    let client = op.client_token().await;
    let none = post(
        &op,
        "authentication/start",
        &client,
        &json!({"identifier_type": "email", "identifier": "bob@example.com"}),
    )
    .await;
    assert_eq!(none.status(), 404);
}

/// A sign-in for customer A allows only A's passkeys: B's passkey, or A's credential with B's
/// user handle, is refused.
#[tokio::test]
async fn another_customers_passkey_is_refused() {
    let op = Op::start().await;
    let mut alices = SoftPasskey::new(6);
    let mut bobs = SoftPasskey::new(7);
    register(&op, "alice@example.com", &mut alices).await;
    register(&op, "bob@example.com", &mut bobs).await;

    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let answer = bobs.get(&options, &Answer::default(), 1);
    assert_eq!(
        error_of(sign_in_finish(&op, &ceremony, answer).await).await,
        "invalid_grant"
    );

    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let mut answer = alices.get(&options, &Answer::default(), 1);
    answer["response"]["userHandle"] = json!(B64.encode(bobs.user_handle.as_ref().unwrap()));
    assert_eq!(
        error_of(sign_in_finish(&op, &ceremony, answer).await).await,
        "invalid_grant"
    );
    assert_ne!(alices.user_handle, bobs.user_handle);
}

/// An authenticator that keeps a signature counter must move it on at every use: an assertion
/// whose counter did not grow (a cloned key) is refused; the next real one works.
#[tokio::test]
async fn a_counter_that_does_not_move_on_is_refused() {
    let op = Op::start().await;
    let mut phone = SoftPasskey::new(8);
    register(&op, "alice@example.com", &mut phone).await;
    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let answer = phone.get(&options, &Answer::default(), 7);
    assert_eq!(
        error_of(sign_in_finish(&op, &ceremony, answer).await).await,
        "tokens"
    );
    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let answer = phone.get(&options, &Answer::default(), 0);
    assert_eq!(
        error_of(sign_in_finish(&op, &ceremony, answer).await).await,
        "invalid_grant"
    );
    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let answer = phone.get(&options, &Answer::default(), 2);
    assert_eq!(
        error_of(sign_in_finish(&op, &ceremony, answer).await).await,
        "tokens"
    );
    let trail = op.audit_trail().await;
    let refusals: Vec<&Value> = trail
        .iter()
        .filter(|event| event["event"] == "passkey_refused")
        .collect();
    assert_eq!(refusals.len(), 1);
    // webauthn-rs refuses it against the ceremony's copy of the counter, before the stored
    // counter is compared.
    assert_eq!(refusals[0]["detail"], "check");
    assert_eq!(refusals[0]["user_id"], "alice");
}

/// Only a recent one-time-code sign-in registers a passkey: not the tokens a client gets by
/// redeeming a CIBA request (or it could make itself a key and approve its own requests), not
/// a passkey sign-in's, not one older than 10 minutes.
#[tokio::test]
async fn only_a_fresh_code_sign_in_registers_a_passkey() {
    let op = Op::start().await;
    let id = op.start_for_alice().await;
    let customer = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&customer, &id, true).await.status(), 200);
    let redeemed: Value = op.poll(&id).await.json().await.unwrap();
    let ciba_token = redeemed["access_token"].as_str().unwrap();
    let refused = post(&op, "registration/start", ciba_token, &json!({})).await;
    assert_eq!(refused.status(), 403);

    let mut phone = SoftPasskey::new(10);
    register(&op, "alice@example.com", &mut phone).await;
    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let answer = phone.get(&options, &Answer::default(), 1);
    let by_passkey = ok(sign_in_finish(&op, &ceremony, answer).await).await;
    let token = by_passkey["access_token"].as_str().unwrap();
    let refused = post(&op, "registration/start", token, &json!({})).await;
    assert_eq!(refused.status(), 403);

    let old = op.customer_token("alice@example.com").await;
    op.advance(601);
    let refused = post(&op, "registration/start", &old, &json!({})).await;
    assert_eq!(refused.status(), 403);
}

/// Sign-in ceremonies for one customer stay open side by side (whoever holds the customer's
/// link can have one begun, and that must not end the customer's); a new registration, which
/// only the customer's own token begins, replaces the open one.
#[tokio::test]
async fn sign_ins_stay_open_side_by_side_and_a_new_registration_replaces_the_open_one() {
    let op = Op::start().await;
    let mut phone = SoftPasskey::new(11);
    register(&op, "alice@example.com", &mut phone).await;
    let (customers, customers_options) = sign_in_start(&op, "alice@example.com").await;
    let (strangers, _) = sign_in_start(&op, "alice@example.com").await;
    let answer = phone.get(&customers_options, &Answer::default(), 1);
    assert_eq!(
        error_of(sign_in_finish(&op, &customers, answer).await).await,
        "tokens"
    );
    assert_ne!(strangers, customers);

    let customer = op.customer_token("alice@example.com").await;
    let first = ok(post(&op, "registration/start", &customer, &json!({})).await).await;
    let second = ok(post(&op, "registration/start", &customer, &json!({})).await).await;
    let mut other = SoftPasskey::new(12);
    let credential = other.create(&first["options"], &Answer::default());
    let body = json!({"ceremony_id": first["ceremony_id"], "credential": credential});
    let replaced = post(&op, "registration/finish", &customer, &body).await;
    assert_eq!(error_of(replaced).await, "invalid_grant");
    let credential = other.create(&second["options"], &Answer::default());
    let body = json!({"ceremony_id": second["ceremony_id"], "credential": credential});
    assert!(
        ok(post(&op, "registration/finish", &customer, &body).await).await["credential_id"]
            .is_string()
    );
}

/// A ceremony belongs to the client that began it, expires, and registration takes only the
/// customer's own token.
#[tokio::test]
async fn ceremonies_are_the_clients_own_and_expire_and_registration_needs_the_customer() {
    let op = Op::start().await;
    let client = op.client_token().await;
    let refused = post(&op, "registration/start", &client, &json!({})).await;
    assert_eq!(refused.status(), 403);
    let unknown = post(&op, "registration/start", "not-a-token", &json!({})).await;
    assert_eq!(unknown.status(), 401);

    let mut phone = SoftPasskey::new(9);
    register(&op, "alice@example.com", &mut phone).await;
    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    let answer = phone.get(&options, &Answer::default(), 1);
    let other = op.client_token_of(crate::kit::OTHER_CLIENT).await;
    let body = json!({"ceremony_id": ceremony, "credential": answer});
    let elsewhere = post(&op, "authentication/finish", &other, &body).await;
    assert_eq!(error_of(elsewhere).await, "invalid_grant");

    let (ceremony, options) = sign_in_start(&op, "alice@example.com").await;
    op.advance(provider::passkeys::CEREMONY_LIFETIME.as_secs() + 1);
    let answer = phone.get(&options, &Answer::default(), 1);
    assert_eq!(
        error_of(sign_in_finish(&op, &ceremony, answer).await).await,
        "invalid_grant"
    );
    let unreadable = post(&op, "authentication/finish", &client, &json!({"x": 1})).await;
    assert_eq!(unreadable.status(), 400);
}
