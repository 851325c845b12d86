//! The agent's event stream (`GET /api/events`): replay, isolation between agents, lagged
//! receivers, terminal events, keep-alive, the end of the session, and no secret on the wire.
//!
//! Most tests drive [`server::events::frames`] directly over the stores' fake and a scripted
//! provider, on tokio's paused clock (a wait for a frame lets virtual time run to the next timer:
//! polls, keep-alives, session checks). One test goes through HTTP with a real sign-in.

use std::{
    collections::VecDeque,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::flow::{
    Channel, EventKind, FlowEvent, FlowStatus, HintType, TimelineEntry, VerifiedCustomer,
};
use async_trait::async_trait;
use axum::body::BodyDataStream;
use futures_util::{Stream, StreamExt as _};
use server::{
    events::{STREAMS_PER_AGENT, Seats, Subscription, frames, response},
    flows::{
        clock::Clock,
        engine::{Agent, Ciba, Engine, Polled, StartInput, Started},
        poll::Answer,
    },
    session::{AgentSession, hash, new_id},
    store::{
        Flow, FlowStore as _, Json, NewEvent, Role, Session, SessionStore as _, SqliteStore,
        Store as _,
    },
};
use tokio::{sync::broadcast::error::RecvError, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::kit::{AGENT, SUPERVISOR, SseReader, TestApp};

/// The stores' fake for the paused clock (the engine's unit tests use it too).
mod fake {
    use server::store::{
        Event, Flow, FlowCursor, FlowStore, NewEvent, PendingLogin, Session, SessionStore,
        StoreError,
    };
    include!("../../src/store/tests/fake.rs");
}
use fake::FakeStore;

const T0: i64 = 1_800_000_000_000;
const TOKENS: &str =
    r#"{"access_token":"at-SECRET-1","id_token":"it-SECRET-2","refresh_token":"rt-SECRET-3"}"#;

/// A provider that accepts every request and answers polls from one script (then "pending").
#[derive(Debug, Default)]
struct Scripted {
    answers: Mutex<VecDeque<Polled>>,
}

#[async_trait]
impl Ciba for Scripted {
    async fn start(&self, flow: &Flow, _: Duration) -> Result<Started, String> {
        Ok(Started {
            auth_req_id: format!("req-{}", flow.id),
            auth_req_id_hash: flow.id.as_bytes().to_vec(),
            expires_in: Duration::from_secs(600),
            interval: Duration::from_secs(5),
            link: None,
            notification_token_hash: None,
        })
    }

    async fn poll(&self, _: &Flow, _: i64) -> Polled {
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Polled::Wait(Answer::Pending))
    }

    async fn discard(&self, _: &str, _: &str) {}

    fn link(&self, flow: &Flow) -> Option<String> {
        flow.link.clone()
    }
}

fn verified() -> Polled {
    Polled::Verified {
        customer: VerifiedCustomer {
            user_id: "alice".into(),
            name: "Alice Anders".into(),
            email: Some("a•••e@example.com".into()),
            phone: None,
            amr: vec!["otp".into()],
            auth_time: 1_800_000_000,
        },
        tokens: TOKENS.into(),
    }
}

fn input() -> StartInput {
    StartInput {
        hint: "alice@example.com".into(),
        hint_type: HintType::Email,
        channel: Channel::Email,
        custom_message: None,
        ticket: None,
    }
}

type Frames = Pin<Box<dyn Stream<Item = FlowEvent> + Send>>;

/// An engine over a memory store with a scripted provider, and its agents' sessions.
struct World {
    store: FakeStore,
    engine: Engine,
}

impl World {
    fn new(answers: impl IntoIterator<Item = Polled>) -> Self {
        let store = FakeStore::new();
        let ciba = Arc::new(Scripted {
            answers: Mutex::new(answers.into_iter().collect()),
        });
        let engine = Engine::new(
            Arc::new(store.clone()),
            ciba,
            Clock::starting_at(T0),
            Duration::from_secs(600),
            server::metrics::Metrics::default(),
        );
        Self { store, engine }
    }

    /// A signed-in agent `sub` (a supervisor if asked), with a session that lasts 8 hours.
    async fn sign_in(&self, sub: &str, supervisor: bool) -> AgentSession {
        let (_, id_hash) = new_id();
        let session = Session {
            id_hash,
            agent_sub: sub.into(),
            agent_name: format!("Agent {sub}"),
            agent_email: format!("{sub}@demo.bank"),
            role: if supervisor {
                Role::Supervisor
            } else {
                Role::Agent
            },
            created_at: T0,
            last_seen_at: T0,
            expires_at: T0 + 8 * 3_600_000,
        };
        self.store.insert_session(&session).await.unwrap();
        AgentSession::from_session(&session)
    }

    /// `session`'s stream from `after` (idle timeout: 30 minutes).
    async fn frames(&self, session: &AgentSession, after: Option<i64>) -> Frames {
        self.frames_idle(session, after, Duration::from_secs(1800))
            .await
    }

    async fn frames_idle(
        &self,
        session: &AgentSession,
        after: Option<i64>,
        idle: Duration,
    ) -> Frames {
        let subscription = Subscription {
            session: session.clone(),
            idle,
            after,
            sessions: Arc::new(self.store.clone()),
        };
        let frames = frames(self.engine.clone(), subscription, std::future::pending());
        Box::pin(frames.await.unwrap())
    }

    async fn event_ids(&self) -> Vec<i64> {
        let events = self.store.events_after(0, None, 100_000).await.unwrap();
        events.iter().map(|e| e.id).collect()
    }
}

/// The next `n` frames, each within 30 s of (virtual) time.
async fn take(frames: &mut Frames, n: usize) -> Vec<FlowEvent> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match tokio::time::timeout(Duration::from_secs(30), frames.next()).await {
            Ok(Some(event)) => out.push(event),
            Ok(None) => panic!("the stream ended after {} frames", out.len()),
            Err(_) => panic!("no frame after {} frames", out.len()),
        }
    }
    out
}

