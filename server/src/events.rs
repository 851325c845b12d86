//! `GET /api/events`: the agent console's live feed, as server-sent events.
//!
//! One stream per signed-in agent ([`AgentSession`]; 401 without). Every frame is one stored
//! event of a flow the agent may see (their own; a supervisor's: everyone's):
//!
//! ```text
//! id: 42
//! event: verified
//! data: {"id":42,"kind":"verified","flow":{…the flow as it stands now…}}
//! ```
//!
//! The stream opens with `retry: 3000`, and a comment line goes out after 15 s without a frame
//! (so proxies keep the connection and a vanished client is noticed). Responses carry
//! `Cache-Control: no-store` and `X-Accel-Buffering: no` (nginx must not hold frames back).
//!
//! # Where it starts
//!
//! - `Last-Event-ID` (sent by `EventSource` when it reconnects) or, on the first connect, the
//!   query `?after=<id>`: everything after that id is replayed from the store, a page at a time,
//!   then the stream goes live. The header wins over the query: a reconnecting `EventSource`
//!   keeps its first URL and adds the header, which is the newer position.
//! - Neither: live from the newest stored event; the console reads the current state itself.
//!   (Passing `?after=` with the newest id the console has seen closes the gap between that read
//!   and the stream.)
//!
//! # Live, exactly once, in order
//!
//! The stored event log is the truth; the engine's broadcast [`Notice`] only says "look again".
//! On a notice for the agent (any notice for a supervisor) newer than the last id sent, the
//! stream reads the store after the last id it sent, so nothing is lost (every event after the
//! cursor is read) or repeated (nothing at or below it is). The notice's own contents are never
//! sent. A receiver that lagged behind the broadcast buffer resyncs from the store the same
//! way, instead of ending. Event ids grow in commit order: SQLite serialises writers, and on
//! PostgreSQL an append takes its id from a one-row counter whose lock it holds until commit.
//!
//! Each frame's `flow` is the flow's current view ([`Engine::view`]), read once per page, so a
//! replay of several events of one flow shows where it stands now. Flow views never hold a
//! token, an ID token or a refresh token. For the `link` channel, [`FlowView::link`] is the
//! provider's link that the console shows as a QR code; in Mosaic's shape it carries the
//! request's `auth_req_id`, which is the console's to show.
//!
//! # Bounded: pulled, not pushed
//!
//! The stream is a pull: it reads the store only when the response body asks for the next
//! frame, that is once hyper has handed the previous one to the socket. There is no queue per
//! subscriber that a producer fills; what one subscriber holds is one page of events
//! ([`PAGE`]) and its broadcast receiver, whose ring buffer is shared and bounded by the
//! engine. A slow consumer therefore never grows memory: it simply reads later, and if its
//! receiver lags it resyncs from the store. This was chosen over a producer task with a bounded
//! channel (dropping subscribers whose channel fills) because it needs no task per subscriber
//! (nothing to leak when a browser goes away: the stream is dropped with the connection), drops
//! no one who is merely slow, and still delivers every event exactly once. A client that stops
//! reading altogether costs its socket until the keep-alive write fails.
//!
//! # Session end
//!
//! The agent's session is read again (without touching it: an open console is not activity)
//! on every notice that would send something, whenever [`SESSION_CHECK`] has passed since the
//! last check (also before sending from a long replay), and when the timer runs out while idle.
//! Signed out, expired or idle: the stream ends before sending anything more, and the
//! browser's reconnect gets 401. A store failure also ends the stream; the browser reconnects
//! with `Last-Event-ID` and loses nothing.
//!
//! # How many
//!
//! An agent has at most [`STREAMS_PER_AGENT`] streams open ([`Seats`]): a new one ends the
//! agent's oldest, whose browser (if it is still there) reconnects and resumes from its last
//! id. A half-open connection from a laptop that went away therefore never locks its agent
//! out, and one agent cannot hold more than a few of the listener's stream seats
//! ([`infra::serve::ServeLimits::max_streams`]).
//!
//! # Shutdown
//!
//! A stream ends on its own only when the agent's session ends or the store fails; nothing in
//! the flows ends it. [`frames`] therefore also takes a `stop` future: the route passes the
//! engine's shutdown or the agent's newer stream taking its seat, whichever comes first. The
//! listener closes open streams when it shuts down, which [`crate::Running::stop`] does first.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use app::{flow::FlowEvent, refusal::Refusal};
use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderName, HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{self, KeepAlive, Sse},
    },
    routing::get,
};
use futures_util::{FutureExt as _, Stream, StreamExt as _, stream};
use serde::Deserialize;
use tokio::{
    sync::{
        Notify,
        broadcast::{self, error::RecvError},
    },
    time::Instant,
};

use crate::{
    AppState,
    flows::engine::{Agent, Engine, Notice},
    session::AgentSession,
    store::{SessionStore, StoreError},
};

/// How long browsers wait before reconnecting (`retry:`).
pub const RETRY: Duration = Duration::from_secs(3);
/// The longest silence before a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The longest time between two reads of the agent's session.
pub const SESSION_CHECK: Duration = Duration::from_secs(30);
/// Events read from the store at once.
pub const PAGE: i64 = 100;
/// Event streams one agent may have open at once; a newer one ends the oldest.
pub const STREAMS_PER_AGENT: usize = 8;

