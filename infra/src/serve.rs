//! Serving an axum router on a TCP listener with the limits `axum::serve` lacks. The provider
//! (`provider::Provider::serve`) and the BFF (`server::start`) both serve through [`serve`].
//!
//! `axum::serve` gives hyper no timer, so a connection that sends its request head one byte a
//! minute, or that stays open between requests, is kept forever, and enough of them exhaust the
//! process's file descriptors. Here every connection is always in one of three phases, each with
//! its own bound ([`ServeLimits`]):
//!
//! - **head**: from the accept, or from the first byte after an idle pause, until the request
//!   head is complete: at most [`ServeLimits::header_timeout`];
//! - **busy**: from the head to the end of the response body. The handler has
//!   [`ServeLimits::request_timeout`] to answer (then the client gets 503 with a sentence) and
//!   the whole exchange ends at most [`ServeLimits::header_timeout`] later (a client that does
//!   not read its answer is cut). An event stream (`Content-Type: text/event-stream`) has no
//!   overall bound once its head is sent, but it must send something (an event or a keep-alive
//!   comment) at least every [`ServeLimits::idle_timeout`], or it is cut as idle;
//! - **idle**: between a response and the next request's first byte: at most
//!   [`ServeLimits::idle_timeout`] (hyper's HTTP/1 has no idle timeout of its own).
//!
//! A connection over its bound is closed. At most [`ServeLimits::max_connections`] connections
//! are open at once: when they are, no more are accepted (new ones wait in the kernel's backlog)
//! until one closes. Of those, at most [`ServeLimits::max_streams`] may hold an event stream: a
//! stream beyond that is answered 503 with a sentence, so long-lived streams can never take
//! every connection and leave none for pages, sign-ins and the approval page.
//!
//! hyper's own `header_read_timeout` starts when a connection goes idle, so it would close idle
//! connections at the header timeout; it is set to the header and idle timeouts together, as a
//! backstop behind the phases above that never fires first.
//!
//! When the shutdown future completes, no more connections are accepted, idle ones are closed,
//! event streams are closed (a browser's `EventSource` reconnects and resumes where it was),
//! and [`serve`] returns once the requests in flight are answered, as with `axum::serve`'s
//! `with_graceful_shutdown`, or after [`ServeLimits::shutdown_grace`], when the connections
//! still open are dropped: one slow client cannot hold a stop forever.
//!
//! Handlers still get the peer's address as [`ConnectInfo<SocketAddr>`].
//!
//! [`buffer_request`] reads a request body whole with a size limit, for the routers' body-limit
//! middleware (each renders the refusal in its own error shape).

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{ConnectInfo, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// The bounds [`serve`] puts on connections and requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a request head (request line and headers) may take to arrive, from the accept
    /// or from its first byte. Default 10 s.
    pub header_timeout: Duration,
    /// How long a connection may stay open between requests, and an event stream without
    /// sending anything. Default 60 s.
    pub idle_timeout: Duration,
    /// How long a handler may take to answer; then the client gets 503. Event streams are
    /// bounded only until their head is sent. Default 30 s.
    pub request_timeout: Duration,
    /// How many connections may be open at once. Default 2048.
    pub max_connections: usize,
    /// How many of them may hold an event stream at once; more are answered 503. Default 1024.
    pub max_streams: usize,
    /// How long a shutdown waits for the requests in flight before it drops their
    /// connections. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 2048,
            max_streams: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// A listening socket that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address that was asked for.
    pub addr: SocketAddr,
    /// What the operating system said.
    #[source]
    pub source: io::Error,
}

/// A listener bound to `addr`, and the address it got (the port, when `addr` asked for 0).
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), BindError> {
    let bound = async {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((listener, local))
    };
    bound.await.map_err(|source| BindError { addr, source })
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then lets the
/// requests in flight finish and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let cap = u32::try_from(limits.max_connections)
        .unwrap_or(u32::MAX)
        .max(1);
    let slots = Arc::new(Semaphore::new(cap as usize));
    let streams = Arc::new(Semaphore::new(limits.max_streams));
    let stopping = CancellationToken::new();
    let abort = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    drop(permit);
                    on_accept_error(&error).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection(
            stream,
            peer,
            Shared {
                router: router.clone(),
                limits,
                streams: streams.clone(),
            },
            permit,
            Stop {
                graceful: stopping.clone(),
                abort: abort.clone(),
            },
        ));
    }
    drop(listener);
    stopping.cancel();
    // Every connection holds a slot until it closes: all slots back means all closed.
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(cap))
        .await
        .is_err()
    {
        let open = cap as usize - slots.available_permits();
        tracing::warn!(
            open,
            "connections still busy after the shutdown grace period are dropped"
        );
        abort.cancel();
        let _all = slots.acquire_many(cap).await;
    }
    Ok(())
}

