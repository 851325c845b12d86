//! The browser side of the console: the server-sent event stream and the clipboard.
//!
//! [`follow`] opens `EventSource("/api/events")` once the page has hydrated. Each frame is
//! `event: <kind>` with a [`FlowEvent`](crate::flow::FlowEvent) as its data; the flow it
//! carries replaces the one the console shows. While the connection only drops, the browser
//! reconnects by itself and sends `Last-Event-ID`. When the server ends the stream for good
//! (an HTTP error), the console asks [`me`](crate::api::me) whether the session is still there:
//! signed out, it shows the sign-in screen; otherwise it opens a new stream with
//! `?after=<last id>` after a growing pause. Every time a stream opens, the console re-reads
//! the latest flows, so nothing that happened while it was away is missed.
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
    use std::{cell::RefCell, rc::Rc, time::Duration};

    use leptos::{html, prelude::*, task::spawn_local};
    use web_sys::{
        EventSource, MessageEvent,
        js_sys::Reflect,
        wasm_bindgen::{JsCast, JsValue, closure::Closure},
    };

    use super::super::{Board, LiveState, card::Copied, is_signed_out};
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

    /// The longest pause before the console opens a new stream, in seconds.
    const MAX_PAUSE_SECS: u64 = 60;

    /// An open stream and the callbacks it calls (they live as long as it does).
    struct Stream {
        source: EventSource,
        _on_event: Closure<dyn FnMut(MessageEvent)>,
        _on_open: Closure<dyn FnMut()>,
        _on_error: Closure<dyn FnMut()>,
    }

    impl Drop for Stream {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    #[derive(Default)]
    struct State {
        stream: Option<Stream>,
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
        let stream = {
            let Ok(mut state) = shared.try_borrow_mut() else {
                return;
            };
            state.stopped = true;
            state.stream.take()
        };
        drop(stream);
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
        let Ok(source) = EventSource::new(&url) else {
            retry_later(board, shared);
            return;
        };

        let on_event = {
            let shared = Rc::clone(shared);
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
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
            })
        };
        for kind in EVENT_NAMES {
            let _ = source
                .add_event_listener_with_callback(kind.as_str(), on_event.as_ref().unchecked_ref());
        }
        let _ =
            source.add_event_listener_with_callback("message", on_event.as_ref().unchecked_ref());

        let on_open = {
            let shared = Rc::clone(shared);
            Closure::<dyn FnMut()>::new(move || {
                if let Ok(mut state) = shared.try_borrow_mut() {
                    state.failures = 0;
                }
                board.live.try_set(LiveState::Live);
                resync(board);
            })
        };
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));

        let on_error = {
            let shared = Rc::clone(shared);
            let source = source.clone();
            Closure::<dyn FnMut()>::new(move || {
                board.live.try_set(LiveState::Reconnecting);
                // CONNECTING: the browser retries by itself, with Last-Event-ID.
                if source.ready_state() == EventSource::CLOSED {
                    source.close();
                    retry_later(board, &shared);
                }
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        let old = shared.try_borrow_mut().ok().and_then(|mut state| {
            state.stream.replace(Stream {
                source,
                _on_event: on_event,
                _on_open: on_open,
                _on_error: on_error,
            })
        });
        drop(old);
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
                // The ended stream is dropped here, outside its own callbacks.
                let ended = shared
                    .try_borrow_mut()
                    .ok()
                    .and_then(|mut state| state.stream.take());
                drop(ended);
                if shared.try_borrow().map_or(true, |state| state.stopped) {
                    return;
                }
                spawn_local(async move {
                    match me().await {
                        Ok(None) => {
                            stop(&shared);
                            board.sign_out();
                        }
                        Err(error) if is_signed_out(&error) => {
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

    /// Re-reads the latest flows: whatever changed while no stream was open.
    fn resync(board: Board) {
        spawn_local(async move {
            match verifications(None).await {
                Ok(flows) => {
                    for flow in flows {
                        board.absorb(flow, false);
                    }
                }
                Err(error) if is_signed_out(&error) => board.sign_out(),
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