/// One agent's open streams, oldest first: each seat's id and the signal that ends it.
type AgentSeats = VecDeque<(u64, Arc<Notify>)>;

/// The event streams open per agent, at most [`STREAMS_PER_AGENT`] each.
#[derive(Debug, Default)]
pub struct Seats {
    open: Mutex<HashMap<String, AgentSeats>>,
    next: AtomicU64,
}

/// One open stream's seat: given back when dropped; [`Seat::ended`] completes when a newer
/// stream of the same agent took it.
#[derive(Debug)]
pub struct Seat {
    seats: Arc<Seats>,
    agent: String,
    id: u64,
    ended: Arc<Notify>,
}

impl Seats {
    /// A seat for a new stream of `agent` (their `sub`), ending their oldest beyond the limit.
    pub fn take(self: &Arc<Self>, agent: &str) -> Seat {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let ended = Arc::new(Notify::new());
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let streams = open.entry(agent.to_owned()).or_default();
        streams.push_back((id, ended.clone()));
        while streams.len() > STREAMS_PER_AGENT {
            if let Some((_, oldest)) = streams.pop_front() {
                // A stored permit: the oldest ends even if it is not waiting right now.
                oldest.notify_one();
            }
        }
        Seat {
            seats: self.clone(),
            agent: agent.to_owned(),
            id,
            ended,
        }
    }

    /// How many streams `agent` has open.
    pub fn open(&self, agent: &str) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(agent)
            .map_or(0, AgentSeats::len)
    }
}

impl Seat {
    /// Completes when a newer stream of the same agent has taken this seat.
    pub async fn ended(&self) {
        self.ended.notified().await;
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self
            .seats
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(streams) = open.get_mut(&self.agent) {
            streams.retain(|(id, _)| *id != self.id);
            if streams.is_empty() {
                open.remove(&self.agent);
            }
        }
    }
}

/// The route of the event stream.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/events", get(events))
}

/// Whose stream it is and where it starts.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// The agent's session: who they are, and the session re-read while the stream is open.
    pub session: AgentSession,
    /// How long a session may be idle ([`crate::Bff::session_idle`]).
    pub idle: Duration,
    /// Replay everything after this event id; `None`: live from the newest event.
    pub after: Option<i64>,
    /// Where the session is re-read.
    pub sessions: Arc<dyn SessionStore>,
}

/// The frames of one agent's stream: each a stored event of a flow they may see, in id order,
/// once. The stream ends when the session ends, when the store fails, or when `stop`
/// completes.
///
/// It subscribes to the engine's notices, then reads the newest event id, so every event
/// written after this call is sent; `after` beyond that id (a position from a store since reset)
/// counts as none. The store is read again only when the stream is polled.
pub async fn frames(
    engine: Engine,
    subscription: Subscription,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<impl Stream<Item = FlowEvent> + Send + 'static, StoreError> {
    let notices = engine.subscribe();
    let need = engine.generation();
    let newest = engine.store().last_event_id().await?;
    // An id beyond the newest comes from another store (the data folder was reset): live.
    let cursor = subscription
        .after
        .map_or(newest, |after| after.clamp(0, newest));
    let feed = Feed {
        notices,
        engine,
        idle_ms: i64::try_from(subscription.idle.as_millis()).unwrap_or(i64::MAX),
        session: subscription.session,
        sessions: subscription.sessions,
        cursor,
        behind: cursor < newest,
        need,
        queue: VecDeque::new(),
        next_check: Instant::now() + SESSION_CHECK,
        stop: Box::pin(stop),
    };
    Ok(stream::unfold(feed, |mut feed| async move {
        let frame = feed.next().await?;
        Some((frame, feed))
    }))
}

/// The SSE response for `frames`: `retry:` first, keep-alive comments, no caching, no proxy
/// buffering.
pub fn response(frames: impl Stream<Item = FlowEvent> + Send + 'static) -> Response {
    let retry = stream::once(async { sse::Event::default().retry(RETRY) });
    let events = retry.chain(frames.filter_map(|event| async move { to_sse(&event) }));
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Sse::new(events.map(Ok::<_, Infallible>)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    )
        .into_response()
}

/// One frame: `id:`, `event:` (the kind) and the JSON event as `data:`.
pub fn to_sse(event: &FlowEvent) -> Option<sse::Event> {
    match serde_json::to_string(event) {
        Ok(json) => Some(
            sse::Event::default()
                .id(event.id.to_string())
                .event(event.kind.as_str())
                .data(json),
        ),
        Err(error) => {
            tracing::error!(%error, event = event.id, "an event could not be encoded");
            None
        }
    }
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    after: Option<String>,
}