/// Errors of one connection are skipped; others (such as running out of file descriptors)
/// are logged and retried after a pause, so the loop does not spin.
async fn on_accept_error(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What every connection of one [`serve`] shares.
#[derive(Clone)]
struct Shared {
    router: Router,
    limits: ServeLimits,
    /// One permit per open event stream.
    streams: Arc<Semaphore>,
}

/// The two steps of a shutdown: finish what is in flight, then drop what is left.
struct Stop {
    graceful: CancellationToken,
    abort: CancellationToken,
}

/// Serves one connection until it ends, overruns its phase's bound, or is shut down.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Shared,
    permit: OwnedSemaphorePermit,
    stop: Stop,
) {
    let limits = shared.limits;
    let watch = Arc::new(Watch::new());
    let io = TokioIo::new(Tracked {
        stream,
        watch: watch.clone(),
    });
    let service = {
        let watch = watch.clone();
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            exchange(shared.clone(), watch.clone(), peer, request)
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout.saturating_add(limits.idle_timeout))
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut shutting_down = false;
    loop {
        // A stream never ends by itself; at a shutdown it is closed and its browser resumes.
        if shutting_down && matches!(watch.phase(), Phase::Stream(_)) {
            break;
        }
        let deadline = watch.deadline(&limits);
        let overrun = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                break;
            }
            () = stop.graceful.cancelled(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            () = stop.abort.cancelled() => break,
            () = watch.changed.notified() => {}
            () = overrun => {
                if watch.deadline(&limits).is_some_and(|at| at <= Instant::now()) {
                    tracing::debug!(%peer, phase = watch.phase().name(), "connection closed: too slow");
                    break;
                }
            }
        }
    }
    drop(permit);
}

/// One request: the handler within the time limit, the peer's address for it, and the phase.
async fn exchange(
    shared: Shared,
    watch: Arc<Watch>,
    peer: SocketAddr,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<Response<Exchange>, Infallible> {
    let Shared {
        router,
        limits,
        streams,
    } = shared;
    let started = Instant::now();
    watch.set(Phase::Busy(started.checked_add(
        limits.request_timeout.saturating_add(limits.header_timeout),
    )));
    let guard = Busy(watch.clone());
    let mut request = request.map(Body::new);
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = match tokio::time::timeout(limits.request_timeout, router.oneshot(request)).await
    {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_elapsed) => too_slow(limits.request_timeout),
    };
    let mut seat = None;
    let response = if is_event_stream(response.headers()) {
        match streams.try_acquire_owned() {
            Ok(permit) => {
                seat = Some(permit);
                watch.set(Phase::Stream(Instant::now()));
                response
            }
            // Dropping the response ends the handler's stream.
            Err(_full) => too_many_streams(),
        }
    } else {
        response
    };
    Ok(response.map(|body| Exchange {
        body,
        stream: seat,
        busy: guard,
    }))
}

/// The answer to an event stream beyond [`ServeLimits::max_streams`].
fn too_many_streams() -> Response {
    let mut response = unavailable(
        "Too many live streams are open on this server right now. Try again in a minute.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}

/// The answer to a request its handler did not answer in time.
fn too_slow(limit: Duration) -> Response {
    unavailable(&format!(
        "The request took longer than {} seconds and was stopped. Try again.",
        limit.as_secs_f64()
    ))
}

/// A 503 in the shape both sides' clients read: OAuth's error fields and the BFF's `message`.
fn unavailable(sentence: &str) -> Response {
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": sentence,
        "message": [sentence],
        "error_code": StatusCode::SERVICE_UNAVAILABLE.as_u16(),
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// Where a connection stands.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for a request head since then.
    Head(Instant),
    /// Answering a request; the exchange must end by then.
    Busy(Option<Instant>),
    /// Sending an event stream, whose last frame went out then.
    Stream(Instant),
    /// Between requests since then.
    Idle(Instant),
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Self::Head(_) => "head",
            Self::Busy(_) => "busy",
            Self::Stream(_) => "stream",
            Self::Idle(_) => "idle",
        }
    }
}

/// A connection's phase, shared by its reader, its requests and its watchdog.
#[derive(Debug)]
struct Watch {
    phase: Mutex<Phase>,
    /// Woken when the phase changes, so the watchdog takes the new deadline.
    changed: Notify,
}

impl Watch {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection starts a request head.
    fn bytes_read(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A stream sent a frame: its quiet period starts again.
    fn frame_sent(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Stream(_) = *phase {
            *phase = Phase::Stream(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// When the current phase is over its bound.
    fn deadline(&self, limits: &ServeLimits) -> Option<Instant> {
        match self.phase() {
            Phase::Head(since) => since.checked_add(limits.header_timeout),
            Phase::Busy(until) => until,
            Phase::Stream(since) => since.checked_add(limits.idle_timeout),
            Phase::Idle(since) => since.checked_add(limits.idle_timeout),
        }
    }
}

/// Ends the busy phase when dropped: with the response body (hyper drops it once sent), or
/// with the request if the connection goes first.
#[derive(Debug)]
struct Busy(Arc<Watch>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.set(Phase::Idle(Instant::now()));
    }
}

/// A response body that keeps its connection busy until it is dropped. An event stream's
/// also holds its seat among [`ServeLimits::max_streams`] and marks each frame it sends.
#[derive(Debug)]
struct Exchange {
    body: Body,
    stream: Option<OwnedSemaphorePermit>,
    busy: Busy,
}

impl HttpBody for Exchange {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if self.stream.is_some() && matches!(polled, Poll::Ready(Some(Ok(_)))) {
            self.busy.0.frame_sent();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling the watch when bytes arrive.
#[derive(Debug)]
struct Tracked {
    stream: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Why [`buffer_request`] refused a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// It is (or says it is) longer than the limit: answer 413.
    TooLarge,
    /// It could not be read (the client went away, or sent a malformed chunk): answer 400.
    Unreadable,
}

/// Reads `request`'s body whole, refusing it (before reading anything, if `Content-Length`
/// says so) when it is longer than `max` bytes, and gives the request back with the body in
/// memory.
pub async fn buffer_request(request: Request, max: usize) -> Result<Request, BodyError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let (parts, mut body) = request.into_parts();
    let mut read: Vec<u8> = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| BodyError::Unreadable)?;
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > max {
                return Err(BodyError::TooLarge);
            }
            read.extend_from_slice(&data);
        }
    }
    Ok(Request::from_parts(parts, Body::from(read)))
}
