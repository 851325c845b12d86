use serde_json::json;

use super::*;

fn metadata(value: serde_json::Value) -> ProviderMetadata {
    serde_json::from_value(value).unwrap()
}

fn full() -> serde_json::Value {
    json!({
        "issuer": "https://id.example.com",
        "authorization_endpoint": "https://id.example.com/authorize",
        "token_endpoint": "https://id.example.com/token",
        "jwks_uri": "https://id.example.com/jwks",
        "userinfo_endpoint": "https://id.example.com/userinfo",
        "revocation_endpoint": "https://id.example.com/revoke",
        "backchannel_authentication_endpoint": "https://id.example.com/bc",
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "something_else": {"ignored": true},
    })
}

#[test]
fn profiles_have_names() {
    for profile in [Profile::Embedded, Profile::Mosaic, Profile::Standard] {
        assert_eq!(Profile::parse(profile.as_str()), Some(profile));
    }
    assert_eq!(Profile::parse("keycloak"), None);
}

#[test]
fn discovery_urls_per_profile() {
    assert_eq!(
        discovery_url(Profile::Embedded, "http://127.0.0.1:3001/", "x"),
        "http://127.0.0.1:3001/.well-known/openid-configuration"
    );
    assert_eq!(
        discovery_url(
            Profile::Mosaic,
            "https://api.transmitsecurity.io",
            "https://userid.security"
        ),
        "https://api.transmitsecurity.io/cis/oidc/.well-known/openid-configuration"
    );
    assert_eq!(
        discovery_url(
            Profile::Standard,
            "ignored",
            "https://id.example.com/tenant/"
        ),
        "https://id.example.com/tenant/.well-known/openid-configuration"
    );
}

#[test]
fn standard_takes_everything_from_discovery() {
    let endpoints = Endpoints::from_metadata(
        Profile::Standard,
        "",
        "https://id.example.com",
        &metadata(full()),
    )
    .unwrap();
    assert_eq!(endpoints.backchannel, "https://id.example.com/bc");
    assert_eq!(endpoints.token, "https://id.example.com/token");
    assert_eq!(endpoints.jwks, "https://id.example.com/jwks");
    assert_eq!(endpoints.complete, None);
    assert_eq!(endpoints.otp_send, None);
    assert_eq!(endpoints.client_auth, ClientAuthMethod::Post);
}

#[test]
fn mosaic_paths_hang_off_the_base_url() {
    let mut doc = full();
    doc["issuer"] = json!("https://userid.security");
    let endpoints = Endpoints::from_metadata(
        Profile::Mosaic,
        "https://api.transmitsecurity.io/",
        "https://userid.security",
        &metadata(doc),
    )
    .unwrap();
    assert_eq!(
        endpoints.backchannel,
        "https://api.transmitsecurity.io/cis/oidc/backchannel"
    );
    assert_eq!(
        endpoints.token,
        "https://api.transmitsecurity.io/oidc/token"
    );
    assert_eq!(
        endpoints.complete.as_deref(),
        Some("https://api.transmitsecurity.io/cis/auth/backchannel/complete")
    );
    assert_eq!(
        endpoints.otp_send.as_deref(),
        Some("https://api.transmitsecurity.io/cis/v1/auth/otp/send")
    );
    assert_eq!(
        endpoints.otp_authenticate.as_deref(),
        Some("https://api.transmitsecurity.io/cis/v1/auth/otp/authenticate")
    );
    assert_eq!(endpoints.jwks, "https://id.example.com/jwks");
    assert_eq!(endpoints.client_auth, ClientAuthMethod::Post);
}

#[test]
fn the_issuer_must_match_exactly() {
    for configured in [
        "https://id.example.com/",
        "https://ID.example.com",
        "https://other",
    ] {
        let error = Endpoints::from_metadata(Profile::Standard, "", configured, &metadata(full()))
            .unwrap_err();
        assert_eq!(
            error,
            OidcError::IssuerMismatch {
                expected: configured.to_owned(),
                found: "https://id.example.com".to_owned()
            }
        );
    }
}

#[test]
fn standard_needs_ciba_in_poll_mode() {
    let mut doc = full();
    doc.as_object_mut()
        .unwrap()
        .remove("backchannel_authentication_endpoint");
    let error = Endpoints::from_metadata(
        Profile::Standard,
        "",
        "https://id.example.com",
        &metadata(doc),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("backchannel_authentication_endpoint"),
        "{error}"
    );

    let mut doc = full();
    doc["backchannel_token_delivery_modes_supported"] = json!(["ping", "push"]);
    let error = Endpoints::from_metadata(
        Profile::Standard,
        "",
        "https://id.example.com",
        &metadata(doc),
    )
    .unwrap_err();
    assert!(error.to_string().contains("poll"), "{error}");

    let mut doc = full();
    doc.as_object_mut()
        .unwrap()
        .remove("backchannel_token_delivery_modes_supported");
    assert!(
        Endpoints::from_metadata(
            Profile::Standard,
            "",
            "https://id.example.com",
            &metadata(doc)
        )
        .is_err()
    );
}

#[test]
fn endpoints_must_be_usable_urls() {
    for (field, value) in [
        ("jwks_uri", json!(null)),
        ("jwks_uri", json!("/jwks")),
        ("token_endpoint", json!("http://id.example.com/token")),
        ("authorization_endpoint", json!("javascript:alert(1)")),
        ("userinfo_endpoint", json!("ftp://id.example.com/userinfo")),
    ] {
        let mut doc = full();
        doc[field] = value;
        let doc = serde_json::from_value::<ProviderMetadata>(doc);
        if let Ok(doc) = doc {
            assert!(
                Endpoints::from_metadata(Profile::Standard, "", "https://id.example.com", &doc)
                    .is_err(),
                "{field}"
            );
        }
    }
    // An http issuer (local development) may have http endpoints.
    let mut doc = full();
    for (key, value) in doc.as_object_mut().unwrap() {
        if let Some(text) = value.as_str() {
            *value = json!(text.replace("https://", "http://"));
        }
        let _ = key;
    }
    assert!(
        Endpoints::from_metadata(
            Profile::Standard,
            "",
            "http://id.example.com",
            &metadata(doc)
        )
        .is_ok()
    );
}

#[test]
fn id_tokens_must_be_rs256_or_es256() {
    let mut doc = full();
    doc["id_token_signing_alg_values_supported"] = json!(["HS256", "none"]);
    assert!(
        Endpoints::from_metadata(
            Profile::Standard,
            "",
            "https://id.example.com",
            &metadata(doc)
        )
        .is_err()
    );
}

#[test]
fn client_authentication_follows_the_metadata() {
    assert_eq!(auth_method(None).unwrap(), ClientAuthMethod::Basic);
    let both = vec![
        "client_secret_post".to_owned(),
        "client_secret_basic".to_owned(),
    ];
    assert_eq!(auth_method(Some(&both)).unwrap(), ClientAuthMethod::Basic);
    let post = vec!["client_secret_post".to_owned()];
    assert_eq!(auth_method(Some(&post)).unwrap(), ClientAuthMethod::Post);
    let jwt = vec!["private_key_jwt".to_owned()];
    assert!(auth_method(Some(&jwt)).is_err());
}
