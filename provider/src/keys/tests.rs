use jsonwebtoken::{DecodingKey, Validation, decode};

use super::*;

#[test]
fn both_keys_sign_tokens_their_jwks_verify() {
    let now = Timestamp(1_700_000_000_000);
    let keys = [generate_es256(now).unwrap(), generate_rs256(now).unwrap()];
    let signer = Signer::new(&keys).unwrap();
    let claims = json!({"iss": "https://op", "aud": "c", "sub": "alice", "exp": 4_000_000_000_i64});
    for (alg, jwk) in [
        (Algorithm::ES256, &keys[0].public_jwk),
        (Algorithm::RS256, &keys[1].public_jwk),
    ] {
        let token = signer.sign(alg, &claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), jwk["kid"].as_str());
        let key = match alg {
            Algorithm::ES256 => DecodingKey::from_ec_components(
                jwk["x"].as_str().unwrap(),
                jwk["y"].as_str().unwrap(),
            )
            .unwrap(),
            _ => DecodingKey::from_rsa_components(
                jwk["n"].as_str().unwrap(),
                jwk["e"].as_str().unwrap(),
            )
            .unwrap(),
        };
        let mut validation = Validation::new(alg);
        validation.set_audience(&["c"]);
        let data = decode::<Value>(&token, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], "alice");
    }
    assert_eq!(signer.jwks()["keys"].as_array().unwrap().len(), 2);
    // No private part in the published keys.
    let published = signer.jwks().to_string();
    assert!(!published.contains("\"d\""), "{published}");
}
