use std::{collections::VecDeque, sync::Mutex};

use super::*;
use crate::store::fake::FakeStore;
use crate::{flows::poll::Answer, store::Flow};
use app::flow::{Channel, EventKind, FlowStatus, FlowView, HintType, VerifiedCustomer};
use async_trait::async_trait;

const T0: i64 = 1_800_000_000_000;

/// A provider that answers polls from a script and remembers when it was asked.
#[derive(Debug, Default)]
struct Scripted {
    answers: Mutex<VecDeque<Polled>>,
    polls: Mutex<Vec<i64>>,
    starts: Mutex<usize>,
    refuse_start: bool,
    /// How long the provider takes to answer a start (it sends the message meanwhile).
    start_delay: Duration,
    /// Tokens revoked through `discard`.
    discarded: Mutex<Vec<String>>,
    /// While polling, change the flow in this store first (as a decision or a cancel
    /// landing during the poll would), then answer.
    meddle: Mutex<Option<(FakeStore, FlowStatus)>>,
    /// While polling, let another instance claim the flow in this store first (this one stalled
    /// past its lease), then answer.
    steal: Mutex<Option<FakeStore>>,
    /// The request id each call ran under (`infra::request_id::current`), starts and polls.
    request_ids: Mutex<Vec<Option<String>>>,
    /// Ping mode: each request's notification token hashes to [`PING_TOKEN_HASH`].
    ping: bool,
}

/// The notification token's hash of every request a ping-mode [`Scripted`] starts.
const PING_TOKEN_HASH: &[u8] = b"hash of the notification token";

impl Scripted {
    fn with(answers: impl IntoIterator<Item = Polled>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers.into_iter().collect()),
            ..Self::default()
        })
    }

    /// Seconds after T0 of each poll.
    fn polls(&self) -> Vec<i64> {
        self.polls
            .lock()
            .unwrap()
            .iter()
            .map(|at| (at - T0) / 1000)
            .collect()
    }
}

#[async_trait]
impl Ciba for Scripted {
    async fn start(&self, flow: &Flow, _: Duration) -> Result<Started, String> {
        *self.starts.lock().unwrap() += 1;
        self.request_ids
            .lock()
            .unwrap()
            .push(infra::request_id::current());
        tokio::time::sleep(self.start_delay).await;
        if self.refuse_start {
            return Err("No active customer matches that email address.".into());
        }
        Ok(Started {
            auth_req_id: format!("req-{}", flow.id),
            auth_req_id_hash: flow.id.as_bytes().to_vec(),
            expires_in: Duration::from_secs(60),
            interval: Duration::from_secs(5),
            link: None,
            notification_token_hash: self.ping.then(|| PING_TOKEN_HASH.to_vec()),
        })
    }

    async fn poll(&self, flow: &Flow, now_ms: i64) -> Polled {
        self.polls.lock().unwrap().push(now_ms);
        self.request_ids
            .lock()
            .unwrap()
            .push(infra::request_id::current());
        let steal = self.steal.lock().unwrap().take();
        if let Some(store) = steal {
            let lapsed = Flow {
                lease_until: 0,
                ..flow.clone()
            };
            assert!(store.update_flow(&lapsed, flow.version).await.unwrap());
            let claimed = store
                .claim_flows("other", now_ms, 20_000, 10)
                .await
                .unwrap();
            assert_eq!(claimed.len(), 1);
        }
        let meddle = self.meddle.lock().unwrap().take();
        if let Some((store, status)) = meddle {
            let changed = Flow {
                status,
                ..flow.clone()
            };
            assert!(store.update_flow(&changed, flow.version).await.unwrap());
        }
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Polled::Wait(Answer::Pending))
    }

    async fn discard(&self, _flow_id: &str, tokens: &str) {
        self.discarded.lock().unwrap().push(tokens.to_owned());
    }

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
        tokens: r#"{"access_token":"secret"}"#.into(),
    }
}

fn agent(sub: &str) -> Agent {
    Agent {
        sub: sub.into(),
        name: format!("Agent {sub}"),
        supervisor: false,
    }
}

