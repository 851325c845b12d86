use serde_json::json;

use super::*;

const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://id.example.com";
const CLIENT: &str = "agent-console";

fn raw() -> RawClaims {
    RawClaims {
        iss: Some(ISS.into()),
        sub: Some("alice".into()),
        aud: Some(Audience::One(CLIENT.into())),
        exp: Some(NOW + 3600),
        iat: Some(NOW),
        nonce: Some("n-1".into()),
        amr: Some(vec!["otp".into(), "email".into()]),
        auth_time: Some(NOW - 5),
        acr: Some("urn:countersign:acr:otp".into()),
        profile: ProfileClaims {
            name: Some("Alice Anders".into()),
            email: Some("alice@example.com".into()),
            ..ProfileClaims::default()
        },
        ..RawClaims::default()
    }
}

fn check(raw: RawClaims, expected: Expected<'_>, now: i64) -> Result<IdClaims, IdTokenError> {
    check_claims(raw, ISS, CLIENT, &expected, now)
}

#[test]
fn good_claims_pass() {
    let claims = check(
        raw(),
        Expected {
            sub: Some("alice"),
            nonce: Some("n-1"),
        },
        NOW,
    )
    .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.amr, ["otp", "email"]);
    assert_eq!(claims.auth_time, Some(NOW - 5));
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
    assert_eq!(claims.expires_at, NOW + 3600);
    assert!(check(raw(), Expected::default(), NOW).is_ok());
}

#[test]
fn issuer_and_audience() {
    let wrong = |change: fn(&mut RawClaims)| {
        let mut claims = raw();
        change(&mut claims);
        check(claims, Expected::default(), NOW).unwrap_err()
    };
    assert_eq!(
        wrong(|c| c.iss = Some("https://evil".into())),
        IdTokenError::WrongIssuer
    );
    assert_eq!(wrong(|c| c.iss = None), IdTokenError::MissingClaim("iss"));
    assert_eq!(
        wrong(|c| c.aud = Some(Audience::One("other".into()))),
        IdTokenError::WrongAudience
    );
    assert_eq!(wrong(|c| c.aud = None), IdTokenError::MissingClaim("aud"));
    assert_eq!(
        wrong(|c| c.aud = Some(Audience::Many(vec![CLIENT.into(), "other".into()]))),
        IdTokenError::WrongAudience
    );
    assert_eq!(
        wrong(|c| c.azp = Some("other".into())),
        IdTokenError::WrongAudience
    );
    let mut several = raw();
    several.aud = Some(Audience::Many(vec![CLIENT.into(), "other".into()]));
    several.azp = Some(CLIENT.into());
    assert!(check(several, Expected::default(), NOW).is_ok());
    let mut listed = raw();
    listed.aud = Some(Audience::Many(vec![CLIENT.into()]));
    assert!(check(listed, Expected::default(), NOW).is_ok());
}

#[test]
fn time_is_the_callers() {
    let exp = NOW + 3600;
    assert!(check(raw(), Expected::default(), exp + CLOCK_SKEW_SECS - 1).is_ok());
    assert_eq!(
        check(raw(), Expected::default(), exp + CLOCK_SKEW_SECS).unwrap_err(),
        IdTokenError::Expired
    );
    assert_eq!(
        check(raw(), Expected::default(), NOW - CLOCK_SKEW_SECS - 1).unwrap_err(),
        IdTokenError::NotYetValid
    );
    let mut later = raw();
    later.nbf = Some(NOW + 600);
    assert_eq!(
        check(later, Expected::default(), NOW).unwrap_err(),
        IdTokenError::NotYetValid
    );
    let mut no_exp = raw();
    no_exp.exp = None;
    assert_eq!(
        check(no_exp, Expected::default(), NOW).unwrap_err(),
        IdTokenError::MissingClaim("exp")
    );
    let mut no_iat = raw();
    no_iat.iat = None;
    assert_eq!(
        check(no_iat, Expected::default(), NOW).unwrap_err(),
        IdTokenError::MissingClaim("iat")
    );
}

