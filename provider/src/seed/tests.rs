use super::*;
use crate::ciba::ping::Reach;

#[test]
fn the_demo_seed_parses_and_holds_what_the_readme_promises() {
    let seed = Seed::parse(DEMO).unwrap();
    let app = &seed.applications[0];
    assert_eq!(
        (app.id.as_str(), app.name.as_str()),
        ("demo-bank", "Demo Bank")
    );
    let client = &app.clients[0];
    assert_eq!(client.id, "agent-console");
    assert!(client.ciba.enabled);
    assert_eq!(
        client.ciba.login_uri.as_deref(),
        Some("http://127.0.0.1:3000/approve")
    );
    let ids: Vec<_> = app.customers.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["alice", "bob", "carol", "dave"]);
    assert!(app.customers[3].disabled);
    assert!(!app.customers[2].phone_verified);
    assert_eq!(app.agents.len(), 2);
}

#[test]
fn a_ping_client_needs_a_safe_notification_endpoint() {
    let seed = |ciba: &str| {
        Seed::parse(&format!(
            "[[applications]]\nid = \"a\"\nname = \"A\"\n[[applications.clients]]\nid = \"c\"\nname = \"C\"\nsecret = \"s\"\n[applications.clients.ciba]\nenabled = true\n{ciba}\n"
        ))
        .unwrap()
    };
    assert_eq!(Seed::parse(DEMO).unwrap().check(&Reach::default()), Ok(()));
    assert_eq!(seed("").check(&Reach::default()), Ok(()));
    let ping = seed(
        "backchannel_token_delivery_mode = \"ping\"\nbackchannel_client_notification_endpoint = \"https://bff.example/ciba/notify\"",
    );
    assert_eq!(ping.check(&Reach::default()), Ok(()));
    assert_eq!(ping.applications[0].clients[0].ciba.delivery_mode(), "ping");
    for (ciba, expected) in [
        (
            "backchannel_token_delivery_mode = \"ping\"",
            "must be an https URL",
        ),
        (
            "backchannel_token_delivery_mode = \"ping\"\nbackchannel_client_notification_endpoint = \"http://10.0.0.2/notify\"",
            "must be an https URL",
        ),
        (
            "backchannel_token_delivery_mode = \"ping\"\nbackchannel_client_notification_endpoint = \"https://169.254.169.254/notify\"",
            "on a public address",
        ),
        (
            "backchannel_client_notification_endpoint = \"https://bff.example/ciba/notify\"",
            "needs backchannel_token_delivery_mode",
        ),
        (
            "backchannel_token_delivery_mode = \"push\"",
            "must be \"poll\" or \"ping\"",
        ),
    ] {
        let problem = seed(ciba).check(&Reach::default()).unwrap_err();
        assert!(problem.contains(expected), "{ciba}: {problem}");
        assert!(problem.starts_with("client c: "), "{problem}");
    }
}
