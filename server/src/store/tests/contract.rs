//! The contract every BFF store keeps, run against each implementation: SQLite in a temporary
//! folder (`on_sqlite::…`) and PostgreSQL (`on_postgres::…`, in a fresh schema of the database
//! that `COUNTERSIGN_TEST_DATABASE_URL` names; `make test` starts one).

use app::{
    approve::{ApprovalNotice, ApprovalOutcome},
    flow::{Channel, EventKind, FlowStatus, HintType, TimelineEntry, VerifiedCustomer},
};

use crate::store::{
    CustomerSession, Flow, FlowCursor, FlowStore as _, Json, NewEvent, PendingLogin, PgStore, Role,
    Session, SharedStore, SqliteStore, Stage, Store as _,
};
use sqlx::Connection as _;

async fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("bff.sqlite"))
        .await
        .unwrap()
}

/// A fresh PostgreSQL store: a new schema in the database `COUNTERSIGN_TEST_DATABASE_URL`
/// names, migrated. Without that variable the test fails and says how to run it.
async fn postgres() -> PgStore {
    let url = std::env::var("COUNTERSIGN_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "COUNTERSIGN_TEST_DATABASE_URL is not set: run the tests through \
             `scripts/with-postgres.sh cargo test` (make test does)"
        )
    });
    let options = infra::postgres::options(&url).unwrap();
    let schema = format!("contract_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect_with(&options).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    PgStore::open(options.options([("search_path", schema.as_str())]))
        .await
        .unwrap()
}

/// Runs each test body (an `async fn(SharedStore)` below) against a fresh store of each kind.
macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$name(std::sync::Arc::new(super::open(&dir).await)).await;
                }
            )+
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(std::sync::Arc::new(super::postgres().await)).await;
                }
            )+
        }
    };
}

contract!(
    ping_and_close,
    sessions_round_trip_touch_and_expire,
    take_login_is_single_use,
    delete_logins_before_sweeps_old_ones,
    flows_round_trip_and_lookup_by_request_hash,
    unsealed_flows_have_a_handle_and_no_hash,
    update_flow_is_compare_and_set,
    update_flow_checks_values_only_when_it_wins,
    concurrent_updates_have_one_winner,
    a_reader_never_skips_an_event_committed_late,
    claims_take_only_ended_leases_and_never_twice,
    concurrent_claims_share_out_the_flows,
    update_flow_with_event_is_atomic,
    events_need_their_flow,
    event_ids_start_at_one_and_refusals_spend_none,
    events_after_filters_by_agent_in_order,
    flows_for_pages_newest_first_per_agent,
    paging_edges,
    pending_flows_are_oldest_first,
    rate_counters_count_per_window,
    rate_counters_edges,
    debug_never_shows_secrets,
    customer_sessions_round_trip_and_move_by_stage,
    customer_sessions_rotate_atomically,
    customer_sessions_expire,
    customer_sessions_name_the_newest_code,
    a_passkey_ceremony_is_spent_once,
    tokens_must_be_json,
    customer_sessions_need_their_flow,
);

fn session(id: &[u8], agent: &str, now: i64) -> Session {
    Session {
        id_hash: id.to_vec(),
        agent_sub: agent.into(),
        agent_name: format!("{agent} name"),
        agent_email: format!("{agent}@bank.example"),
        role: Role::Agent,
        created_at: now,
        last_seen_at: now,
        expires_at: now + 8 * 3_600_000,
    }
}

/// A starting flow for tests of either store.
/// Gives `flow` the provider's handle `id` (the store keeps what it is given: sealing is the
/// caller's), found by a "hash" that is the handle's bytes.
fn handle(flow: &mut Flow, id: &str) {
    flow.auth_req_id = Some(id.into());
    flow.auth_req_id_hash = Some(id.as_bytes().to_vec());
}

pub(crate) fn flow(id: &str, agent: &str, created_at: i64) -> Flow {
    Flow {
        id: id.into(),
        agent_sub: agent.into(),
        agent_name: format!("{agent} name"),
        hint: "alice@example.com".into(),
        hint_type: HintType::Email,
        channel: Channel::Email,
        binding_message: "K7-42".into(),
        custom_message: None,
        ticket: Some("INC-1".into()),
        auth_req_id: None,
        link: None,
        auth_req_id_hash: None,
        status: FlowStatus::Starting,
        created_at,
        expires_at: created_at + 600_000,
        interval_secs: 5,
        next_poll_at: created_at + 5_000,
        poll_failures: 0,
        decided_at: None,
        ended_at: None,
        outcome_detail: None,
        customer: None,
        tokens: None,
        version: 0,
        lease_owner: None,
        lease_until: 0,
        lease_epoch: 0,
        notification_token_hash: None,
    }
}

/// An event of `flow` for tests of either store.
fn event(flow: &Flow, kind: EventKind, at: i64) -> NewEvent {
    NewEvent {
        flow_id: flow.id.clone(),
        agent_sub: flow.agent_sub.clone(),
        kind,
        data: Json(TimelineEntry {
            kind,
            at,
            detail: Some(format!("about {}", flow.id)),
        }),
        at,
    }
}

/// A verified customer, as a flow keeps them.
fn customer(name: &str) -> Json<VerifiedCustomer> {
    Json(VerifiedCustomer {
        user_id: "c-1".into(),
        name: name.into(),
        email: Some("a•••e@example.com".into()),
        phone: None,
        amr: vec!["otp".into()],
        auth_time: 1_800_000_000,
    })
}

async fn ping_and_close(store: SharedStore) {
    store.ping().await.unwrap();
    store.close().await;
    assert!(store.ping().await.is_err());
}