/// Nothing for `secs` seconds, and the stream still open.
async fn quiet(frames: &mut Frames, secs: u64) {
    if let Ok(next) = tokio::time::timeout(Duration::from_secs(secs), frames.next()).await {
        panic!("expected silence, got {next:?}");
    }
}

/// The stream ends (within two session checks) without another frame.
async fn ended(frames: &mut Frames) {
    match tokio::time::timeout(Duration::from_secs(61), frames.next()).await {
        Ok(None) => {}
        Ok(Some(event)) => panic!("expected the end, got {event:?}"),
        Err(_) => panic!("the stream is still open"),
    }
}

fn ids(events: &[FlowEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id).collect()
}

#[tokio::test(start_paused = true)]
async fn case_26_replays_after_an_id_then_goes_live() {
    let world = World::new([]);
    let a = world.sign_in("a", false).await;
    let first = world.engine.start(&a.agent, input()).await.unwrap();
    let second = world.engine.start(&a.agent, input()).await.unwrap();
    let stored = world.event_ids().await;
    assert_eq!(stored.len(), 2);

    // After the first event: the second, then whatever happens next.
    let mut replay = world.frames(&a, Some(stored[0])).await;
    let got = take(&mut replay, 1).await;
    assert_eq!(ids(&got), [stored[1]]);
    assert_eq!(got[0].kind, EventKind::Sent);
    assert_eq!(got[0].flow.id, second.id);
    assert_eq!(got[0].flow.status, FlowStatus::Pending);
    quiet(&mut replay, 1).await;

    // No position: live from the newest event, nothing replayed.
    let mut live = world.frames(&a, None).await;
    quiet(&mut live, 1).await;

    world.engine.cancel(&a.agent, &first.id).await.unwrap();
    for stream in [&mut replay, &mut live] {
        let got = take(stream, 1).await;
        assert_eq!(got[0].kind, EventKind::Cancelled);
        assert_eq!(got[0].flow.id, first.id);
        // The flow as it stands now, with its whole timeline.
        assert_eq!(got[0].flow.status, FlowStatus::Cancelled);
        assert_eq!(got[0].flow.timeline.len(), 2);
        quiet(stream, 1).await;
    }

    // A position from a store since reset (beyond the newest id): live from now.
    let mut reset = world.frames(&a, Some(1_000_000)).await;
    quiet(&mut reset, 1).await;
    world.engine.cancel(&a.agent, &second.id).await.unwrap();
    let got = take(&mut reset, 1).await;
    assert_eq!(got[0].flow.id, second.id);
    for stream in [&mut replay, &mut live] {
        assert_eq!(ids(&take(stream, 1).await), ids(&got));
    }

    // From 0: everything, in order.
    let mut all = world.frames(&a, Some(0)).await;
    let got = take(&mut all, 4).await;
    assert_eq!(ids(&got), world.event_ids().await);
    quiet(&mut all, 1).await;
}

