use super::*;

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