fn input() -> StartInput {
    StartInput {
        hint: "alice@example.com".into(),
        hint_type: HintType::Email,
        channel: Channel::Email,
        custom_message: None,
        ticket: Some("INC-7".into()),
    }
}

fn engine(store: &FakeStore, ciba: Arc<Scripted>) -> Engine {
    Engine::new(
        Arc::new(store.clone()),
        ciba,
        Clock::starting_at(T0),
        Duration::from_secs(60),
        crate::metrics::Metrics::default(),
    )
}

/// Lets the pollers run up to `seconds` after `start` on the paused clock.
async fn run_until(start: tokio::time::Instant, seconds: u64) {
    tokio::time::sleep_until(start + Duration::from_secs(seconds)).await;
}

async fn status(engine: &Engine, id: &str) -> FlowStatus {
    engine.view(id).await.unwrap().status
}

fn kinds(view: &FlowView) -> Vec<EventKind> {
    view.timeline.iter().map(|e| e.kind).collect()
}

/// The agent's request goes away while the provider is still sending (the browser gave up,
/// the tab closed). The provider goes on and the customer gets a working link, so the flow
/// must still become pending and be polled: never left "starting", to be failed later.
#[tokio::test(start_paused = true)]
async fn case_23_a_start_whose_caller_goes_away_is_still_recorded() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Arc::new(Scripted {
        start_delay: Duration::from_secs(8),
        ..Scripted::default()
    });
    let engine = engine(&store, ciba.clone());
    let gone =
        tokio::time::timeout(Duration::from_secs(1), engine.start(&agent("a"), input())).await;
    assert!(gone.is_err(), "the caller gave up first");
    run_until(start, 20).await;
    let flows = store.pending_flows().await.unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].status, FlowStatus::Pending);
    assert_eq!(flows[0].auth_req_id, Some(format!("req-{}", flows[0].id)));
    assert!(!ciba.polls().is_empty(), "its poller runs");
    assert_eq!(*ciba.starts.lock().unwrap(), 1, "nothing sent twice");
}

#[tokio::test(start_paused = true)]
async fn polls_every_interval_until_verified() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([Polled::Wait(Answer::Pending), verified()]);
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    assert_eq!(view.status, FlowStatus::Pending);
    assert_eq!(view.binding_code.len(), 7);
    run_until(start, 30).await;
    assert_eq!(ciba.polls(), [5, 10]);
    let view = engine.view(&view.id).await.unwrap();
    assert_eq!(view.status, FlowStatus::Approved);
    // Tokens mean the customer approved: the approval is in the timeline even though no
    // approval page recorded it here.
    assert_eq!(
        kinds(&view),
        [EventKind::Sent, EventKind::Approved, EventKind::Verified]
    );
    assert_eq!(view.customer.unwrap().user_id, "alice");
    // The tokens stay in the store; the view never carries them.
    let json = serde_json::to_string(&engine.view(&view.id).await.unwrap()).unwrap();
    assert!(!json.contains("secret"));
}

/// The provider logs the calls under the id of what made them: the agent's request for the
/// start (which runs in a task of its own), `poll-<flow id>` for each poll.
#[tokio::test(start_paused = true)]
async fn calls_to_the_provider_carry_the_request_id_that_made_them() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([verified()]);
    let engine = engine(&store, ciba.clone());
    let view = infra::request_id::scoped(
        Some("agent-request-1".to_owned()),
        engine.start(&agent("a"), input()),
    )
    .await
    .unwrap();
    run_until(start, 6).await;
    assert_eq!(
        *ciba.request_ids.lock().unwrap(),
        [
            Some("agent-request-1".to_owned()),
            Some(format!("poll-{}", view.id))
        ]
    );
}