#[tokio::test(start_paused = true)]
async fn case_22_an_agent_sees_only_their_own_flows_and_a_supervisor_sees_all() {
    let world = World::new([]);
    let a = world.sign_in("a", false).await;
    let b = world.sign_in("b", false).await;
    let boss = world.sign_in("boss", true).await;
    let flow_a = world.engine.start(&a.agent, input()).await.unwrap();
    let flow_b = world.engine.start(&b.agent, input()).await.unwrap();

    let mut stream_a = world.frames(&a, Some(0)).await;
    let mut stream_b = world.frames(&b, Some(0)).await;
    let mut stream_boss = world.frames(&boss, Some(0)).await;

    // Replay.
    let got = take(&mut stream_a, 1).await;
    assert_eq!(got[0].flow.id, flow_a.id);
    let got = take(&mut stream_b, 1).await;
    assert_eq!(got[0].flow.id, flow_b.id);
    let got = take(&mut stream_boss, 2).await;
    assert_eq!(ids(&got), world.event_ids().await);
    assert_eq!(got[0].flow.id, flow_a.id);
    assert_eq!(got[1].flow.id, flow_b.id);
    quiet(&mut stream_a, 1).await;

    // Live: B's changes reach B and the supervisor, never A.
    world
        .engine
        .record(&flow_b.id, EventKind::LinkOpened, None)
        .await
        .unwrap();
    let boss_agent = Agent {
        supervisor: true,
        ..boss.agent.clone()
    };
    world.engine.cancel(&boss_agent, &flow_b.id).await.unwrap();
    let for_b = take(&mut stream_b, 2).await;
    let for_boss = take(&mut stream_boss, 2).await;
    assert_eq!(ids(&for_b), ids(&for_boss));
    assert_eq!(
        for_b.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::LinkOpened, EventKind::Cancelled]
    );
    assert!(for_b.iter().all(|e| e.flow.id == flow_b.id));
    quiet(&mut stream_a, 10).await;

    // A's own change reaches A and the supervisor only.
    world.engine.cancel(&a.agent, &flow_a.id).await.unwrap();
    let got = take(&mut stream_a, 1).await;
    assert_eq!(got[0].flow.id, flow_a.id);
    assert_eq!(ids(&take(&mut stream_boss, 1).await), ids(&got));
    quiet(&mut stream_b, 10).await;

    // Reconnecting from 0, A still gets only A's.
    let mut again = world.frames(&a, Some(0)).await;
    let got = take(&mut again, 2).await;
    assert!(got.iter().all(|e| e.flow.id == flow_a.id), "{got:?}");
    quiet(&mut again, 1).await;
}

