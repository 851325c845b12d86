use super::*;

fn claims(sub: &str, email: Option<&str>, phone: Option<&str>) -> IdClaims {
    IdClaims {
        sub: sub.into(),
        name: None,
        email: email.map(Into::into),
        email_verified: Some(true),
        phone_number: phone.map(Into::into),
        phone_number_verified: Some(true),
        amr: vec![],
        auth_time: None,
        acr: None,
        role: None,
        expires_at: 0,
    }
}

#[test]
fn the_token_must_name_the_customer_asked_for() {
    let alice = claims("alice", Some("Alice@Example.com"), Some("+15555550101"));
    assert!(names_the_customer(&alice, HintType::UserId, "alice"));
    assert!(!names_the_customer(&alice, HintType::UserId, "bob"));
    assert!(names_the_customer(
        &alice,
        HintType::Email,
        "alice@example.com"
    ));
    assert!(!names_the_customer(
        &alice,
        HintType::Email,
        "bob@example.com"
    ));
    let hint = HintType::Phone.normalise(" +1 (555) 555-0101 ");
    assert_eq!(hint, "+15555550101");
    assert!(names_the_customer(&alice, HintType::Phone, &hint));
    assert!(!names_the_customer(&alice, HintType::Phone, "+15555550102"));
    assert_eq!(HintType::Phone.normalise("15555550101"), "+15555550101");
    // An unverified address or number names nobody.
    let mut unverified = alice.clone();
    unverified.email_verified = Some(false);
    unverified.phone_number_verified = None;
    assert!(!names_the_customer(
        &unverified,
        HintType::Email,
        "alice@example.com"
    ));
    assert!(!names_the_customer(
        &unverified,
        HintType::Phone,
        "+15555550101"
    ));
    // No claim to compare with is no match.
    let bare = claims("alice", None, None);
    assert!(!names_the_customer(
        &bare,
        HintType::Email,
        "alice@example.com"
    ));
    assert!(!names_the_customer(&bare, HintType::Phone, "+15555550101"));
}

#[test]
fn errors_read_as_sentences() {
    assert_eq!(sentence("the provider is down"), "The provider is down.");
    assert_eq!(sentence("Already fine."), "Already fine.");
    assert_eq!(sentence(""), ".");
}