/// The poll that brings the tokens can beat the instance that took the customer's approval to
/// recording it (or that instance died right after telling the provider): either way the
/// approval is in the timeline once, before the verification.
#[tokio::test(start_paused = true)]
async fn the_approval_is_recorded_once_whoever_writes_it_first() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let once = [EventKind::Sent, EventKind::Approved, EventKind::Verified];

    // The poll first; the approval page's record comes too late and changes nothing.
    let polled_first = engine(&store, Scripted::with([verified()]));
    let first = polled_first.start(&agent("a"), input()).await.unwrap();
    run_until(start, 6).await;
    let late = polled_first
        .record(&first.id, EventKind::Approved, None)
        .await;
    assert!(matches!(late, Err(FlowError::Ended)), "{late:?}");
    assert_eq!(kinds(&polled_first.view(&first.id).await.unwrap()), once);

    // The approval first (twice: a double tap); the poll then adds only the verification.
    let decided_first = engine(&store, Scripted::with([verified()]));
    let second = decided_first.start(&agent("a"), input()).await.unwrap();
    for _ in 0..2 {
        decided_first
            .record(&second.id, EventKind::Approved, None)
            .await
            .unwrap();
    }
    run_until(start, 20).await;
    assert_eq!(kinds(&decided_first.view(&second.id).await.unwrap()), once);
}

/// A denial the provider took ends the flow at once, recorded by whoever writes first: the
/// approval page's instance, or the poller that heard `access_denied` (when that instance is
/// slow or died). Either way the timeline says so once.
#[tokio::test(start_paused = true)]
async fn a_denial_ends_the_flow_once_whoever_writes_it_first() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let once = [EventKind::Sent, EventKind::Denied];

    // The page first: the flow ends there, and its poller asks nothing more.
    let ciba = Scripted::with([Polled::Denied]);
    let page_first = engine(&store, ciba.clone());
    let first = page_first.start(&agent("a"), input()).await.unwrap();
    page_first
        .record(&first.id, EventKind::Denied, None)
        .await
        .unwrap();
    let view = page_first.view(&first.id).await.unwrap();
    assert_eq!(view.status, FlowStatus::Denied);
    assert_eq!(view.outcome.as_deref(), Some(DENIED));
    run_until(start, 20).await;
    assert!(ciba.polls().is_empty(), "{:?}", ciba.polls());
    assert_eq!(kinds(&page_first.view(&first.id).await.unwrap()), once);

    // The poll first: the page's record comes too late and changes nothing.
    let polled_first = engine(&store, Scripted::with([Polled::Denied]));
    let second = polled_first.start(&agent("a"), input()).await.unwrap();
    run_until(start, 40).await;
    let late = polled_first
        .record(&second.id, EventKind::Denied, None)
        .await;
    assert!(matches!(late, Err(FlowError::Ended)), "{late:?}");
    let view = polled_first.view(&second.id).await.unwrap();
    assert_eq!(view.status, FlowStatus::Denied);
    assert_eq!(kinds(&view), once);
}

#[tokio::test(start_paused = true)]
async fn ending_the_customer_session_drops_and_revokes_the_tokens_once() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([verified()]);
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    assert!(!view.session_open, "no session before the tokens");
    assert!(matches!(
        engine.end_session(&agent("a"), &view.id).await,
        Err(FlowError::NoSession)
    ));
    run_until(start, 6).await;
    assert!(engine.view(&view.id).await.unwrap().session_open);
    // Another agent cannot; its owner can.
    assert!(matches!(
        engine.end_session(&agent("b"), &view.id).await,
        Err(FlowError::NotFound)
    ));
    assert!(ciba.discarded.lock().unwrap().is_empty());
    let ended = engine.end_session(&agent("a"), &view.id).await.unwrap();
    assert!(!ended.session_open);
    assert_eq!(ended.status, FlowStatus::Approved, "still verified");
    assert_eq!(
        kinds(&ended),
        [
            EventKind::Sent,
            EventKind::Approved,
            EventKind::Verified,
            EventKind::SessionEnded
        ]
    );
    assert_eq!(
        ended.timeline.last().unwrap().detail.as_deref(),
        Some("Ended by Agent a.")
    );
    assert_eq!(
        *ciba.discarded.lock().unwrap(),
        [r#"{"access_token":"secret"}"#]
    );
    assert_eq!(store.flow(&view.id).await.unwrap().unwrap().tokens, None);
    assert!(matches!(
        engine.end_session(&agent("a"), &view.id).await,
        Err(FlowError::NoSession)
    ));
    assert_eq!(ciba.discarded.lock().unwrap().len(), 1, "revoked once");
}