#[tokio::test(start_paused = true)]
async fn case_26_a_lagged_receiver_resyncs_and_every_event_arrives_once_in_order() {
    const CHANGES: usize = 1500; // more than the engine's broadcast buffer (1024)
    let world = World::new([]);
    let a = world.sign_in("a", false).await;
    let mut stream = world.frames(&a, None).await;
    quiet(&mut stream, 1).await; // live, waiting for notices
    let mut witness = world.engine.subscribe();

    // A burst while the stream is not read.
    let flow = world.engine.start(&a.agent, input()).await.unwrap();
    for _ in 0..CHANGES {
        world
            .engine
            .record(&flow.id, EventKind::LinkOpened, None)
            .await
            .unwrap();
    }
    assert!(
        matches!(witness.recv().await, Err(RecvError::Lagged(_))),
        "the burst overflows the broadcast buffer"
    );

    let got = take(&mut stream, CHANGES + 1).await;
    assert_eq!(ids(&got), world.event_ids().await, "each once, in order");
    quiet(&mut stream, 10).await;

    // Still live after the resync.
    world.engine.cancel(&a.agent, &flow.id).await.unwrap();
    let last = take(&mut stream, 1).await;
    assert_eq!(last[0].kind, EventKind::Cancelled);
    assert!(last[0].id > got[CHANGES].id);
    quiet(&mut stream, 10).await;

    // And a replay of all of it comes in pages, in order.
    let mut replay = world.frames(&a, Some(0)).await;
    let all = take(&mut replay, CHANGES + 2).await;
    assert_eq!(ids(&all), world.event_ids().await);
    quiet(&mut replay, 1).await;
}

#[tokio::test(start_paused = true)]
async fn case_26_a_lagged_receiver_finds_events_whose_notices_were_pushed_out() {
    let world = World::new([]);
    let a = world.sign_in("a", false).await;
    let b = world.sign_in("b", false).await;
    let flow_b = world.engine.start(&b.agent, input()).await.unwrap();
    let mut stream = world.frames(&a, None).await;

    // A's one change, then enough of B's that A's notice falls out of the broadcast buffer.
    let flow_a = world.engine.start(&a.agent, input()).await.unwrap();
    for _ in 0..1100 {
        world
            .engine
            .record(&flow_b.id, EventKind::LinkOpened, None)
            .await
            .unwrap();
    }
    let got = take(&mut stream, 1).await;
    assert_eq!(got[0].flow.id, flow_a.id);
    assert_eq!(got[0].kind, EventKind::Sent);
    quiet(&mut stream, 10).await;
}

#[tokio::test(start_paused = true)]
async fn case_21_the_terminal_event_arrives_once_and_nothing_secret_goes_on_the_wire() {
    let world = World::new([Polled::Wait(Answer::Pending), verified()]);
    let a = world.sign_in("a", false).await;
    let sse = response(world.frames(&a, None).await);
    let headers = sse.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-accel-buffering"], "no");
    let mut body = sse.into_body().into_data_stream();
    assert_eq!(chunk(&mut body).await, "retry: 3000\n\n");

    let flow = world.engine.start(&a.agent, input()).await.unwrap();
    let sent = chunk(&mut body).await;
    let sent = parse(&sent);
    assert_eq!(sent.kind, EventKind::Sent);
    // Polled at 5 s (pending) and 10 s (tokens, which mean the customer approved: no page
    // recorded it here, so the poller does, first).
    let approved = parse(&chunk(&mut body).await);
    assert_eq!(approved.kind, EventKind::Approved);
    let verified = parse(&chunk(&mut body).await);
    assert_eq!(verified.kind, EventKind::Verified);
    assert_eq!(verified.flow.id, flow.id);
    assert_eq!(verified.flow.status, FlowStatus::Approved);
    assert_eq!(verified.flow.customer.as_ref().unwrap().user_id, "alice");
    // Then only keep-alives.
    assert_eq!(chunk(&mut body).await, ":\n\n");

    // Reconnecting after the approval gets the terminal event, once.
    let mut again = world.frames(&a, Some(approved.id)).await;
    let got = take(&mut again, 1).await;
    assert_eq!(got, std::slice::from_ref(&verified));
    quiet(&mut again, 20).await;

    // The tokens and the provider's handle stay in the store.
    let stored = world.store.flow(&flow.id).await.unwrap().unwrap();
    let auth_req_id = stored.auth_req_id.unwrap();
    assert_eq!(stored.tokens.as_deref(), Some(TOKENS));
    let mut replayed = response(world.frames(&a, Some(0)).await)
        .into_body()
        .into_data_stream();
    let mut wire = String::new();
    for _ in 0..4 {
        wire.push_str(&chunk(&mut replayed).await);
    }
    assert!(wire.contains("event: verified"), "{wire}");
    for secret in [
        TOKENS,
        "SECRET",
        "access_token",
        "id_token",
        "refresh_token",
        "req-",
        auth_req_id.as_str(),
    ] {
        assert!(!wire.contains(secret), "{secret} in {wire}");
    }
}