async fn events(
    session: AgentSession,
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    let Ok(after) = start_after(&headers, query.after.as_deref()) else {
        return Refusal::Invalid("The event id is not valid.".to_owned()).into_response();
    };
    let seat = state.bff.streams.take(&session.agent.sub);
    let open = state.bff.metrics.stream_opened();
    let subscription = Subscription {
        session,
        idle: state.bff.session_idle,
        after,
        sessions: state.bff.store.clone(),
    };
    let stopping = state.bff.engine.stopping();
    // The seat, and its count in the metrics, live as long as the stream (the future is
    // dropped with it).
    let stop = async move {
        let _open = open;
        tokio::select! {
            () = stopping => {}
            () = seat.ended() => {}
        }
    };
    match frames(state.bff.engine.clone(), subscription, stop).await {
        Ok(frames) => response(frames),
        Err(error) => {
            tracing::warn!(%error, "an event stream cannot start: the store failed");
            Refusal::Unavailable("Live updates are unavailable right now. Try again.".to_owned())
                .into_response()
        }
    }
}

/// Where to start: `Last-Event-ID`, else `?after=`, else live. An id that is not a number is
/// refused (browsers only send back ids this stream sent); an empty one counts as absent.
fn start_after(headers: &HeaderMap, query: Option<&str>) -> Result<Option<i64>, ()> {
    let header = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().map_err(|_| ())?),
        None => None,
    };
    let present = |id: &&str| !id.trim().is_empty();
    match header
        .filter(present)
        .or(query.filter(present))
        .map(str::trim)
    {
        None => Ok(None),
        Some(id) if id.bytes().all(|b| b.is_ascii_digit()) => id.parse().map(Some).map_err(|_| ()),
        Some(_) => Err(()),
    }
}

/// The state behind [`frames`].
struct Feed {
    engine: Engine,
    session: AgentSession,
    sessions: Arc<dyn SessionStore>,
    idle_ms: i64,
    notices: broadcast::Receiver<Notice>,
    /// The last event id read from the store: everything up to it is queued or sent.
    cursor: i64,
    /// The store may hold events after the cursor.
    behind: bool,
    /// The engine's generation when the stream learnt it was behind: the page it reads must be
    /// at least this new ([`Engine::page_after`]).
    need: u64,
    /// Read, not yet sent: at most one page.
    queue: VecDeque<FlowEvent>,
    next_check: Instant,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// Why the stream ends.
enum End {
    Store(StoreError),
    SignedOut,
}

impl From<StoreError> for End {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Feed {
    async fn next(&mut self) -> Option<FlowEvent> {
        match self.step().await {
            Ok(frame) => frame,
            Err(End::SignedOut) => None,
            Err(End::Store(error)) => {
                tracing::warn!(%error, "an event stream ends: the store failed");
                None
            }
        }
    }

    /// The next frame, `None` at a quiet end.
    async fn step(&mut self) -> Result<Option<FlowEvent>, End> {
        loop {
            if (&mut self.stop).now_or_never().is_some() {
                return Ok(None);
            }
            if Instant::now() >= self.next_check {
                self.check_session().await?;
            }
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            if self.behind {
                self.read_page().await?;
                continue;
            }
            tokio::select! {
                biased;
                () = &mut self.stop => return Ok(None),
                notice = self.notices.recv() => match notice {
                    Ok(notice) => {
                        if notice.is_look_again()
                            || (notice.id > self.cursor && self.sees(&notice.agent_sub))
                        {
                            self.check_session().await?;
                            self.behind(self.engine.generation());
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "an event stream lagged; reading the store");
                        self.check_session().await?;
                        self.behind(self.engine.generation());
                    }
                    // Only if the engine were gone (this stream holds it): end quietly.
                    Err(RecvError::Closed) => return Ok(None),
                },
                () = tokio::time::sleep_until(self.next_check) => {}
            }
        }
    }

    /// The store holds events this stream has not read, announced by generation `need`.
    fn behind(&mut self, need: u64) {
        self.behind = true;
        self.need = self.need.max(need);
    }

    fn agent(&self) -> &Agent {
        &self.session.agent
    }

    fn sees(&self, agent_sub: &str) -> bool {
        self.agent().supervisor || self.agent().sub == agent_sub
    }

    /// Ends the stream unless the session is still live.
    async fn check_session(&mut self) -> Result<(), End> {
        let session = self.sessions.session(&self.session.id_hash).await?;
        self.next_check = Instant::now() + SESSION_CHECK;
        match session {
            Some(session)
                if session.agent_sub == self.agent().sub
                    && session.is_live(self.idle_ms, self.engine.now_ms()) =>
            {
                Ok(())
            }
            _ => Err(End::SignedOut),
        }
    }

    /// Queues the next page of events after the cursor and moves the cursor past it. The page
    /// (its events and their flows' views) is read once for every stream at the same cursor
    /// that sees the same events: a supervisor's, or this agent's.
    async fn read_page(&mut self) -> Result<(), End> {
        let whose = (!self.agent().supervisor).then_some(self.agent().sub.as_str());
        let page = self
            .engine
            .page_after(self.cursor, whose, PAGE, self.need)
            .await?;
        self.behind = page.full;
        // Ids only grow; the cursor passes every event read, sent or skipped.
        self.cursor = page.last_id.max(self.cursor);
        self.queue.extend(page.events.iter().cloned());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