#[test]
fn subject_and_nonce_when_expected() {
    assert_eq!(
        check(
            raw(),
            Expected {
                sub: Some("bob"),
                nonce: None
            },
            NOW
        )
        .unwrap_err(),
        IdTokenError::SubjectMismatch
    );
    assert_eq!(
        check(
            raw(),
            Expected {
                sub: None,
                nonce: Some("n-2")
            },
            NOW
        )
        .unwrap_err(),
        IdTokenError::NonceMismatch
    );
    let mut no_nonce = raw();
    no_nonce.nonce = None;
    assert_eq!(
        check(
            no_nonce,
            Expected {
                sub: None,
                nonce: Some("n-1")
            },
            NOW
        )
        .unwrap_err(),
        IdTokenError::NonceMismatch
    );
    let mut no_sub = raw();
    no_sub.sub = Some(String::new());
    assert_eq!(
        check(no_sub, Expected::default(), NOW).unwrap_err(),
        IdTokenError::MissingClaim("sub")
    );
}

#[test]
fn only_rs256_and_es256_keys_are_kept() {
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
        {"kty": "EC", "kid": "e1", "crv": "P-256", "alg": "ES256",
         "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        {"kty": "EC", "kid": "e2", "crv": "P-384", "x": "a", "y": "b"},
        {"kty": "oct", "kid": "h1", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
        {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "sXch", "e": "AQAB"},
        {"kty": "RSA", "kid": "broken"},
    ]});
    let keys = signing_keys(&jwks);
    let kids: Vec<_> = keys.iter().map(|k| k.kid.clone().unwrap()).collect();
    assert_eq!(kids, ["r1", "e1"]);
    assert_eq!(
        select(&keys, Some("r1"), Algorithm::RS256).map(|k| k.alg),
        Some(Algorithm::RS256)
    );
    assert!(
        select(&keys, Some("r1"), Algorithm::ES256).is_none(),
        "a key is used only with its own algorithm"
    );
    assert!(select(&keys, Some("nope"), Algorithm::RS256).is_none());
    assert!(select(&keys, None, Algorithm::ES256).is_some());
    let mut two = keys.clone();
    two.push(keys[0].clone());
    assert!(
        select(&two, None, Algorithm::RS256).is_none(),
        "no kid and two candidates"
    );
    assert!(signing_keys(&json!({"nope": []})).is_empty());
}

#[test]
fn none_and_hmac_are_refused_by_the_header() {
    // {"alg":"none","typ":"JWT"} . {"sub":"alice"} .
    let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.";
    assert_eq!(header(none).unwrap_err(), IdTokenError::Malformed);
    // {"alg":"HS256","typ":"JWT"}
    let hs = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
    assert_eq!(
        header(hs).unwrap_err(),
        IdTokenError::UnsupportedAlgorithm("HS256".into())
    );
    assert_eq!(header("not a jwt").unwrap_err(), IdTokenError::Malformed);
}