#[tokio::test(start_paused = true)]
async fn tokens_the_store_refuses_are_revoked_and_the_flow_says_so() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let refused = Polled::Verified {
        customer: VerifiedCustomer {
            user_id: "alice".into(),
            name: "Alice Anders".into(),
            email: None,
            phone: None,
            amr: Vec::new(),
            auth_time: 1_800_000_000,
        },
        // Not JSON: the store's check refuses the write.
        tokens: "not json".into(),
    };
    let ciba = Scripted::with([refused]);
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 60).await;
    assert_eq!(*ciba.discarded.lock().unwrap(), ["not json"]);
    // The redeemed request is never polled again; the agent is told what happened.
    assert_eq!(ciba.polls(), [5]);
    let view = engine.view(&view.id).await.unwrap();
    assert_eq!(view.status, FlowStatus::Failed);
    assert_eq!(view.outcome.as_deref(), Some(NOT_RECORDED));
    assert!(!view.session_open);
}

#[tokio::test(start_paused = true)]
async fn slow_down_stretches_the_interval_for_good() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([
        Polled::Wait(Answer::SlowDown),
        Polled::Wait(Answer::Pending),
        Polled::Wait(Answer::SlowDown),
        verified(),
    ]);
    let engine = engine(&store, ciba.clone());
    engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 59).await;
    assert_eq!(ciba.polls(), [5, 15, 25, 40]);
}

#[tokio::test(start_paused = true)]
async fn a_silent_customer_expires_without_polls_past_the_end() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([]);
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 120).await;
    assert_eq!(ciba.polls(), [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]);
    let view = engine.view(&view.id).await.unwrap();
    assert_eq!(view.status, FlowStatus::Expired);
    assert_eq!(kinds(&view), [EventKind::Sent, EventKind::Expired]);
    assert_eq!(view.outcome.as_deref(), Some("Nobody answered in time."));
}

#[tokio::test(start_paused = true)]
async fn case_24_a_failing_provider_is_backed_off_and_a_decision_cuts_the_wait() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([
        Polled::Wait(Answer::Unavailable),
        Polled::Wait(Answer::Unavailable),
        verified(),
    ]);
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    // 5 s, then backoff: +10 s, then +20 s would be 35 s.
    run_until(start, 16).await;
    assert_eq!(ciba.polls(), [5, 15]);
    // The customer approves at 16 s: the next poll comes as soon as the interval allows
    // (20 s), not at the end of the backoff (35 s).
    engine
        .record(&view.id, EventKind::Approved, None)
        .await
        .unwrap();
    run_until(start, 30).await;
    assert_eq!(ciba.polls(), [5, 15, 20]);
    let view = engine.view(&view.id).await.unwrap();
    assert_eq!(view.status, FlowStatus::Approved);
    assert_eq!(
        kinds(&view),
        [EventKind::Sent, EventKind::Approved, EventKind::Verified]
    );
}

#[tokio::test(start_paused = true)]
async fn denial_and_failure_end_the_flow() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([Polled::Denied]);
    let engine = engine(&store, ciba.clone());
    let denied = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 6).await;
    assert_eq!(status(&engine, &denied.id).await, FlowStatus::Denied);

    let refusing = Arc::new(Scripted {
        refuse_start: true,
        ..Scripted::default()
    });
    let engine = Engine::new(
        Arc::new(store.clone()),
        refusing.clone(),
        Clock::starting_at(T0),
        Duration::from_secs(60),
        crate::metrics::Metrics::default(),
    );
    let failed = engine.start(&agent("a"), input()).await.unwrap();
    assert_eq!(failed.status, FlowStatus::Failed);
    assert_eq!(
        failed.outcome.as_deref(),
        Some("No active customer matches that email address.")
    );
    run_until(start, 30).await;
    assert!(refusing.polls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_polling_and_only_the_owner_or_a_supervisor_may() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([]);
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 6).await;
    assert!(matches!(
        engine.cancel(&agent("b"), &view.id).await,
        Err(FlowError::NotFound)
    ));
    let supervisor = Agent {
        supervisor: true,
        ..agent("s")
    };
    let cancelled = engine.cancel(&supervisor, &view.id).await.unwrap();
    assert_eq!(cancelled.status, FlowStatus::Cancelled);
    assert_eq!(cancelled.outcome.as_deref(), Some("Cancelled by Agent s."));
    assert!(matches!(
        engine.cancel(&agent("a"), &view.id).await,
        Err(FlowError::Ended)
    ));
    run_until(start, 60).await;
    assert_eq!(ciba.polls(), [5], "no poll after the cancel");
}

