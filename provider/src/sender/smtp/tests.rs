use std::time::Duration;

use super::*;
use crate::sender::tests::message;

fn config() -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        // Nothing listens on port 9 (discard) here; these tests never connect anyway.
        port: 9,
        tls: SmtpTls::None,
        login: None,
        from: "Demo Bank <no-reply@bank.example>".parse().unwrap(),
        timeout: Duration::from_secs(1),
    }
}

#[tokio::test]
async fn sms_is_refused_before_connecting() {
    let smtp = Smtp::new(&config()).unwrap();
    let error = smtp
        .send(&message("sms", "+15555550101"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("email only"), "{error}");
    assert!(!error.to_string().contains("+1555"), "{error}");
}

#[test]
fn the_email_has_from_to_subject_and_a_plain_utf8_body() {
    let smtp = Smtp::new(&config()).unwrap();
    let email = smtp.email(&message("email", "alice@example.com")).unwrap();
    let text = String::from_utf8(email.formatted()).unwrap();
    assert!(
        text.contains("From: \"Demo Bank\" <no-reply@bank.example>\r\n"),
        "{text}"
    );
    assert!(text.contains("To: alice@example.com\r\n"), "{text}");
    assert!(
        text.contains("Subject: Demo Bank: confirm it's you\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{text}"
    );
    assert!(text.contains("@bank.example>\r\n"), "a Message-ID: {text}");
    let bad = smtp.email(&message("email", "not an address")).unwrap_err();
    assert!(!bad.to_string().contains("not an address"), "{bad}");
}

#[test]
fn tls_modes_build_and_debug_hides_the_login() {
    for tls in [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls] {
        let mut config = config();
        config.tls = tls;
        config.host = "smtp.bank.example".to_owned();
        config.login = (tls != SmtpTls::None).then(|| crate::config::SmtpLogin {
            username: "mailer".to_owned(),
            password: infra::secret::Secret::new("hunter2"),
        });
        let smtp = Smtp::new(&config).unwrap();
        let shown = format!("{smtp:?}");
        assert!(shown.contains("smtp.bank.example"), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("mailer"),
            "{shown}"
        );
    }
}