mod properties {
    use aws_lc_rs::{
        rand::SystemRandom,
        signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _},
    };
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    use jsonwebtoken::{EncodingKey, Header};
    use proptest::prelude::*;

    use super::*;

    /// A fresh P-256 key: what signs, and its JWKS.
    fn es256(kid: &str) -> (EncodingKey, Value) {
        let der =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]});
        (EncodingKey::from_ec_der(der.as_ref()), jwks)
    }

    /// A value a JWK member might hold.
    fn member() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[A-Za-z0-9_-]{0,48}".prop_map(Value::from),
            prop_oneof![
                Just("RSA"),
                Just("EC"),
                Just("oct"),
                Just("P-256"),
                Just("P-384"),
                Just("sig"),
                Just("enc"),
                Just("RS256"),
                Just("ES256"),
                Just("AQAB"),
            ]
            .prop_map(Value::from),
        ]
    }

    /// Something that may or may not be a JWK Set.
    fn jwks() -> impl Strategy<Value = Value> {
        let name = prop_oneof![
            Just("kty"),
            Just("crv"),
            Just("x"),
            Just("y"),
            Just("n"),
            Just("e"),
            Just("alg"),
            Just("use"),
            Just("kid"),
            Just("other"),
        ]
        .prop_map(str::to_owned);
        let jwk = proptest::collection::btree_map(name, member(), 0..10)
            .prop_map(|fields| Value::Object(fields.into_iter().collect()));
        prop_oneof![
            proptest::collection::vec(prop_oneof![jwk, member()], 0..5)
                .prop_map(|keys| json!({ "keys": keys })),
            member().prop_map(|keys| json!({ "keys": keys })),
            member(),
        ]
    }

    fn clear(error: &IdTokenError) -> bool {
        matches!(
            error,
            IdTokenError::Malformed
                | IdTokenError::BadSignature
                | IdTokenError::UnsupportedAlgorithm(_)
        ) && !error.to_string().is_empty()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any text as a token: a clear error from the header and from verification.
        #[test]
        fn any_text_is_refused_clearly(token in "\\PC{0,200}") {
            let (_, set) = es256("k");
            let keys = signing_keys(&set);
            if let Err(error) = header(&token) {
                prop_assert!(clear(&error), "{error:?}");
            }
            let error = verify(&token, &keys[0]).unwrap_err();
            prop_assert!(clear(&error), "{error:?}");
        }

        /// Three base64url-looking parts: still only clear errors.
        #[test]
        fn jwt_shaped_garbage_is_refused_clearly(
            a in "[A-Za-z0-9_-]{0,60}", b in "[A-Za-z0-9_-]{0,60}", c in "[A-Za-z0-9_-]{0,90}",
        ) {
            let token = format!("{a}.{b}.{c}");
            let (_, set) = es256("k");
            let keys = signing_keys(&set);
            if let Err(error) = header(&token) {
                prop_assert!(clear(&error), "{error:?}");
            }
            prop_assert!(clear(&verify(&token, &keys[0]).unwrap_err()));
        }

        /// Any JSON as a JWK Set: the usable keys, never a panic; every key kept is one
        /// of the two algorithms, and `select` never picks one of another algorithm.
        #[test]
        fn any_jwks_gives_only_usable_keys(set in jwks(), kid in proptest::option::of("[a-z]{0,3}")) {
            let keys = signing_keys(&set);
            for alg in [Algorithm::RS256, Algorithm::ES256] {
                if let Some(key) = select(&keys, kid.as_deref(), alg) {
                    prop_assert_eq!(key.alg, alg);
                }
            }
        }

        /// A token signed with the JWKS's key verifies, and its claims come back as
        /// signed; a flipped character in the signature does not.
        #[test]
        fn signed_claims_round_trip(
            sub in "[A-Za-z0-9-]{1,24}",
            nonce in "[A-Za-z0-9_-]{1,43}",
            name in proptest::option::of("\\PC{0,30}"),
            iat in 1_000_000_000i64..3_000_000_000,
            lifetime in 1i64..86_400,
            kid in "[a-z0-9-]{1,12}",
            at in any::<prop::sample::Index>(),
        ) {
            let (signing, set) = es256(&kid);
            let claims = json!({
                "iss": "https://id.example.com", "sub": sub, "aud": "agent-console",
                "iat": iat, "exp": iat + lifetime, "nonce": nonce, "name": name,
            });
            let mut jwt_header = Header::new(Algorithm::ES256);
            jwt_header.kid = Some(kid.clone());
            let token = jsonwebtoken::encode(&jwt_header, &claims, &signing).unwrap();

            let (alg, found_kid) = header(&token).unwrap();
            prop_assert_eq!(alg, Algorithm::ES256);
            prop_assert_eq!(found_kid.as_deref(), Some(kid.as_str()));
            let keys = signing_keys(&set);
            let key = select(&keys, Some(&kid), alg).unwrap();
            let raw = verify(&token, key).unwrap();
            prop_assert_eq!(raw.sub.as_deref(), Some(sub.as_str()));
            prop_assert_eq!(raw.profile.name.clone(), name);
            let checked = check_claims(
                raw,
                "https://id.example.com",
                "agent-console",
                &Expected { sub: Some(&sub), nonce: Some(&nonce) },
                iat,
            )
            .unwrap();
            prop_assert_eq!(checked.expires_at, iat + lifetime);

            // Tampering with the signature is a bad signature, not a panic.
            let signature_start = token.rfind('.').unwrap() + 1;
            let position = signature_start + at.index(token.len() - signature_start);
            let mut bytes = token.into_bytes();
            bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            let error = verify(&tampered, key).unwrap_err();
            prop_assert!(clear(&error), "{error:?}");
        }
    }
}
