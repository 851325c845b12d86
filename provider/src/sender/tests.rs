use std::sync::Mutex;

use super::*;

/// Records the channels it was given.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<&'static str>>);

impl Sender for Recorder {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        self.0.lock().unwrap().push(message.channel);
        Box::pin(async { Ok(()) })
    }
}

pub(super) fn message(channel: &'static str, to: &str) -> Outgoing {
    Outgoing {
        channel,
        to: to.to_owned(),
        subject: Some("Demo Bank: confirm it's you".to_owned()),
        body: "Demo Bank: click https://bank.example/approve?auth_req_id=x".to_owned(),
        link: Some("https://bank.example/approve?auth_req_id=x".to_owned()),
    }
}

/// Never finishes: an SMTP server or webhook that accepts and never answers.
#[derive(Debug)]
struct Hanging;

impl Sender for Hanging {
    fn send<'a>(&'a self, _: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn case_23_a_hanging_sender_fails_at_the_deadline() {
    let started = tokio::time::Instant::now();
    let error = send_within(&Hanging, &message("sms", "+15555550101"), SEND_DEADLINE)
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), SEND_DEADLINE);
    assert!(error.to_string().contains("within 8 s"), "{error}");
    // A sender that answers in time is not cut short.
    let recorder = Recorder::default();
    send_within(&recorder, &message("email", "a@example.com"), SEND_DEADLINE)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_router_sends_each_channel_to_its_sender() {
    let email = Arc::new(Recorder::default());
    let sms = Arc::new(Recorder::default());
    let router = Router::new(email.clone(), sms.clone());
    router
        .send(&message("email", "a@example.com"))
        .await
        .unwrap();
    router.send(&message("sms", "+15555550101")).await.unwrap();
    router.send(&message("sms", "+15555550102")).await.unwrap();
    let error = router.send(&message("fax", "+1")).await.unwrap_err();
    assert!(error.to_string().contains("fax"), "{error}");
    assert_eq!(*email.0.lock().unwrap(), ["email"]);
    assert_eq!(*sms.0.lock().unwrap(), ["sms", "sms"]);
}

#[test]
fn a_sender_of_one_channel_names_the_setting_for_the_other() {
    let sms = message("sms", "+15555550101");
    let email = message("email", "alice@example.com");
    assert!(SendError::check_channel(&email, "SMTP sender", "email", "X").is_ok());
    let error = SendError::check_channel(&sms, "SMTP sender", "email", "COUNTERSIGN_SMS_SENDER")
        .unwrap_err();
    assert_eq!(
        error.0,
        "the SMTP sender delivers email only, not sms: configure an SMS sender \
         (COUNTERSIGN_SMS_SENDER)"
    );
    let error = SendError::check_channel(&email, "SMS webhook", "sms", "COUNTERSIGN_EMAIL_SENDER")
        .unwrap_err();
    assert_eq!(
        error.0,
        "the SMS webhook delivers sms only, not email: configure an email sender \
         (COUNTERSIGN_EMAIL_SENDER)"
    );
}