#[tokio::test(start_paused = true)]
async fn a_report_ends_the_flow_for_the_agent_at_once() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([]);
    let engine = engine(&store, ciba.clone());
    let mut notices = engine.subscribe();
    let view = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 6).await;
    engine
        .record(&view.id, EventKind::LinkOpened, None)
        .await
        .unwrap();
    let reported = engine.report(&view.id).await.unwrap();
    assert_eq!(reported.status, FlowStatus::Cancelled);
    assert_eq!(reported.outcome.as_deref(), Some(REPORTED));
    assert_eq!(
        kinds(&reported),
        [EventKind::Sent, EventKind::LinkOpened, EventKind::Reported]
    );
    assert_eq!(
        reported.timeline.last().and_then(|e| e.detail.as_deref()),
        Some(REPORTED)
    );
    // The agent's stream hears every step, the report last.
    let mut last = None;
    while let Ok(notice) = notices.try_recv() {
        last = Some(notice.id);
    }
    assert_eq!(last, Some(store.last_event_id().await.unwrap()));
    // Only once, and not for an unknown flow.
    assert!(matches!(
        engine.report(&view.id).await,
        Err(FlowError::Ended)
    ));
    assert!(matches!(
        engine.report("nope").await,
        Err(FlowError::NotFound)
    ));
    run_until(start, 60).await;
    assert_eq!(ciba.polls(), [5], "no poll after the report");
}