async fn sessions_round_trip_touch_and_expire(store: SharedStore) {
    let now = 1_000_000;
    let a = session(b"hash-a", "agent-a", now);
    let mut b = session(b"hash-b", "agent-b", now);
    b.role = Role::Supervisor;
    b.expires_at = now + 1_000;
    store.insert_session(&a).await.unwrap();
    store.insert_session(&b).await.unwrap();
    assert!(store.insert_session(&a).await.is_err(), "duplicate id");

    assert_eq!(store.session(b"hash-a").await.unwrap(), Some(a.clone()));
    assert!(
        store
            .session(b"hash-b")
            .await
            .unwrap()
            .unwrap()
            .is_supervisor()
    );
    assert_eq!(store.session(b"nope").await.unwrap(), None);

    assert!(store.touch_session(b"hash-a", now + 500).await.unwrap());
    assert!(store.touch_session(b"hash-a", now + 100).await.unwrap());
    let touched = store.session(b"hash-a").await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, now + 500, "never moves back");
    assert!(!store.touch_session(b"nope", now).await.unwrap());

    // b: absolute expiry at now + 1000. a: idle limit 30 min from its last touch.
    let idle = 30 * 60_000;
    assert_eq!(
        store
            .delete_expired_sessions(idle, now + 999)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_sessions(idle, now + 1_000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.session(b"hash-b").await.unwrap(), None);
    assert!(touched.is_live(idle, now + 500 + idle - 1));
    assert_eq!(
        store
            .delete_expired_sessions(idle, now + 500 + idle - 1)
            .await
            .unwrap(),
        0
    );
    assert!(!touched.is_live(idle, now + 500 + idle));
    assert_eq!(
        store
            .delete_expired_sessions(idle, now + 500 + idle)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.session(b"hash-a").await.unwrap(), None);

    store.insert_session(&a).await.unwrap();
    assert!(store.delete_session(b"hash-a").await.unwrap());
    assert!(!store.delete_session(b"hash-a").await.unwrap());
    assert_eq!(store.session(b"hash-a").await.unwrap(), None);
}

async fn take_login_is_single_use(store: SharedStore) {
    let login = PendingLogin {
        state_hash: b"state-hash".to_vec(),
        nonce: "nonce-value".into(),
        code_verifier: "verifier-value-secret".into(),
        return_to: "/console".into(),
        created_at: 1_000,
    };
    store.insert_login(&login).await.unwrap();
    assert!(store.insert_login(&login).await.is_err(), "duplicate state");

    let (first, second) = tokio::join!(
        store.take_login(b"state-hash"),
        store.take_login(b"state-hash")
    );
    let taken: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(taken, vec![login.clone()], "exactly one taker");
    assert_eq!(store.take_login(b"state-hash").await.unwrap(), None);
    assert_eq!(store.take_login(b"unknown").await.unwrap(), None);
}

async fn delete_logins_before_sweeps_old_ones(store: SharedStore) {
    for (hash, at) in [(&b"old"[..], 100), (&b"edge"[..], 200), (&b"new"[..], 300)] {
        store
            .insert_login(&PendingLogin {
                state_hash: hash.to_vec(),
                nonce: "n".into(),
                code_verifier: "v".into(),
                return_to: "/".into(),
                created_at: at,
            })
            .await
            .unwrap();
    }
    assert_eq!(store.delete_logins_before(200).await.unwrap(), 1);
    assert_eq!(store.take_login(b"old").await.unwrap(), None);
    assert!(store.take_login(b"edge").await.unwrap().is_some());
    assert!(store.take_login(b"new").await.unwrap().is_some());
}

async fn flows_round_trip_and_lookup_by_request_hash(store: SharedStore) {
    let mut f = flow("flow-1", "agent-a", 1_000);
    f.custom_message = Some("Hello from the bank".into());
    store.insert_flow(&f).await.unwrap();
    assert!(store.insert_flow(&f).await.is_err(), "duplicate id");
    assert_eq!(store.flow("flow-1").await.unwrap(), Some(f.clone()));
    assert_eq!(store.flow("flow-2").await.unwrap(), None);
    assert_eq!(store.flow_by_request_hash(b"req-1").await.unwrap(), None);

    let mut next = f.clone();
    next.status = FlowStatus::Pending;
    handle(&mut next, "req-1");
    assert!(store.update_flow(&next, 0).await.unwrap());
    let stored = store.flow_by_request_hash(b"req-1").await.unwrap().unwrap();
    assert_eq!(stored.id, "flow-1");
    assert_eq!(stored.status, FlowStatus::Pending);
    assert_eq!(stored.version, 1);

    // auth_req_id is unique.
    let mut other = flow("flow-2", "agent-a", 2_000);
    handle(&mut other, "req-1");
    assert!(store.insert_flow(&other).await.is_err());
}

async fn unsealed_flows_have_a_handle_and_no_hash(store: SharedStore) {
    let starting = flow("f1", "agent-a", 1);
    let mut kept = flow("f2", "agent-a", 2);
    kept.auth_req_id = Some("plain-handle".into());
    let mut sealed = flow("f3", "agent-a", 3);
    handle(&mut sealed, "v1.sealed");
    let mut older = flow("f0", "agent-b", 0);
    older.auth_req_id = Some("older-handle".into());
    for f in [&starting, &kept, &sealed, &older] {
        store.insert_flow(f).await.unwrap();
    }
    let ids: Vec<String> = store
        .unsealed_flows()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, ["f0", "f2"]);
}

async fn update_flow_is_compare_and_set(store: SharedStore) {
    let f = flow("flow-1", "agent-a", 1_000);
    store.insert_flow(&f).await.unwrap();

    let mut next = f.clone();
    next.status = FlowStatus::Pending;
    handle(&mut next, "req-1");
    next.link = Some("https://p.example/l?auth_req_id=req-1".into());
    next.next_poll_at = 6_000;
    next.poll_failures = 2;
    assert!(store.update_flow(&next, 0).await.unwrap());

    // A writer that read version 0 lost.
    let mut stale = f.clone();
    stale.status = FlowStatus::Cancelled;
    assert!(!store.update_flow(&stale, 0).await.unwrap());
    let stored = store.flow("flow-1").await.unwrap().unwrap();
    assert_eq!(stored.status, FlowStatus::Pending);
    assert_eq!(stored.version, 1);

    // Every mutable column is written; the immutable ones are not.
    let mut done = stored.clone();
    done.status = FlowStatus::Approved;
    done.decided_at = Some(9_000);
    done.ended_at = Some(9_001);
    done.outcome_detail = Some("The customer approved.".into());
    done.customer = Some(customer("Alice"));
    done.tokens = Some(r#"{"access_token":"at-secret"}"#.into());
    done.expires_at = 700_000;
    done.interval_secs = 10;
    done.hint = "changed@example.com".into();
    done.version = 99; // ignored
    assert!(store.update_flow(&done, 1).await.unwrap());
    let stored = store.flow("flow-1").await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.hint, "alice@example.com");
    let mut expected = done.clone();
    expected.hint = f.hint.clone();
    expected.version = 2;
    assert_eq!(stored, expected);

    // Unknown flow: nothing to win.
    assert!(
        !store
            .update_flow(&flow("nope", "agent-a", 0), 0)
            .await
            .unwrap()
    );
}

