//! The browser side of the console: the server-sent event stream and the clipboard.
//!
//! [`follow`] opens an `EventSource` on `/api/events` (gloo-net's) once the page has hydrated,
//! and one task reads everything it dispatches. Each frame is `event: <kind>` with a
//! [`FlowEvent`](crate::flow::FlowEvent) as its data; the flow it carries replaces the one the
//! console shows. While the connection only drops, the browser reconnects by itself and sends
//! `Last-Event-ID`; the console says "Reconnecting" until it is back. When the server ends the
//! stream for good (an HTTP error), the console asks [`me`](crate::api::me) whether the session
//! is still there: signed out, it shows the sign-in screen; otherwise it opens a new stream with
//! `?after=<last id>` after a growing pause. Every time a stream opens, the console re-reads
//! the latest flows, so nothing that happened while it was away is missed. When the console
//! goes away, its stream is closed and no new one opens.
//!
//! On the server (no `hydrate` feature) these do nothing.

use leptos::{html, prelude::*};

use super::{Board, card::Copied};

/// Follows the event stream for `board` from hydration until the console goes away.
pub(super) fn follow(board: Board) {
    #[cfg(feature = "hydrate")]
    browser::follow(board);
    #[cfg(not(feature = "hydrate"))]
    let _ = board;
}

