use std::time::Duration;

use tokio::time::Instant;

use super::json::{JSON_MAX_DEPTH, json_valid};
use super::*;
use crate::store::{
    SharedStore,
    sqlite::tests::{event, flow},
};

/// The store never lets tokio's paused clock move: no worker thread, no timer, no yield.
/// (With SQLite, the runtime idles while the worker thread answers and auto-advances the
/// clock, so the timeout below would fire.)
#[tokio::test(start_paused = true)]
async fn works_on_a_paused_clock() {
    let start = Instant::now();
    let store: SharedStore = Arc::new(MemoryStore::new());
    let f = flow("flow-1", "agent-a", 1_000);
    let first = tokio::time::timeout(
        Duration::from_millis(1),
        store.insert_flow_with_event(&f, &event(&f, "started", 1_000)),
    )
    .await
    .expect("the store answers without the clock moving")
    .unwrap();
    assert_eq!(first, 1);

    // Racing writers on spawned tasks: one wins, and time still has not moved.
    let mut handles = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let mut next = f.clone();
        next.status = "pending".into();
        next.poll_failures = i;
        let ev = event(&f, "pending", 2_000 + i);
        handles.push(tokio::spawn(async move {
            store.update_flow_with_event(&next, 0, &ev).await.unwrap()
        }));
    }
    let mut won = Vec::new();
    for handle in handles {
        won.extend(handle.await.unwrap());
    }
    assert_eq!(won, [2]);
    assert_eq!(Instant::now(), start);

    // The clock moves only when the test moves it.
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(Instant::now(), start + Duration::from_secs(30));
    let stored = store.flow("flow-1").await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.version), ("pending", 1));
    assert_eq!(
        store.events_for_flow("flow-1", 0, 10).await.unwrap().len(),
        2
    );
    assert_eq!(Instant::now(), start + Duration::from_secs(30));
}

#[tokio::test]
async fn clones_share_state_and_close() {
    let store = MemoryStore::new();
    let other = store.clone();
    store.insert_flow(&flow("f1", "agent-a", 1)).await.unwrap();
    assert!(other.flow("f1").await.unwrap().is_some());
    assert!(MemoryStore::default().flow("f1").await.unwrap().is_none());

    other.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Query(sqlx::Error::PoolClosed))
    ));
    assert!(store.flow("f1").await.is_err());
}

#[tokio::test]
async fn refusals_are_protocol_errors() {
    let store = MemoryStore::new();
    let mut bad = flow("f1", "agent-a", 1);
    bad.status = "maybe".into();
    let err = store.insert_flow(&bad).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Query(sqlx::Error::Protocol(m)) if m.contains("CHECK")),
        "{err}"
    );
}

#[tokio::test]
async fn debug_shows_counts_not_contents() {
    let store = MemoryStore::new();
    let mut f = flow("flow-1", "agent-a", 1);
    f.auth_req_id = Some("AUTHREQ-secret".into());
    f.tokens = Some(r#"{"access_token":"AT-secret"}"#.into());
    store.insert_flow(&f).await.unwrap();
    store
        .insert_session(&Session {
            id_hash: b"SESSIONHASH".to_vec(),
            agent_sub: "agent-a".into(),
            agent_name: "A".into(),
            agent_email: "a@bank.example".into(),
            role: "agent".into(),
            created_at: 0,
            last_seen_at: 0,
            expires_at: 1,
        })
        .await
        .unwrap();
    let shown = format!("{store:?}");
    assert!(
        shown.contains("MemoryStore") && shown.contains("flows: 1"),
        "{shown}"
    );
    for secret in ["AUTHREQ", "AT-secret", "83, 69, 83", "agent-a"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    let shared: SharedStore = Arc::new(store);
    shared.ping().await.unwrap();
    assert!(format!("{shared:?}").contains("MemoryStore"));
}

#[test]
fn json_valid_follows_sqlite() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    for ok in [
        "{}",
        " [ ] ",
        "0",
        "-0.5e+10",
        "1E400",
        r#""\ud800""#,
        r#"{"a":[true,false,null,"\"\\\/\b\f\n\r\t\u00e9"]}"#,
        "{}\0 not read",
        &deep(JSON_MAX_DEPTH),
    ] {
        assert!(json_valid(ok), "{ok:?}");
    }
    for bad in [
        "",
        " ",
        "\0{}",
        "{",
        "[1,]",
        "{a:1}",
        "01",
        "1.",
        ".5",
        "+1",
        "0x1F",
        "NaN",
        "'s'",
        "\"a\tb\"",
        r#""\x41""#,
        "\u{b}1",
        "1 // c",
        "truex",
        &deep(JSON_MAX_DEPTH + 1),
    ] {
        assert!(!json_valid(bad), "{bad:?}");
    }
}