#[tokio::test(start_paused = true)]
async fn case_24_a_restart_resumes_polling_without_a_second_message() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let first = Scripted::with([]);
    let engine1 = engine(&store, first.clone());
    let view = engine1.start(&agent("a"), input()).await.unwrap();
    run_until(start, 7).await;
    engine1.shutdown().await;
    assert_eq!(first.polls(), [5]);

    // A flow caught between the store and the provider when the process died.
    let mut stuck = store.flow(&view.id).await.unwrap().unwrap();
    stuck.id = "stuck".into();
    stuck.status = FlowStatus::Starting;
    stuck.auth_req_id = None;
    stuck.auth_req_id_hash = None;
    store.insert_flow(&stuck).await.unwrap();

    let second = Scripted::with([verified()]);
    let engine2 = engine(&store, second.clone());
    assert_eq!(engine2.resume().await.unwrap(), 1);
    run_until(start, 20).await;
    assert_eq!(*second.starts.lock().unwrap(), 0, "nothing is sent again");
    assert_eq!(second.polls(), [10]);
    assert_eq!(status(&engine2, &view.id).await, FlowStatus::Approved);
    assert_eq!(status(&engine2, "stuck").await, FlowStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn subscribers_hear_every_change_of_their_flows() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let engine = engine(&store, Scripted::with([verified()]));
    let mut notices = engine.subscribe();
    let view = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 6).await;
    // Sent, then the approval the tokens bring and the verification.
    let first = notices.recv().await.unwrap();
    let second = notices.recv().await.unwrap();
    let third = notices.recv().await.unwrap();
    assert_eq!(first.agent_sub, "a");
    assert!(first.id < second.id && second.id < third.id);
    let events = store.events_after(0, Some("a"), 10).await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.flow_id == view.id));
    assert!(
        store
            .events_after(0, Some("b"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Starts a flow whose first poll brings tokens while the flow is changed to `status`
/// behind the poller's back; returns the provider, the store and the flow's id after it.
async fn tokens_during(status: FlowStatus) -> (Arc<Scripted>, FakeStore, Engine, String) {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([verified()]);
    *ciba.meddle.lock().unwrap() = Some((store.clone(), status));
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 6).await;
    (ciba, store, engine, view.id)
}

#[tokio::test(start_paused = true)]
async fn tokens_land_even_when_the_flow_changed_during_the_poll() {
    // The customer's decision is recorded while the poll is in flight.
    let (ciba, _, engine, id) = tokens_during(FlowStatus::Pending).await;
    assert_eq!(status(&engine, &id).await, FlowStatus::Approved);
    assert!(ciba.discarded.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn tokens_for_a_flow_cancelled_during_the_poll_are_revoked() {
    let (ciba, store, engine, id) = tokens_during(FlowStatus::Cancelled).await;
    assert_eq!(status(&engine, &id).await, FlowStatus::Cancelled);
    assert_eq!(
        ciba.discarded.lock().unwrap().as_slice(),
        [r#"{"access_token":"secret"}"#]
    );
    let flow = store.flow(&id).await.unwrap().unwrap();
    assert!(flow.tokens.is_none(), "no token is kept for an ended flow");
}

/// Two engines on one store, as two instances on one database: the flow's poller runs where
/// it was started; when that instance dies (no graceful stop, its lease left in place), the
/// other takes the flow over once the lease ends, polls it to the end, and nothing is sent
/// twice.
#[tokio::test(start_paused = true)]
async fn a_dead_instances_flow_is_taken_over_once_its_lease_ends() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let first = Scripted::with([]);
    let one = engine(&store, first.clone());
    let second = Scripted::with([verified()]);
    let two = engine(&store, second.clone());
    assert_eq!(one.resume().await.unwrap(), 0);
    let view = one.start(&agent("a"), input()).await.unwrap();
    assert_eq!(
        two.resume().await.unwrap(),
        0,
        "the first instance holds it"
    );
    run_until(start, 12).await;
    assert_eq!(first.polls(), [5, 10]);
    assert!(second.polls().is_empty(), "one poller across the instances");

    // The first instance dies: its tasks stop, its lease stays.
    one.inner.shutdown.cancel();
    one.inner.tasks.close();
    one.inner.tasks.wait().await;
    let held = store.flow(&view.id).await.unwrap().unwrap();
    assert_eq!(
        held.lease_until,
        T0 + 15_000 + 20_000,
        "next poll plus the grace"
    );

    run_until(start, 60).await;
    assert_eq!(first.polls(), [5, 10], "the dead instance polls no more");
    // The second claims it at its first sweep after the lease ended (35 s), and polls at once.
    assert_eq!(second.polls(), [35]);
    assert_eq!(status(&two, &view.id).await, FlowStatus::Approved);
    assert_eq!(*second.starts.lock().unwrap(), 0, "nothing is sent again");
    let taken = store.flow(&view.id).await.unwrap().unwrap();
    assert_eq!(taken.lease_epoch, 2);
}

/// A poller whose flow was claimed by another instance meanwhile (it stalled past its lease)
/// records nothing: its late answer loses to the lease's new epoch.
#[tokio::test(start_paused = true)]
async fn a_poller_that_lost_its_lease_writes_nothing() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([verified()]);
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    // Before the first poll, another instance takes the flow (as if this one had stalled).
    let mut flow = store.flow(&view.id).await.unwrap().unwrap();
    flow.lease_until = 0;
    assert!(store.update_flow(&flow, flow.version).await.unwrap());
    let claimed = store.claim_flows("other", T0, 20_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    run_until(start, 30).await;
    assert!(
        ciba.polls().is_empty(),
        "the poller saw the new owner and stopped"
    );
    assert_eq!(status(&engine, &view.id).await, FlowStatus::Pending);
}

/// The flow is claimed by another instance while this one's poll is in flight, and the poll
/// brings tokens: the former owner records nothing and revokes them (the new owner's own
/// poll decides the flow).
#[tokio::test(start_paused = true)]
async fn tokens_a_poller_gets_after_losing_its_lease_are_revoked_not_recorded() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Scripted::with([verified()]);
    *ciba.steal.lock().unwrap() = Some(store.clone());
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 30).await;
    assert_eq!(
        ciba.polls(),
        [5],
        "one poll, then the new owner's lease stops this poller"
    );
    assert_eq!(
        *ciba.discarded.lock().unwrap(),
        [r#"{"access_token":"secret"}"#]
    );
    let flow = store.flow(&view.id).await.unwrap().unwrap();
    assert_eq!(
        flow.status,
        FlowStatus::Pending,
        "nothing recorded by the former owner"
    );
    assert_eq!(flow.lease_owner.as_deref(), Some("other"));
    assert_eq!(flow.tokens, None);
}

/// A sole instance (SQLite) that crashed: at its next start the leases left are its own, so it
/// releases them all and polls its flows when they are due, not a lease later.
#[tokio::test(start_paused = true)]
async fn after_a_crash_a_sole_instance_resumes_at_once() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let first = Scripted::with([]);
    let crashed = engine(&store, first.clone());
    let view = crashed.start(&agent("a"), input()).await.unwrap();
    run_until(start, 7).await;
    crashed.inner.shutdown.cancel();
    crashed.inner.tasks.close();
    crashed.inner.tasks.wait().await;

    assert_eq!(store.release_leases(None).await.unwrap(), 1);
    let second = Scripted::with([verified()]);
    let restarted = engine(&store, second.clone());
    assert_eq!(restarted.resume().await.unwrap(), 1);
    run_until(start, 20).await;
    assert_eq!(second.polls(), [10], "due at 10 s, polled at 10 s");
    assert_eq!(status(&restarted, &view.id).await, FlowStatus::Approved);
}

/// Ping mode: no poll before the safety net; the provider's ping with the flow's token has the
/// tokens fetched at once, and is spent by that; a wrong token or a second ping changes nothing.
#[tokio::test(start_paused = true)]
async fn a_ping_fetches_the_tokens_at_once_and_only_its_own_token_counts() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Arc::new(Scripted {
        answers: Mutex::new([verified()].into_iter().collect()),
        ping: true,
        ..Scripted::default()
    });
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    let hash = view.id.as_bytes().to_vec();
    run_until(start, 20).await;
    assert!(
        ciba.polls().is_empty(),
        "ping mode waits for the ping, not the interval"
    );

    let before = store.flow(&view.id).await.unwrap().unwrap();
    assert!(
        !engine.pinged(&hash, |_| false).await.unwrap(),
        "a wrong token"
    );
    assert!(!engine.pinged(b"another request", |_| true).await.unwrap());
    let after = store.flow(&view.id).await.unwrap().unwrap();
    assert_eq!(
        after.version, before.version,
        "a refused ping changes nothing"
    );
    run_until(start, 21).await;
    assert!(ciba.polls().is_empty());

    assert!(
        engine
            .pinged(&hash, |stored| stored == PING_TOKEN_HASH)
            .await
            .unwrap()
    );
    run_until(start, 22).await;
    assert_eq!(ciba.polls(), [21], "asked at once");
    assert_eq!(status(&engine, &view.id).await, FlowStatus::Approved);
    // The token was spent: the same ping again is refused.
    assert!(
        !engine
            .pinged(&hash, |stored| stored == PING_TOKEN_HASH)
            .await
            .unwrap()
    );
}

/// Ping mode with a ping that never comes: the poller still asks, 30 seconds on, and once more
/// a second before the request's 60 seconds are up.
#[tokio::test(start_paused = true)]
async fn a_lost_ping_is_caught_by_the_safety_net() {
    let start = tokio::time::Instant::now();
    let store = FakeStore::new();
    let ciba = Arc::new(Scripted {
        answers: Mutex::new(
            [Polled::Wait(Answer::Pending), verified()]
                .into_iter()
                .collect(),
        ),
        ping: true,
        ..Scripted::default()
    });
    let engine = engine(&store, ciba.clone());
    let view = engine.start(&agent("a"), input()).await.unwrap();
    run_until(start, 65).await;
    assert_eq!(ciba.polls(), [30, 59]);
    assert_eq!(status(&engine, &view.id).await, FlowStatus::Approved);
}