/// Puts `text` on the clipboard and says so in `copied`; where the clipboard is unavailable
/// (or refuses), selects the text in `field` instead so that Ctrl+C copies it.
pub(super) fn copy_text(text: &str, copied: RwSignal<Copied>, field: NodeRef<html::Input>) {
    #[cfg(feature = "hydrate")]
    browser::copy_text(text, copied, field);
    #[cfg(not(feature = "hydrate"))]
    let _ = (text, copied, field);
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{
        cell::RefCell,
        rc::{Rc, Weak},
        time::Duration,
    };

    use futures_util::{
        StreamExt,
        stream::{SelectAll, select_all},
    };
    use gloo_net::eventsource::{
        State as ReadyState,
        futures::{EventSource, EventSourceSubscription},
    };
    use leptos::{html, prelude::*, task::spawn_local};
    use web_sys::{
        MessageEvent,
        js_sys::Reflect,
        wasm_bindgen::{JsValue, closure::Closure},
    };

    use super::super::{Board, LiveState, card::Copied};
    use crate::refusal::Refusal;
    use crate::{
        api::{me, verifications},
        flow::{EventKind, FlowEvent},
    };

    /// Every event name the stream uses (`event: <kind>`), and `message` for unnamed frames.
    const EVENT_NAMES: [EventKind; 12] = [
        EventKind::Sent,
        EventKind::LinkOpened,
        EventKind::SignedIn,
        EventKind::WrongPerson,
        EventKind::Approved,
        EventKind::Verified,
        EventKind::Denied,
        EventKind::Reported,
        EventKind::Expired,
        EventKind::Cancelled,
        EventKind::Failed,
        EventKind::SessionEnded,
    ];

    /// The stream's own DOM events, read like frames (a subscription takes any event type).
    /// They are plain `Event`s, not `MessageEvent`s: only their type is looked at.
    const OPEN: &str = "open";
    const ERROR: &str = "error";

    /// The longest pause before the console opens a new stream, in seconds.
    const MAX_PAUSE_SECS: u64 = 60;

    #[derive(Default)]
    struct State {
        /// The open stream, held only here: dropping it closes it, and its reader sees it gone.
        source: Option<Rc<EventSource>>,
        /// The id of the last event received.
        last_id: Option<i64>,
        /// Streams that ended in a row without one event or open in between.
        failures: u32,
        /// The console is gone, or signed out: open nothing more.
        stopped: bool,
    }

    type Shared = Rc<RefCell<State>>;

    pub(super) fn follow(board: Board) {
        let shared: Shared = Rc::default();
        // Dropped with the console: a cleanup must be `Send`, a local stored value is.
        let handle = StoredValue::new_local(Rc::clone(&shared));
        Effect::new(move |_| {
            untrack(|| connect(board, &shared));
        });
        on_cleanup(move || {
            let _ = handle.try_with_value(stop);
        });
    }

    /// Ends following: the stream is closed and no new one opens.
    fn stop(shared: &Shared) {
        let source = {
            let Ok(mut state) = shared.try_borrow_mut() else {
                return;
            };
            state.stopped = true;
            state.source.take()
        };
        drop(source);
    }

    fn connect(board: Board, shared: &Shared) {
        let url = {
            let Ok(state) = shared.try_borrow() else {
                return;
            };
            if state.stopped {
                return;
            }
            match state.last_id {
                Some(id) => format!("/api/events?after={id}"),
                None => "/api/events".to_owned(),
            }
        };
        let Ok(mut source) = EventSource::new(&url) else {
            retry_later(board, shared);
            return;
        };
        let names = EVENT_NAMES
            .iter()
            .map(|kind| kind.as_str())
            .chain(["message", OPEN, ERROR]);
        let Ok(subscriptions) = names
            .map(|name| source.subscribe(name))
            .collect::<Result<Vec<_>, _>>()
        else {
            drop(source);
            retry_later(board, shared);
            return;
        };
        let source = Rc::new(source);
        let reader = Rc::downgrade(&source);
        let old = {
            let Ok(mut state) = shared.try_borrow_mut() else {
                return;
            };
            if state.stopped {
                return;
            }
            state.source.replace(source)
        };
        // A stream this one replaces is closed; its reader ends.
        drop(old);
        spawn_local(read(
            board,
            Rc::clone(shared),
            reader,
            select_all(subscriptions),
        ));
    }

    /// Reads `source`'s frames, opens and errors (each kind in its order, the kinds merged as
    /// they are ready) until the stream is closed: for good by the server (then
    /// [`retry_later`]), or by [`stop`] or a newer stream. A flow's frames are newest-wins
    /// ([`Board::absorb`]), so the merge cannot show an older state over a newer one.
    async fn read(
        board: Board,
        shared: Shared,
        source: Weak<EventSource>,
        mut items: SelectAll<EventSourceSubscription>,
    ) {
        while let Some(item) = items.next().await {
            let Some(current) = source.upgrade() else {
                return;
            };
            // Each subscription's own report of an error while not connecting: the `error`
            // item reports the same error.
            let Ok((kind, event)) = item else {
                continue;
            };
            match kind.as_str() {
                OPEN => {
                    if let Ok(mut state) = shared.try_borrow_mut() {
                        state.failures = 0;
                    }
                    board.live.try_set(LiveState::Live);
                    resync(board, &shared);
                }
                ERROR => {
                    // The subscriptions are merged without an order between them: an error
                    // read after the `open` that followed it says nothing of the stream now.
                    if current.state() != ReadyState::Open {
                        board.live.try_set(LiveState::Reconnecting);
                    }
                    // CONNECTING: the browser retries by itself, with Last-Event-ID.
                    if current.state() == ReadyState::Closed {
                        drop(items);
                        let ended = shared.try_borrow_mut().ok().and_then(|mut state| {
                            state.source.take_if(|held| Rc::ptr_eq(held, &current))
                        });
                        drop(ended);
                        drop(current);
                        retry_later(board, &shared);
                        return;
                    }
                }
                _ => absorb(board, &shared, &event),
            }
        }
    }

    /// A frame: the flow it carries, and its id for the next stream's `?after=`.
    fn absorb(board: Board, shared: &Shared, event: &MessageEvent) {
        let Some(data) = event.data().as_string() else {
            return;
        };
        let Ok(event) = serde_json::from_str::<FlowEvent>(&data) else {
            return;
        };
        if let Ok(mut state) = shared.try_borrow_mut() {
            state.last_id = Some(state.last_id.map_or(event.id, |last| last.max(event.id)));
            state.failures = 0;
        }
        board.absorb(event.flow, false);
    }

    /// After a pause that grows with each failure: if the session is still there, a new
    /// stream; if not, the sign-in screen.
    fn retry_later(board: Board, shared: &Shared) {
        let failures = {
            let Ok(mut state) = shared.try_borrow_mut() else {
                return;
            };
            if state.stopped {
                return;
            }
            state.failures = state.failures.saturating_add(1);
            state.failures
        };
        let pause = 2_u64.saturating_pow(failures.min(6)).min(MAX_PAUSE_SECS);
        let shared = Rc::clone(shared);
        set_timeout(
            move || {
                if shared.try_borrow().map_or(true, |state| state.stopped) {
                    return;
                }
                spawn_local(async move {
                    match me().await {
                        Ok(None) | Err(Refusal::SignedOut) => {
                            stop(&shared);
                            board.sign_out();
                        }
                        // Signed in, or the server cannot say: try again.
                        _ => connect(board, &shared),
                    }
                });
            },
            Duration::from_secs(pause),
        );
    }

    /// Re-reads the latest flows: whatever changed while no stream was open. Signed out: the
    /// stream is stopped before the board shows it.
    fn resync(board: Board, shared: &Shared) {
        let shared = Rc::clone(shared);
        spawn_local(async move {
            match verifications(None).await {
                Ok(flows) => {
                    for flow in flows {
                        board.absorb(flow, false);
                    }
                }
                Err(Refusal::SignedOut) => {
                    stop(&shared);
                    board.sign_out();
                }
                Err(_) => {}
            }
        });
    }

    pub(super) fn copy_text(text: &str, copied: RwSignal<Copied>, field: NodeRef<html::Input>) {
        let select = move || {
            if let Some(input) = field.get_untracked() {
                let _ = input.focus();
                input.select();
            }
            copied.try_set(Copied::Select);
        };
        let Some(window) = web_sys::window() else {
            select();
            return;
        };
        let navigator = window.navigator();
        // `navigator.clipboard` is missing outside secure contexts.
        let available = Reflect::get(&navigator, &JsValue::from_str("clipboard"))
            .is_ok_and(|clipboard| !clipboard.is_undefined() && !clipboard.is_null());
        if !available {
            select();
            return;
        }
        let promise = navigator.clipboard().write_text(text);
        let done = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            copied.try_set(Copied::Done);
        });
        let failed = Closure::<dyn FnMut(JsValue)>::new(move |_| select());
        let _ = promise.then2(&done, &failed);
        // Each is called at most once, after this function returns: they must outlive it.
        done.forget();
        failed.forget();
    }
}