async fn concurrent_updates_have_one_winner(store: SharedStore) {
    let f = flow("flow-1", "agent-a", 1_000);
    store.insert_flow(&f).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let mut next = f.clone();
        next.poll_failures = i;
        let ev = event(&f, EventKind::SignedIn, i);
        handles.push(tokio::spawn(async move {
            store.update_flow_with_event(&next, 0, &ev).await.unwrap()
        }));
    }
    let mut won = 0;
    for handle in handles {
        won += usize::from(handle.await.unwrap().is_some());
    }
    assert_eq!(won, 1);
    assert_eq!(store.events_after(0, None, 100).await.unwrap().len(), 1);
    assert_eq!(store.flow("flow-1").await.unwrap().unwrap().version, 1);
}

async fn update_flow_with_event_is_atomic(store: SharedStore) {
    let f = flow("flow-1", "agent-a", 1_000);
    let first = store
        .insert_flow_with_event(&f, &event(&f, EventKind::Sent, 1_000))
        .await
        .unwrap();
    assert_eq!(store.last_event_id().await.unwrap(), first);

    let mut next = f.clone();
    next.status = FlowStatus::Pending;
    let id = store
        .update_flow_with_event(&next, 0, &event(&f, EventKind::LinkOpened, 2_000))
        .await
        .unwrap()
        .unwrap();
    assert!(id > first);

    // Lost compare-and-set: no event, no change.
    let mut stale = f.clone();
    stale.status = FlowStatus::Cancelled;
    assert_eq!(
        store
            .update_flow_with_event(&stale, 0, &event(&f, EventKind::Cancelled, 3_000))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.last_event_id().await.unwrap(), id);
    let kinds: Vec<_> = store
        .events_for_flow("flow-1", 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventKind::Sent, EventKind::LinkOpened]);
    assert_eq!(
        store.flow("flow-1").await.unwrap().unwrap().status,
        FlowStatus::Pending
    );

    // A failing event insert (its flow is not stored) rolls the flow update back.
    let bad = event(&flow("ghost", "agent-a", 0), EventKind::Approved, 4_000);
    let mut approved = next.clone();
    approved.status = FlowStatus::Approved;
    assert!(
        store
            .update_flow_with_event(&approved, 1, &bad)
            .await
            .is_err()
    );
    let stored = store.flow("flow-1").await.unwrap().unwrap();
    assert_eq!((stored.status, stored.version), (FlowStatus::Pending, 1));

    // Likewise insert_flow_with_event: no flow without its event.
    let g = flow("flow-2", "agent-a", 5_000);
    let bad = event(&flow("ghost", "agent-a", 0), EventKind::Sent, 5_000);
    assert!(store.insert_flow_with_event(&g, &bad).await.is_err());
    assert_eq!(store.flow("flow-2").await.unwrap(), None);
}

async fn events_need_their_flow(store: SharedStore) {
    let ghost = flow("ghost", "agent-a", 0);
    assert!(
        store
            .append_event(&event(&ghost, EventKind::Failed, 0))
            .await
            .is_err()
    );
    assert_eq!(store.last_event_id().await.unwrap(), 0);
}