/// The next chunk of an SSE body (one frame or a keep-alive), within 60 s.
async fn chunk(body: &mut BodyDataStream) -> String {
    let bytes = tokio::time::timeout(Duration::from_secs(60), body.next())
        .await
        .expect("a frame in time")
        .expect("the body is open")
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// `id:`, `event:` and `data:` of one frame, checked against each other.
fn parse(frame: &str) -> FlowEvent {
    let lines: Vec<&str> = frame.trim_end().lines().collect();
    assert_eq!(lines.len(), 3, "{frame}");
    let id = lines[0].strip_prefix("id: ").unwrap();
    let kind = lines[1].strip_prefix("event: ").unwrap();
    let event: FlowEvent = serde_json::from_str(lines[2].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(id, event.id.to_string());
    assert_eq!(kind, event.kind.as_str());
    event
}

#[tokio::test(start_paused = true)]
async fn a_keep_alive_follows_fifteen_quiet_seconds() {
    let world = World::new([]);
    let a = world.sign_in("a", false).await;
    let mut body = response(world.frames(&a, None).await)
        .into_body()
        .into_data_stream();
    assert_eq!(chunk(&mut body).await, "retry: 3000\n\n");
    let start = Instant::now();
    world.engine.start(&a.agent, input()).await.unwrap();
    assert!(chunk(&mut body).await.contains("event: sent"));
    // The poller asks at 5 and 10 s (pending): nothing to send until the keep-alive.
    assert_eq!(chunk(&mut body).await, ":\n\n");
    assert_eq!(start.elapsed(), Duration::from_secs(15));
    assert_eq!(chunk(&mut body).await, ":\n\n");
    assert_eq!(start.elapsed(), Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn case_25_signing_out_mid_flow_ends_the_stream_before_the_result() {
    let world = World::new([Polled::Wait(Answer::Pending), verified()]);
    let a = world.sign_in("a", false).await;
    let mut stream = world.frames(&a, None).await;
    quiet(&mut stream, 1).await;
    let start = Instant::now();
    world.engine.start(&a.agent, input()).await.unwrap();
    assert_eq!(take(&mut stream, 1).await[0].kind, EventKind::Sent);

    world.store.delete_session(&a.id_hash).await.unwrap();
    // The tokens arrive at 10 s; the notice makes the stream read the session, which is gone.
    ended(&mut stream).await;
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "ended on the notice"
    );
    assert!(
        world
            .store
            .events_after(0, None, 10)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == EventKind::Verified),
        "the result exists, but was not sent"
    );
}

#[tokio::test(start_paused = true)]
async fn case_25_an_idle_session_ends_a_quiet_stream_at_the_next_check() {
    let world = World::new([]);
    let a = world.sign_in("a", false).await;
    let start = Instant::now();
    let mut stream = world.frames_idle(&a, None, Duration::from_secs(45)).await;
    // Checks at 30 s (live) and 60 s (idle since 0 s for 45 s or more): the end.
    ended(&mut stream).await;
    assert_eq!(start.elapsed(), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_long_replay_stops_when_the_session_ends() {
    let world = World::new([]);
    let a = world.sign_in("a", false).await;
    let flow = world.engine.start(&a.agent, input()).await.unwrap();
    for _ in 0..10 {
        world
            .engine
            .record(&flow.id, EventKind::LinkOpened, None)
            .await
            .unwrap();
    }
    let mut stream = world.frames(&a, Some(0)).await;
    take(&mut stream, 2).await;
    // A slow reader: by its next read the session check is due, and the session is gone.
    world.store.delete_session(&a.id_hash).await.unwrap();
    tokio::time::advance(Duration::from_secs(31)).await;
    ended(&mut stream).await;
}

#[tokio::test(start_paused = true)]
async fn the_stop_signal_ends_the_stream() {
    let world = World::new([]);
    let a = world.sign_in("a", false).await;
    let stop = CancellationToken::new();
    let subscription = Subscription {
        session: a.clone(),
        idle: Duration::from_secs(1800),
        after: None,
        sessions: Arc::new(world.store.clone()),
    };
    let frames = frames(
        world.engine.clone(),
        subscription,
        stop.clone().cancelled_owned(),
    );
    let mut stream: Frames = Box::pin(frames.await.unwrap());
    quiet(&mut stream, 5).await;
    stop.cancel();
    let start = Instant::now();
    ended(&mut stream).await;
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// A flow of `agent_sub` with its first event, written straight into the BFF's store.
async fn stored_flow(store: &SqliteStore, id: &str, agent_sub: &str) -> i64 {
    let now = T0;
    let flow = Flow {
        id: id.into(),
        agent_sub: agent_sub.into(),
        agent_name: "Someone".into(),
        hint: "alice@example.com".into(),
        hint_type: HintType::Email,
        channel: Channel::Email,
        binding_message: "ABC-123".into(),
        custom_message: None,
        ticket: None,
        auth_req_id: Some(format!("req-{id}")),
        link: None,
        auth_req_id_hash: Some(id.as_bytes().to_vec()),
        status: FlowStatus::Approved,
        created_at: now,
        expires_at: now + 600_000,
        interval_secs: 5,
        next_poll_at: now,
        poll_failures: 0,
        decided_at: Some(now),
        ended_at: Some(now),
        outcome_detail: None,
        customer: None,
        tokens: Some(TOKENS.into()),
        version: 0,
        lease_owner: None,
        lease_until: 0,
        lease_epoch: 0,
        notification_token_hash: None,
    };
    let event = NewEvent {
        flow_id: id.into(),
        agent_sub: agent_sub.into(),
        kind: EventKind::Verified,
        data: Json(TimelineEntry {
            kind: EventKind::Verified,
            at: now,
            detail: None,
        }),
        at: now,
    };
    store.insert_flow_with_event(&flow, &event).await.unwrap()
}

#[tokio::test]
async fn over_http_a_signed_in_agent_gets_their_events() {
    let app = TestApp::spawn().await;

    // Not signed in.
    let response = app.get("/api/events").await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["cache-control"], "no-store");

    let agent = app.sign_in(AGENT).await;
    let supervisor = app.sign_in(SUPERVISOR).await;
    let store = SqliteStore::open(&app.bff_store_path()).await.unwrap();
    let sub = |cookie: &str| {
        let id = cookie.split_once('=').unwrap().1.to_owned();
        let store = store.clone();
        async move { store.session(&hash(&id)).await.unwrap().unwrap() }
    };
    let agent_session = sub(&agent).await;
    let supervisor_session = sub(&supervisor).await;
    assert!(!agent_session.is_supervisor());
    assert!(supervisor_session.is_supervisor());
    let theirs = stored_flow(&store, "flow-of-the-agent", &agent_session.agent_sub).await;
    let others = stored_flow(&store, "flow-of-another", "someone-else").await;

    // First connect with ?after=0: the agent's event only.
    let response = app.events(&agent, "?after=0", None).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-accel-buffering"], "no");
    let mut reader = SseReader::new(response);
    assert_eq!(reader.frame().await, "retry: 3000");
    let frame = reader.frame().await;
    assert!(
        frame.starts_with(&format!("id: {theirs}\nevent: verified\ndata: {{")),
        "{frame}"
    );
    assert!(frame.contains("flow-of-the-agent"), "{frame}");
    for secret in ["SECRET", "access_token", "req-"] {
        assert!(!frame.contains(secret), "{secret} in {frame}");
    }
    assert!(reader.quiet(Duration::from_millis(300)).await);
    drop(reader);

    // The supervisor sees both.
    let mut reader = SseReader::new(app.events(&supervisor, "?after=0", None).await);
    assert_eq!(reader.frame().await, "retry: 3000");
    assert!(reader.frame().await.starts_with(&format!("id: {theirs}\n")));
    assert!(reader.frame().await.starts_with(&format!("id: {others}\n")));
    drop(reader);

    // A reconnect's Last-Event-ID wins over the first URL's ?after=.
    let mut reader = SseReader::new(
        app.events(&agent, "?after=0", Some(&theirs.to_string()))
            .await,
    );
    assert_eq!(reader.frame().await, "retry: 3000");
    assert!(reader.quiet(Duration::from_millis(300)).await);
    drop(reader);

    // A position that is not an event id.
    let response = app.events(&agent, "", Some("not-a-number")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["cache-control"], "no-store");

    // Signed out: the stream is refused.
    let session_id = agent.split_once('=').unwrap().1;
    store.delete_session(&hash(session_id)).await.unwrap();
    assert_eq!(app.events(&agent, "", None).await.status(), 401);

    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_open_stream_does_not_hold_up_a_graceful_stop() {
    let app = TestApp::spawn().await;
    let cookie = app.sign_in(crate::kit::AGENT).await;
    let stream = app.events(&cookie, "", None).await;
    assert_eq!(stream.status(), 200);
    // The browser keeps the stream open; stopping must not wait for it to hang up.
    tokio::time::timeout(std::time::Duration::from_secs(10), app.stop())
        .await
        .expect("the servers stop while a console is connected");
    drop(stream);
}

#[tokio::test]
async fn an_agents_seats_end_the_oldest_stream_beyond_the_limit_and_come_back_when_dropped() {
    let seats = Arc::new(Seats::default());
    let first = seats.take("agent-a");
    let mut rest: Vec<_> = (1..STREAMS_PER_AGENT)
        .map(|_| seats.take("agent-a"))
        .collect();
    let other = seats.take("agent-b");
    assert_eq!(seats.open("agent-a"), STREAMS_PER_AGENT);
    // At the limit nobody is ended.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), first.ended())
            .await
            .is_err()
    );
    // One more: the oldest is told to end, even though it was not waiting when told.
    rest.push(seats.take("agent-a"));
    tokio::time::timeout(Duration::from_secs(1), first.ended())
        .await
        .expect("the oldest stream is ended");
    assert_eq!(seats.open("agent-a"), STREAMS_PER_AGENT);
    for seat in &rest {
        assert!(
            tokio::time::timeout(Duration::from_millis(20), seat.ended())
                .await
                .is_err()
        );
    }
    // Another agent's streams are theirs alone.
    assert!(
        tokio::time::timeout(Duration::from_millis(20), other.ended())
            .await
            .is_err()
    );
    assert_eq!(seats.open("agent-b"), 1);
    // Seats are given back when their streams end.
    drop(first);
    assert_eq!(seats.open("agent-a"), STREAMS_PER_AGENT);
    rest.clear();
    drop(other);
    assert_eq!(seats.open("agent-a"), 0);
    assert_eq!(seats.open("agent-b"), 0);
}

#[tokio::test]
async fn over_http_an_agents_newest_stream_ends_their_oldest_beyond_the_limit() {
    let app = TestApp::spawn().await;
    let agent = app.sign_in(AGENT).await;
    let supervisor = app.sign_in(SUPERVISOR).await;
    let mut theirs = SseReader::new(app.events(&supervisor, "", None).await);
    assert_eq!(theirs.frame().await, "retry: 3000");
    let mut open = Vec::new();
    for _ in 0..STREAMS_PER_AGENT {
        let mut reader = SseReader::new(app.events(&agent, "", None).await);
        assert_eq!(reader.frame().await, "retry: 3000");
        open.push(reader);
    }
    // A half-open stream from a laptop that went away never locks its agent out: the next
    // one is served and the oldest is closed (its browser, if any, reconnects and resumes).
    let response = app.events(&agent, "", None).await;
    assert_eq!(response.status(), 200);
    let mut newest = SseReader::new(response);
    assert_eq!(newest.frame().await, "retry: 3000");
    assert!(open[0].ends_within(Duration::from_secs(10)).await);
    for reader in &mut open[1..] {
        assert!(reader.quiet(Duration::from_millis(100)).await);
    }
    assert!(newest.quiet(Duration::from_millis(100)).await);
    assert!(theirs.quiet(Duration::from_millis(100)).await);
    drop((open, newest, theirs));
    app.stop().await;
}

/// One event fanned out to many streams at the same place is read from the store once, for
/// all of them: every supervisor's streams, and all the tabs of one agent.
#[tokio::test(start_paused = true)]
async fn one_event_is_read_once_for_every_stream_that_sees_it() {
    let world = World::new([]);
    let mut streams = Vec::new();
    for n in 0..40 {
        let supervisor = world.sign_in(&format!("super-{n}"), true).await;
        streams.push(world.frames(&supervisor, None).await);
    }
    let agent_session = world.sign_in("agent-a", false).await;
    for _ in 0..20 {
        streams.push(world.frames(&agent_session, None).await);
    }
    let agent = Agent {
        sub: "agent-a".into(),
        name: "Agent A".into(),
        supervisor: false,
    };
    let before = world.store.event_reads();
    let flow = world.engine.start(&agent, input()).await.unwrap();
    for stream in &mut streams {
        let got = take(stream, 1).await;
        assert_eq!(got[0].flow.id, flow.id);
        assert_eq!(got[0].kind, EventKind::Sent);
    }
    // One page for the supervisors, one for the agent's tabs: not one per stream.
    assert_eq!(world.store.event_reads() - before, 2);
}

/// A page read before an event was announced is never served to a stream woken by that event:
/// it reads again, and gets everything.
#[tokio::test(start_paused = true)]
async fn a_page_older_than_the_notice_is_read_again() {
    let world = World::new([]);
    let first = world.sign_in("super-1", true).await;
    let second = world.sign_in("super-2", true).await;
    let mut early = world.frames(&first, None).await;
    let mut late = world.frames(&second, None).await;
    let agent = Agent {
        sub: "agent-a".into(),
        name: "Agent A".into(),
        supervisor: false,
    };
    let one = world.engine.start(&agent, input()).await.unwrap();
    assert_eq!(take(&mut early, 1).await[0].flow.id, one.id);
    // The second event is written after the first stream read its page at the old cursor; the
    // second stream, at that same cursor, must not be handed that page alone.
    let two = world.engine.start(&agent, input()).await.unwrap();
    let got = take(&mut late, 2).await;
    let ids: Vec<&str> = got.iter().map(|event| event.flow.id.as_str()).collect();
    assert_eq!(ids, [one.id.as_str(), two.id.as_str()]);
    assert_eq!(take(&mut early, 1).await[0].flow.id, two.id);
    quiet(&mut early, 5).await;
    quiet(&mut late, 5).await;
}
