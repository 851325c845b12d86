//! Pages of the event log, each read once for every event stream at the same place.
//!
//! When one event is written, every stream that may see it wakes up at the same cursor (all of
//! a supervisor's and every supervisor's streams, all of one agent's tabs). Each used to read
//! the store and the flows' views on its own; now the first one reads the page, with the view
//! of each of its flows, and the others await and share it.
//!
//! A page may be shared only by the streams it is new enough for. Every notice the engine sends
//! first bumps its generation ([`Engine::generation`]). A stream that wakes up for a notice
//! asks for a page of at least the generation it saw then; a page records the generation read
//! just before its store query started. Every event a notice of that generation or earlier
//! announced was committed before the notice was sent, so before the query began, and event ids
//! grow in commit order (see [`crate::events`]): the page holds it. A page that is too old is
//! read again, never served. A failed read is not kept: whoever waits reads for themselves.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError, atomic::Ordering},
};

use app::flow::{FlowEvent, FlowView};
use tokio::sync::OnceCell;

use super::{Engine, FlowError};
use crate::store::StoreError;

/// Pages kept for streams still on their way to them; older ones are read again if asked for.
const KEPT: usize = 32;

/// One page of the event log after a cursor.
#[derive(Debug)]
pub struct Page {
    /// The events of the page whose flows could be viewed, in id order, each with its flow's
    /// view as it was when the page was read.
    pub events: Vec<FlowEvent>,
    /// The highest event id read (the next cursor), or the cursor if none was.
    pub last_id: i64,
    /// Whether the store returned a whole page: more may follow.
    pub full: bool,
}

#[derive(Debug)]
struct Entry {
    after: i64,
    whose: Option<String>,
    generation: u64,
    page: Arc<OnceCell<Arc<Page>>>,
}

/// The pages being read or recently read.
#[derive(Debug, Default)]
pub(super) struct Pages {
    entries: Mutex<VecDeque<Entry>>,
}

impl Engine {
    /// The count of notices sent so far: a stream asks for pages at least this new.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Counts a notice about to be sent (before it is sent).
    pub(super) fn next_generation(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The page of at most `size` events after `after` (all of them, or `whose`'s only),
    /// read at generation `need` or later: shared with every stream that asks for the same.
    pub async fn page_after(
        &self,
        after: i64,
        whose: Option<&str>,
        size: i64,
        need: u64,
    ) -> Result<Arc<Page>, StoreError> {
        let cell = {
            let mut entries = self
                .inner
                .pages
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let found = entries.iter().find(|entry| {
                entry.after == after && entry.whose.as_deref() == whose && entry.generation >= need
            });
            match found {
                Some(entry) => entry.page.clone(),
                None => {
                    let page = Arc::new(OnceCell::new());
                    if entries.len() >= KEPT {
                        entries.pop_front();
                    }
                    entries.push_back(Entry {
                        after,
                        whose: whose.map(str::to_owned),
                        // Read now, before the query: every notice counted so far announced
                        // an event committed before it starts.
                        generation: self.generation(),
                        page: page.clone(),
                    });
                    page
                }
            }
        };
        let page = cell
            .get_or_try_init(|| self.read_page(after, whose, size))
            .await?;
        Ok(page.clone())
    }

    async fn read_page(
        &self,
        after: i64,
        whose: Option<&str>,
        size: i64,
    ) -> Result<Arc<Page>, StoreError> {
        let read = self.inner.store.events_after(after, whose, size).await?;
        let full = i64::try_from(read.len()).unwrap_or(i64::MAX) >= size;
        let last_id = read.iter().map(|event| event.id).fold(after, i64::max);
        let mut views: HashMap<String, Option<FlowView>> = HashMap::new();
        let mut events = Vec::with_capacity(read.len());
        for event in read {
            let view = match views.get(&event.flow_id) {
                Some(view) => view.clone(),
                None => {
                    let view = match self.view(&event.flow_id).await {
                        Ok(view) => Some(view),
                        Err(FlowError::Store(error)) => return Err(error),
                        Err(FlowError::NotFound | FlowError::Ended | FlowError::NoSession) => None,
                    };
                    views.insert(event.flow_id.clone(), view.clone());
                    view
                }
            };
            if let Some(flow) = view {
                events.push(FlowEvent {
                    id: event.id,
                    kind: event.kind,
                    flow,
                });
            }
        }
        Ok(Arc::new(Page {
            events,
            last_id,
            full,
        }))
    }
}