async fn events_after_filters_by_agent_in_order(store: SharedStore) {
    let fa = flow("fa", "agent-a", 1);
    let fb = flow("fb", "agent-b", 2);
    store.insert_flow(&fa).await.unwrap();
    store.insert_flow(&fb).await.unwrap();
    let mut ids = Vec::new();
    let kinds = [
        EventKind::Sent,
        EventKind::LinkOpened,
        EventKind::SignedIn,
        EventKind::Approved,
        EventKind::Verified,
    ];
    for (i, f) in [&fa, &fb, &fa, &fb, &fa].into_iter().enumerate() {
        let id = store
            .append_event(&event(f, kinds[i], i64::try_from(i).unwrap()))
            .await
            .unwrap();
        ids.push(id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");
    assert_eq!(store.last_event_id().await.unwrap(), ids[4]);

    let all = store.events_after(0, None, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    assert_eq!(all[1].agent_sub, "agent-b");
    assert_eq!(all[1].flow_id, "fb");
    assert_eq!(all[1].kind, EventKind::LinkOpened);
    assert_eq!(all[1].at, 1);
    assert_eq!(all[1].data, event(&fb, EventKind::LinkOpened, 1).data);

    let a: Vec<_> = store
        .events_after(0, Some("agent-a"), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(a, [ids[0], ids[2], ids[4]]);
    let a_after: Vec<_> = store
        .events_after(ids[0], Some("agent-a"), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(a_after, [ids[2], ids[4]]);
    let limited = store.events_after(ids[0], None, 2).await.unwrap();
    assert_eq!(
        limited.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[1], ids[2]]
    );
    assert!(
        store
            .events_after(ids[4], None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .events_after(0, Some("agent-c"), 100)
            .await
            .unwrap()
            .is_empty()
    );

    let b_flow: Vec<_> = store
        .events_for_flow("fb", ids[1], 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(b_flow, [ids[3]]);
}

async fn flows_for_pages_newest_first_per_agent(store: SharedStore) {
    // Two flows share a millisecond: paging must not lose either.
    let flows = [
        flow("f1", "agent-a", 100),
        flow("f2", "agent-b", 200),
        flow("f3", "agent-a", 300),
        flow("f4", "agent-a", 300),
        flow("f5", "agent-b", 400),
        flow("f6", "agent-a", 500),
    ];
    for f in &flows {
        store.insert_flow(f).await.unwrap();
    }
    let ids = |v: Vec<Flow>| v.into_iter().map(|f| f.id).collect::<Vec<_>>();

    let all = ids(store.flows_for(None, None, 100).await.unwrap());
    assert_eq!(all, ["f6", "f5", "f4", "f3", "f2", "f1"]);

    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .flows_for(Some("agent-a"), cursor.as_ref(), 2)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(Flow::cursor);
        pages.push(ids(page));
    }
    assert_eq!(pages, [vec!["f6", "f4"], vec!["f3", "f1"]]);

    let b = ids(store.flows_for(Some("agent-b"), None, 100).await.unwrap());
    assert_eq!(b, ["f5", "f2"]);
    let everyone_after_f4 = ids(store
        .flows_for(None, Some(&flows[3].cursor()), 2)
        .await
        .unwrap());
    assert_eq!(everyone_after_f4, ["f3", "f2"]);
    assert!(
        store
            .flows_for(Some("agent-c"), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.flows_for(None, None, 0).await.unwrap().is_empty());
    assert!(store.flows_for(None, None, -1).await.unwrap().is_empty());

    assert_eq!(store.count_flows_since("agent-a", 300).await.unwrap(), 3);
    assert_eq!(store.count_flows_since("agent-a", 301).await.unwrap(), 1);
    assert_eq!(store.count_flows_since("agent-b", 0).await.unwrap(), 2);
    assert_eq!(store.count_flows_since("agent-c", 0).await.unwrap(), 0);
}

async fn update_flow_checks_values_only_when_it_wins(store: SharedStore) {
    let f = flow("f1", "agent-a", 1);
    let mut g = flow("f2", "agent-a", 2);
    handle(&mut g, "req-2");
    // Any number of flows without an auth_req_id.
    for x in [&f, &g, &flow("f3", "agent-a", 3)] {
        store.insert_flow(x).await.unwrap();
    }

    // A writer that lost the compare-and-set is not checked: it changes nothing anyway.
    let mut bad = f.clone();
    bad.tokens = Some("{".into());
    assert!(!store.update_flow(&bad, 7).await.unwrap());
    // A winning one is, and a refusal changes nothing.
    assert!(store.update_flow(&bad, 0).await.is_err());
    let mut bad = f.clone();
    handle(&mut bad, "req-2");
    assert!(
        store.update_flow(&bad, 0).await.is_err(),
        "auth_req_id is unique"
    );
    assert_eq!(store.flow("f1").await.unwrap(), Some(f.clone()));
    assert_eq!(
        store
            .flow_by_request_hash(b"req-2")
            .await
            .unwrap()
            .unwrap()
            .id,
        "f2"
    );

    // A flow keeps its own auth_req_id; once it lets go, another may take it.
    let mut g1 = g.clone();
    g1.status = FlowStatus::Pending;
    assert!(store.update_flow(&g1, 0).await.unwrap());
    let mut g2 = g1.clone();
    g2.auth_req_id = None;
    g2.auth_req_id_hash = None;
    assert!(store.update_flow(&g2, 1).await.unwrap());
    assert_eq!(store.flow_by_request_hash(b"req-2").await.unwrap(), None);
    let mut f1 = f.clone();
    handle(&mut f1, "req-2");
    assert!(store.update_flow(&f1, 0).await.unwrap());
    assert_eq!(
        store
            .flow_by_request_hash(b"req-2")
            .await
            .unwrap()
            .unwrap()
            .id,
        "f1"
    );
}

async fn event_ids_start_at_one_and_refusals_spend_none(store: SharedStore) {
    assert_eq!(store.last_event_id().await.unwrap(), 0);
    let f = flow("f1", "agent-a", 1);
    let started = event(&f, EventKind::Sent, 1);
    assert_eq!(store.insert_flow_with_event(&f, &started).await.unwrap(), 1);

    let ghost = event(&flow("ghost", "agent-a", 0), EventKind::Failed, 2);
    assert!(store.append_event(&ghost).await.is_err());
    // The flow is refused (duplicate id): its event is not written either.
    assert!(store.insert_flow_with_event(&f, &started).await.is_err());
    // The event names a flow that does not exist: the update is not written either.
    let mut next = f.clone();
    next.status = FlowStatus::Pending;
    assert!(
        store
            .update_flow_with_event(&next, 0, &ghost)
            .await
            .is_err()
    );
    assert_eq!(store.flow("f1").await.unwrap(), Some(f.clone()));
    // The compare-and-set lost.
    assert_eq!(
        store
            .update_flow_with_event(&next, 5, &event(&f, EventKind::Failed, 3))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.last_event_id().await.unwrap(), 1);

    assert_eq!(
        store
            .append_event(&event(&f, EventKind::SignedIn, 4))
            .await
            .unwrap(),
        2
    );
    // The first event of a new flow may also be about another, existing flow.
    let g = flow("f2", "agent-b", 5);
    assert_eq!(
        store
            .insert_flow_with_event(&g, &event(&f, EventKind::Sent, 5))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .update_flow_with_event(&next, 0, &event(&f, EventKind::LinkOpened, 6))
            .await
            .unwrap(),
        Some(4)
    );
    assert_eq!(store.last_event_id().await.unwrap(), 4);
    let ids: Vec<_> = store
        .events_after(0, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
}

async fn paging_edges(store: SharedStore) {
    let f = flow("f1", "agent-a", 1);
    store
        .insert_flow_with_event(&f, &event(&f, EventKind::Sent, 1))
        .await
        .unwrap();
    assert!(store.events_after(0, None, 0).await.unwrap().is_empty());
    assert!(store.events_after(0, None, -1).await.unwrap().is_empty());
    assert!(store.events_for_flow("f1", 0, -1).await.unwrap().is_empty());
    assert_eq!(store.events_for_flow("f1", -5, 1).await.unwrap().len(), 1);
    assert!(store.events_for_flow("f2", 0, 10).await.unwrap().is_empty());

    // As in SQL, the first page starts below (i64::MAX, ""): a flow created at i64::MAX is
    // never on it.
    let mut last = flow("last", "agent-a", 0);
    last.created_at = i64::MAX;
    store.insert_flow(&last).await.unwrap();
    let first: Vec<_> = store
        .flows_for(None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(first, ["f1"]);
    // Ids break ties bytewise.
    for id in ["B", "a", "aa"] {
        store.insert_flow(&flow(id, "agent-a", 5)).await.unwrap();
    }
    let cursor = FlowCursor {
        created_at: 5,
        id: "b".into(),
    };
    let page: Vec<_> = store
        .flows_for(Some("agent-a"), Some(&cursor), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(page, ["aa", "a", "B", "f1"]);
}

async fn pending_flows_are_oldest_first(store: SharedStore) {
    for (id, status, at) in [
        ("done", FlowStatus::Approved, 50),
        ("p3", FlowStatus::Pending, 200),
        ("p2", FlowStatus::Starting, 100),
        ("p1", FlowStatus::Pending, 100),
        ("gone", FlowStatus::Expired, 300),
        ("off", FlowStatus::Cancelled, 400),
        ("no", FlowStatus::Denied, 10),
        ("err", FlowStatus::Failed, 20),
    ] {
        let mut f = flow(id, "agent-a", at);
        f.status = status;
        store.insert_flow(&f).await.unwrap();
    }
    let ids = |v: Vec<Flow>| v.into_iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.pending_flows().await.unwrap()),
        ["p1", "p2", "p3"]
    );

    // A flow that ends leaves the list.
    let mut p2 = store.flow("p2").await.unwrap().unwrap();
    p2.status = FlowStatus::Cancelled;
    assert!(store.update_flow(&p2, 0).await.unwrap());
    assert_eq!(ids(store.pending_flows().await.unwrap()), ["p1", "p3"]);
}

async fn rate_counters_edges(store: SharedStore) {
    // A window that ends where it starts is swept by its own first count.
    assert_eq!(store.count_event(b"k", 100, 100).await.unwrap(), 1);
    assert_eq!(store.event_count(b"k", 100).await.unwrap(), 0);
    assert_eq!(store.count_event(b"k", 100, 100).await.unwrap(), 1);

    // Going back to an older window restarts the count too.
    assert_eq!(store.count_event(b"a", 200, 300).await.unwrap(), 1);
    assert_eq!(store.count_event(b"a", 200, 300).await.unwrap(), 2);
    assert_eq!(store.count_event(b"a", 100, 200).await.unwrap(), 1);
    assert_eq!(store.event_count(b"a", 200).await.unwrap(), 0);
    assert_eq!(store.event_count(b"a", 100).await.unwrap(), 1);

    // Any first count sweeps, even a new key's in a window others are still in.
    assert_eq!(store.count_event(b"c", 150, 400).await.unwrap(), 1);
    assert_eq!(store.count_event(b"b", 250, 350).await.unwrap(), 1);
    assert_eq!(store.event_count(b"a", 100).await.unwrap(), 0, "swept");
    assert_eq!(store.event_count(b"c", 150).await.unwrap(), 1, "not ended");
    assert_eq!(store.count_event(b"c", 150, 400).await.unwrap(), 2);
    assert_eq!(store.count_event(b"", 250, 350).await.unwrap(), 1);
    assert_eq!(store.event_count(b"", 250).await.unwrap(), 1);
}

#[tokio::test]
async fn pending_flows_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let last_id;
    {
        let store = open(&dir).await;
        for (id, status, at) in [
            ("done", FlowStatus::Approved, 50),
            ("p2", FlowStatus::Pending, 200),
            ("p1", FlowStatus::Starting, 100),
            ("gone", FlowStatus::Expired, 300),
            ("off", FlowStatus::Cancelled, 400),
        ] {
            let mut f = flow(id, "agent-a", at);
            f.status = status;
            store
                .insert_flow_with_event(&f, &event(&f, EventKind::Sent, at))
                .await
                .unwrap();
        }
        last_id = store.last_event_id().await.unwrap();
        store.close().await;
    }
    let store = open(&dir).await;
    let pending = store.pending_flows().await.unwrap();
    let ids: Vec<_> = pending.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["p1", "p2"]);
    assert!(pending.iter().all(Flow::is_live));
    assert_eq!(store.last_event_id().await.unwrap(), last_id);

    // Ids keep increasing after a restart.
    let p1 = &pending[0];
    let id = store
        .append_event(&event(p1, EventKind::SignedIn, 1_000))
        .await
        .unwrap();
    assert!(id > last_id);
}

async fn rate_counters_count_per_window(store: SharedStore) {
    assert_eq!(store.count_event(b"k", 0, 60).await.unwrap(), 1);
    assert_eq!(store.count_event(b"k", 0, 60).await.unwrap(), 2);
    assert_eq!(store.count_event(b"other", 0, 60).await.unwrap(), 1);
    assert_eq!(store.event_count(b"k", 0).await.unwrap(), 2);
    assert_eq!(store.event_count(b"missing", 0).await.unwrap(), 0);

    // A new window restarts the count, and sweeps windows that ended.
    assert_eq!(store.count_event(b"k", 60, 120).await.unwrap(), 1);
    assert_eq!(store.event_count(b"k", 0).await.unwrap(), 0);
    assert_eq!(store.event_count(b"k", 60).await.unwrap(), 1);
    assert_eq!(store.event_count(b"other", 0).await.unwrap(), 0, "swept");
    assert_eq!(store.count_event(b"other", 60, 120).await.unwrap(), 1);
}

async fn debug_never_shows_secrets(store: SharedStore) {
    let mut f = flow("flow-1", "agent-a", 1_000);
    handle(&mut f, "AUTHREQ-secret-handle");
    f.link = Some("https://p.example/l?auth_req_id=AUTHREQ-secret-handle".into());
    f.tokens = Some(r#"{"access_token":"AT-secret","id_token":"IDT-secret"}"#.into());
    f.customer = Some(customer("Alice Customer"));
    let shown = format!("{f:?}");
    for secret in [
        "AUTHREQ-secret-handle",
        "AT-secret",
        "IDT-secret",
        "access_token",
        "Alice Customer",
        "alice@example.com",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("flow-1") && shown.contains("[redacted]"));
    let pretty = format!("{f:#?}");
    assert!(!pretty.contains("AT-secret") && !pretty.contains("AUTHREQ"));

    let login = PendingLogin {
        state_hash: b"state".to_vec(),
        nonce: "NONCE-value".into(),
        code_verifier: "VERIFIER-secret".into(),
        return_to: "/console".into(),
        created_at: 0,
    };
    let shown = format!("{login:?}");
    assert!(!shown.contains("VERIFIER-secret") && !shown.contains("NONCE-value"));
    assert!(shown.contains("/console"));

    let s = session(b"SESSIONHASH", "agent-a", 0);
    let shown = format!("{s:?}");
    assert!(!shown.contains("83, 69, 83") && shown.contains("agent-a"));

    // And the same once stored and read back.
    store.insert_flow(&f).await.unwrap();
    store.insert_login(&login).await.unwrap();
    let read = format!(
        "{:?} {:?} {:?}",
        store.flow("flow-1").await.unwrap(),
        store.take_login(b"state").await.unwrap(),
        store
            .flow_by_request_hash(b"AUTHREQ-secret-handle")
            .await
            .unwrap()
    );
    for secret in ["AUTHREQ", "AT-secret", "VERIFIER-secret"] {
        assert!(!read.contains(secret), "{secret} in {read}");
    }
}

fn customer_session(id: &[u8], auth_req_id: &str, now: i64) -> CustomerSession {
    CustomerSession {
        id_hash: id.to_vec(),
        auth_req_id: auth_req_id.into(),
        flow_id: None,
        identifier: None,
        hint_type: None,
        access_token: None,
        stage: Stage::Started,
        outcome: None,
        notice: None,
        created_at: now,
        expires_at: now + 600_000,
        code_binding: None,
        code_sent_at: None,
        codes_sent: 0,
        wrong_codes: 0,
        passkey_step: None,
        passkey_ceremony: None,
        passkey_starts: 0,
    }
}

async fn a_passkey_ceremony_is_spent_once(store: SharedStore) {
    let open = CustomerSession {
        passkey_step: Some(crate::store::PasskeyStep::Authenticating),
        passkey_ceremony: Some("sealed-1".into()),
        passkey_starts: 1,
        ..customer_session(b"cs-p", "req-p", 1_000)
    };
    store.insert_customer_session(&open).await.unwrap();
    let read = store.customer_session(b"cs-p").await.unwrap().unwrap();
    assert_eq!(read, open, "the passkey columns are stored and read back");
    // Another ceremony's value, then the right one, then the right one again.
    assert!(
        !store
            .take_passkey_ceremony(b"cs-p", "sealed-2")
            .await
            .unwrap()
    );
    assert!(
        store
            .take_passkey_ceremony(b"cs-p", "sealed-1")
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_passkey_ceremony(b"cs-p", "sealed-1")
            .await
            .unwrap()
    );
    let read = store.customer_session(b"cs-p").await.unwrap().unwrap();
    assert_eq!(read.passkey_ceremony, None);
    assert_eq!(read.passkey_step, open.passkey_step);
    assert!(
        !store
            .take_passkey_ceremony(b"cs-none", "sealed-1")
            .await
            .unwrap()
    );
}

async fn customer_sessions_name_the_newest_code(store: SharedStore) {
    let sent = |id: &[u8], auth_req_id: &str, at: i64| CustomerSession {
        identifier: Some("alice@example.com".into()),
        hint_type: Some(HintType::Email),
        stage: Stage::CodeSent,
        code_binding: Some(format!("binding-{at}")),
        code_sent_at: Some(at),
        codes_sent: 1,
        ..customer_session(id, auth_req_id, 1_000)
    };
    assert_eq!(
        store
            .newest_code_session("alice@example.com", 1_000)
            .await
            .unwrap(),
        None
    );
    store
        .insert_customer_session(&sent(b"cs-y", "req-y", 2_000))
        .await
        .unwrap();
    store
        .insert_customer_session(&sent(b"cs-x", "req-x", 3_000))
        .await
        .unwrap();
    // A session that sent nothing does not count.
    store
        .insert_customer_session(&customer_session(b"cs-z", "req-z", 4_000))
        .await
        .unwrap();
    // Nor does one whose page said "sent" when nothing was (a stranger's step on a link
    // that is not live, with the customer's address typed): it must not make the real
    // code look replaced.
    store
        .insert_customer_session(&CustomerSession {
            code_binding: None,
            ..sent(b"cs-w", "req-w", 4_000)
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .newest_code_session("alice@example.com", 4_000)
            .await
            .unwrap(),
        Some(b"cs-x".to_vec())
    );
    let read = store.customer_session(b"cs-x").await.unwrap().unwrap();
    assert_eq!(read.code_binding.as_deref(), Some("binding-3000"));
    assert_eq!((read.codes_sent, read.wrong_codes), (1, 0));
    assert!(!format!("{read:?}").contains("binding-3000"));
    // Expired sessions do not count either.
    assert_eq!(
        store
            .newest_code_session("alice@example.com", 700_000)
            .await
            .unwrap(),
        None
    );
}

async fn customer_sessions_round_trip_and_move_by_stage(store: SharedStore) {
    let f = flow("flow-1", "agent-a", 1_000);
    store.insert_flow(&f).await.unwrap();
    let mut s = customer_session(b"cs-1", "req-1", 1_000);
    s.flow_id = Some("flow-1".into());
    store.insert_customer_session(&s).await.unwrap();
    assert_eq!(
        store.customer_session(b"cs-1").await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(store.customer_session(b"cs-2").await.unwrap(), None);
    assert!(s.is_live(600_999) && !s.is_live(601_000));

    // Compare-and-set on the stage; `auth_req_id` and `created_at` never change.
    let sent = CustomerSession {
        identifier: Some("+15555550101".into()),
        hint_type: Some(HintType::Phone),
        stage: Stage::CodeSent,
        notice: Some(Json(ApprovalNotice::CodeResent)),
        auth_req_id: "other".into(),
        created_at: 7,
        ..s.clone()
    };
    assert!(
        !store
            .update_customer_session(&sent, Stage::CodeSent)
            .await
            .unwrap()
    );
    assert!(
        store
            .update_customer_session(&sent, Stage::Started)
            .await
            .unwrap()
    );
    assert!(
        !store
            .update_customer_session(&sent, Stage::Started)
            .await
            .unwrap()
    );
    let read = store.customer_session(b"cs-1").await.unwrap().unwrap();
    assert_eq!(read.stage, Stage::CodeSent);
    assert_eq!(read.identifier.as_deref(), Some("+15555550101"));
    assert_eq!(read.notice.map(|n| n.0), Some(ApprovalNotice::CodeResent));
    assert_eq!(
        (read.auth_req_id.as_str(), read.created_at),
        ("req-1", 1_000)
    );

    // Deciding drops the token and sets the outcome.
    let decided = CustomerSession {
        stage: Stage::Decided,
        outcome: Some(ApprovalOutcome::Approved),
        access_token: None,
        notice: None,
        ..read
    };
    assert!(
        store
            .update_customer_session(&decided, Stage::CodeSent)
            .await
            .unwrap()
    );
    let read = store.customer_session(b"cs-1").await.unwrap().unwrap();
    assert_eq!(read.outcome, Some(ApprovalOutcome::Approved));
    assert_eq!(read.access_token, None);
    let missing = customer_session(b"nobody", "req-1", 0);
    assert!(
        !store
            .update_customer_session(&missing, Stage::Started)
            .await
            .unwrap()
    );
}

async fn customer_sessions_rotate_atomically(store: SharedStore) {
    let mut old = customer_session(b"old", "req-1", 1_000);
    old.stage = Stage::CodeSent;
    old.identifier = Some("alice@example.com".into());
    old.hint_type = Some(HintType::Email);
    store.insert_customer_session(&old).await.unwrap();
    let signed_in = CustomerSession {
        id_hash: b"new".to_vec(),
        stage: Stage::SignedIn,
        access_token: Some("CAT-secret".into()),
        ..old.clone()
    };
    // At another stage: nothing happens.
    assert!(
        !store
            .rotate_customer_session(b"old", Stage::Started, &signed_in)
            .await
            .unwrap()
    );
    assert!(store.customer_session(b"new").await.unwrap().is_none());
    assert!(
        store
            .rotate_customer_session(b"old", Stage::CodeSent, &signed_in)
            .await
            .unwrap()
    );
    assert!(store.customer_session(b"old").await.unwrap().is_none());
    assert_eq!(
        store.customer_session(b"new").await.unwrap(),
        Some(signed_in.clone())
    );
    // Of two rotations of the same session, only one happens.
    let again = CustomerSession {
        id_hash: b"newer".to_vec(),
        ..signed_in.clone()
    };
    assert!(
        !store
            .rotate_customer_session(b"old", Stage::CodeSent, &again)
            .await
            .unwrap()
    );

    // A new row that cannot be stored leaves the old one in place.
    let mut a = customer_session(b"a", "req-2", 1_000);
    a.stage = Stage::CodeSent;
    store.insert_customer_session(&a).await.unwrap();
    let clash = CustomerSession {
        id_hash: b"new".to_vec(),
        ..a.clone()
    };
    assert!(
        store
            .rotate_customer_session(b"a", Stage::CodeSent, &clash)
            .await
            .is_err()
    );
    let bad = CustomerSession {
        id_hash: b"b".to_vec(),
        flow_id: Some("no-such-flow".into()),
        ..a.clone()
    };
    assert!(
        store
            .rotate_customer_session(b"a", Stage::CodeSent, &bad)
            .await
            .is_err()
    );
    assert_eq!(store.customer_session(b"a").await.unwrap(), Some(a));
    assert!(store.customer_session(b"b").await.unwrap().is_none());
}

async fn customer_sessions_expire(store: SharedStore) {
    for (id, expires_at) in [(b"a", 100), (b"b", 200), (b"c", 300)] {
        let s = CustomerSession {
            expires_at,
            ..customer_session(id, "req", 0)
        };
        store.insert_customer_session(&s).await.unwrap();
    }
    assert_eq!(store.delete_expired_customer_sessions(99).await.unwrap(), 0);
    assert_eq!(
        store.delete_expired_customer_sessions(200).await.unwrap(),
        2
    );
    assert!(store.customer_session(b"b").await.unwrap().is_none());
    assert!(store.customer_session(b"c").await.unwrap().is_some());

    // Debug shows no token, identifier, cookie hash or request id.
    let s = CustomerSession {
        identifier: Some("alice@example.com".into()),
        access_token: Some("CAT-secret".into()),
        ..customer_session(b"COOKIEHASH", "AUTHREQ-secret", 0)
    };
    let shown = format!("{s:?} {s:#?}");
    for secret in ["alice@example.com", "CAT-secret", "AUTHREQ", "67, 79"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("Started"));
}

#[tokio::test]
async fn shared_store_is_object_safe() {
    let dir = tempfile::tempdir().unwrap();
    let store: crate::store::SharedStore = std::sync::Arc::new(open(&dir).await);
    store.ping().await.unwrap();
    assert!(format!("{store:?}").contains("SqliteStore"));
}

async fn tokens_must_be_json(store: SharedStore) {
    let mut f = flow("f1", "agent-a", 0);
    f.tokens = Some("not json".into());
    assert!(store.insert_flow(&f).await.is_err());
    f.tokens = Some(r#"{"sealed":"v1.abc"}"#.into());
    store.insert_flow(&f).await.unwrap();
    assert_eq!(store.flow("f1").await.unwrap(), Some(f));
}

async fn customer_sessions_need_their_flow(store: SharedStore) {
    let good = customer_session(b"s", "req-1", 0);
    store.insert_customer_session(&good).await.unwrap();
    assert!(
        store.insert_customer_session(&good).await.is_err(),
        "unique id"
    );
    let orphan = CustomerSession {
        id_hash: b"orphan".to_vec(),
        flow_id: Some("no-such-flow".into()),
        ..good.clone()
    };
    assert!(store.insert_customer_session(&orphan).await.is_err());
    let moved = CustomerSession {
        flow_id: Some("no-such-flow".into()),
        ..good.clone()
    };
    assert!(
        store
            .update_customer_session(&moved, Stage::Started)
            .await
            .is_err()
    );
    assert_eq!(store.customer_session(b"s").await.unwrap(), Some(good));
    // Every outcome is stored and read back.
    for outcome in ApprovalOutcome::ALL {
        let ok = CustomerSession {
            id_hash: outcome.as_str().as_bytes().to_vec(),
            stage: Stage::Decided,
            outcome: Some(outcome),
            hint_type: Some(HintType::Email),
            ..customer_session(b"", "req-1", 0)
        };
        store.insert_customer_session(&ok).await.unwrap();
        assert_eq!(store.customer_session(&ok.id_hash).await.unwrap(), Some(ok));
    }
}

async fn a_reader_never_skips_an_event_committed_late(store: SharedStore) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let flows: Vec<Flow> = (0..WRITERS)
        .map(|i| flow(&format!("f{i}"), "agent-a", i64::try_from(i).unwrap()))
        .collect();
    for f in &flows {
        store.insert_flow(f).await.unwrap();
    }
    let writers: Vec<_> = flows
        .into_iter()
        .map(|f| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..EACH {
                    let at = i64::try_from(n).unwrap();
                    if n % 2 == 0 {
                        store
                            .append_event(&event(&f, EventKind::SignedIn, at))
                            .await
                            .unwrap();
                    } else {
                        let version = store.flow(&f.id).await.unwrap().unwrap().version;
                        let next = Flow {
                            poll_failures: at,
                            ..f.clone()
                        };
                        let written = store
                            .update_flow_with_event(&next, version, &event(&f, EventKind::Sent, at))
                            .await
                            .unwrap();
                        assert!(written.is_some(), "one writer per flow");
                    }
                }
            })
        })
        .collect();
    // A stream's reader: follows the cursor while the writers run.
    let total = i64::try_from(WRITERS * EACH).unwrap();
    let mut seen = Vec::new();
    let mut cursor = 0;
    while cursor < total {
        for e in store.events_after(cursor, None, 7).await.unwrap() {
            assert!(e.id > cursor);
            cursor = e.id;
            seen.push(e.id);
        }
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(seen, (1..=total).collect::<Vec<_>>(), "no event skipped");
}

async fn claims_take_only_ended_leases_and_never_twice(store: SharedStore) {
    let mut held = flow("held", "agent-a", 1);
    held.status = FlowStatus::Pending;
    held.lease_owner = Some("a".into());
    held.lease_until = 5_000;
    held.lease_epoch = 1;
    let mut free = flow("free", "agent-a", 2);
    free.status = FlowStatus::Pending;
    free.next_poll_at = 9_000;
    let mut done = flow("done", "agent-a", 0);
    done.status = FlowStatus::Approved;
    for f in [&held, &free, &done] {
        store.insert_flow(f).await.unwrap();
    }

    // At 1 000 only the flow nobody holds: leased to the later of now and its next poll, plus
    // the grace; its epoch and version grow.
    let claimed = store.claim_flows("b", 1_000, 500, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!(c.id, "free");
    assert_eq!(
        (
            c.lease_owner.as_deref(),
            c.lease_until,
            c.lease_epoch,
            c.version
        ),
        (Some("b"), 9_500, 1, 1)
    );
    assert_eq!(store.flow("free").await.unwrap().as_ref(), Some(c));
    assert!(
        store
            .claim_flows("c", 1_000, 500, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The former reader of "free" loses its compare-and-set.
    assert!(!store.update_flow(&free, 0).await.unwrap());

    // An update keeps the owner and epoch and moves lease_until.
    let renewed = Flow {
        lease_until: 20_000,
        lease_owner: Some("forged".into()),
        lease_epoch: 99,
        notification_token_hash: None,
        ..c.clone()
    };
    assert!(store.update_flow(&renewed, 1).await.unwrap());
    let read = store.flow("free").await.unwrap().unwrap();
    assert_eq!(
        (
            read.lease_owner.as_deref(),
            read.lease_until,
            read.lease_epoch
        ),
        (Some("b"), 20_000, 1)
    );

    // Once "held"'s lease ends, the next claim takes it over, at a new epoch.
    let taken = store.claim_flows("c", 5_000, 10_000, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].id.as_str(), taken[0].lease_epoch), ("held", 2));

    // A graceful stop releases the owner's live flows at once.
    assert_eq!(store.release_leases(Some("b")).await.unwrap(), 1);
    let again = store.claim_flows("d", 6_000, 500, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id.as_str(), again[0].lease_epoch), ("free", 2));
    assert_eq!(store.release_leases(Some("nobody")).await.unwrap(), 0);
    // A sole instance after a crash ends every lease left.
    assert_eq!(store.release_leases(None).await.unwrap(), 2);
    assert_eq!(
        store.claim_flows("e", 6_000, 500, 10).await.unwrap().len(),
        2
    );
}

async fn concurrent_claims_share_out_the_flows(store: SharedStore) {
    for i in 0..40 {
        let mut f = flow(&format!("f{i:02}"), "agent-a", i);
        f.status = FlowStatus::Pending;
        store.insert_flow(&f).await.unwrap();
    }
    let claimers: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_flows(&format!("owner-{n}"), 1_000, 500, 3)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|f| f.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    all.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("f{i:02}")).collect();
    assert_eq!(all, expected, "every flow claimed exactly once");
}

/// A wake-up for a flow's poller reaches every listening instance on PostgreSQL, as an event
/// does, and carries nothing but the flow id; SQLite (one instance) has nothing to send.
#[tokio::test]
async fn on_postgres_a_wake_is_heard_by_every_listener() {
    let store = postgres().await;
    let (sender, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let stop = tokio_util::sync::CancellationToken::new();
    let listening = tokio::spawn({
        let store = store.clone();
        let stop = stop.clone();
        async move {
            store
                .listen(move |heard| drop(sender.send(heard)), stop)
                .await;
        }
    });
    let mut next = async || {
        tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv())
            .await
            .expect("a notification within 10 s")
            .unwrap()
    };
    assert_eq!(next().await, crate::store::Heard::Reconnected);
    // The channel is the database's, and the other tests' stores (each in a schema of its own)
    // notify on it at the same time: skip what is not about this test's flow.
    let flow = format!("flow-{:016x}", rand::random::<u64>());
    store.wake_pollers(&flow).await.unwrap();
    let wake = crate::store::Heard::Wake {
        flow_id: flow.clone(),
    };
    loop {
        let heard = next().await;
        if heard == wake {
            break;
        }
        assert!(
            !format!("{heard:?}").contains(&flow),
            "only a wake names this flow: {heard:?}"
        );
    }
    stop.cancel();
    listening.await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    open(&dir).await.wake_pollers("flow-7").await.unwrap();
}
