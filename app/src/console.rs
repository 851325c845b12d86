//! The agent console (`/`): desktop, keyboard first.
//!
//! Signed out, it is a server-rendered page with one "Sign in" link (no JavaScript needed).
//! Signed in, it has four parts:
//! - the header: the agent, their role, the development outbox (demo), "Sign out";
//! - [`form`]: "Verify a customer", which calls [`crate::api::start_verification`];
//! - [`card`]: one live card per active verification (binding code, status, timeline,
//!   countdown, QR code for the link channel, the verified customer);
//! - [`history`]: every verification of the agent (supervisors: everyone's), newest first.
//!
//! The server renders the page with the agent's flows; once the wasm has hydrated it, [`live`]
//! opens the server-sent event stream (`/api/events`) and every event replaces the flow it
//! names, on its card and in the history. Nothing here holds a token, a one-time code or a
//! secret: [`FlowView`] has none.

mod card;
mod form;
mod history;
mod live;
pub mod time;

use leptos::{html, prelude::*};
use leptos_meta::Title;
use leptos_router::{LazyRoute, hooks::use_query_map, lazy_route};
use serde::{Deserialize, Serialize};

use crate::{
    api::{AgentInfo, me, verifications},
    flow::FlowView,
    refusal::Refusal,
};

/// Where "Sign in" goes: the BFF's sign-in, back to the console afterwards.
pub const SIGN_IN_URL: &str = "/auth/login?return_to=/";

/// Where "Sign in" goes for the console at `prefill`'s address: back there afterwards, so a
/// screen-pop link survives the sign-in.
fn sign_in_url(prefill: Option<&form::Prefill>) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    match prefill {
        Some(prefill) => format!(
            "/auth/login?return_to={}",
            utf8_percent_encode(&prefill.path(), NON_ALPHANUMERIC)
        ),
        None => SIGN_IN_URL.to_owned(),
    }
}

/// How many verifications [`verifications`] answers at most at a time.
const HISTORY_PAGE: usize = 50;

/// What the console needs to draw itself: the agent and their latest verifications.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Desk {
    agent: AgentInfo,
    flows: Vec<FlowView>,
}

/// `None` when nobody is signed in.
async fn load_desk() -> Result<Option<Desk>, Refusal> {
    let Some(agent) = me().await? else {
        return Ok(None);
    };
    let flows = verifications(None).await?;
    Ok(Some(Desk { agent, flows }))
}

/// The console as a lazily loaded route: built with `cargo leptos build --split` (as the
/// Makefile always does), the console's code goes into a wasm chunk that only the console
/// fetches, so the customer's approval page downloads none of it.
#[derive(Debug)]
pub struct ConsoleRoute;

#[lazy_route]
impl LazyRoute for ConsoleRoute {
    fn data() -> Self {
        Self
    }

    fn view(this: Self) -> AnyView {
        let ConsoleRoute = this;
        view! { <ConsolePage /> }.into_any()
    }
}

#[component]
pub fn ConsolePage() -> impl IntoView {
    let desk = Resource::new(|| (), |()| load_desk());
    // A screen-pop (`?verify=…&channel=…&ticket=…`): read once, as the page opens.
    let prefill = use_query_map().with_untracked(|query| {
        form::Prefill::from_query(
            query.get("verify"),
            query.get("channel"),
            query.get("ticket"),
        )
    });
    // A link followed from another site (a CRM's screen-pop) arrives without the session
    // cookie, which is `SameSite=Strict`, so the server drew the sign-in. Once in the browser,
    // ask once more: that request is the site's own and carries the cookie.
    Effect::new(move |asked: Option<bool>| {
        if asked == Some(true) {
            return true;
        }
        match desk.get() {
            Some(Ok(None) | Err(Refusal::SignedOut)) => {
                desk.refetch();
                true
            }
            _ => false,
        }
    });
    view! {
        <Title text="Agent console · Countersign" />
        <Suspense fallback=|| {
            view! {
                <main class="page">
                    <p class="loading">"Loading the console…"</p>
                </main>
            }
        }>
            {move || {
                let prefill = prefill.clone();
                Suspend::new(async move {
                match desk.await {
                    Ok(Some(desk)) => view! { <SignedIn desk prefill /> }.into_any(),
                    Ok(None) | Err(Refusal::SignedOut) => {
                        view! { <SignIn ended=false prefill /> }.into_any()
                    }
                    Err(error) => view! { <Unavailable message=error.to_string() /> }.into_any(),
                }
                })
            }}
        </Suspense>
    }
}

/// The sign-in screen: a plain link, so it works before (or without) the wasm.
#[component]
fn SignIn(
    /// Whether a session just ended under the agent's eyes.
    ended: bool,
    /// A screen-pop to come back to after the sign-in.
    prefill: Option<form::Prefill>,
) -> impl IntoView {
    let href = sign_in_url(prefill.as_ref());
    view! {
        <main class="page signin">
            <header class="masthead">
                <h1>"Countersign"</h1>
                <p class="lede">"The agent console: know who is on the line."</p>
            </header>
            <section class="panel" aria-labelledby="signin-heading">
                <h2 id="signin-heading">
                    {if ended { "Your session has ended" } else { "Sign in to continue" }}
                </h2>
                <p>
                    {if ended {
                        "Sign in again to go on verifying customers. "
                    } else {
                        "Verifying customers needs an agent account. "
                    }}
                    "You sign in with your work account at your identity provider."
                </p>
                // rel="external": a full page load, not a client-side route.
                <a class="button button-large" href=href rel="external">
                    "Sign in"
                </a>
            </section>
            <p class="aside">
                <a href="/status">"Service status"</a>
            </p>
        </main>
    }
}

/// The console could not be loaded (sessions or the provider unavailable).
#[component]
fn Unavailable(message: String) -> impl IntoView {
    view! {
        <main class="page">
            <h1>"Countersign"</h1>
            <p class="notice notice-bad" role="alert">
                {message}
            </p>
            <p>
                <a class="button" href="/" rel="external">
                    "Try again"
                </a>
            </p>
        </main>
    }
}

/// One live card: the flow's id and the flow, replaced as events arrive.
#[derive(Clone, Debug)]
struct Card {
    id: String,
    flow: ArcRwSignal<FlowView>,
}

/// Whether the live stream is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Only the browser connects.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum LiveState {
    /// Not yet (the page is loading, or the stream is opening).
    Connecting,
    /// Events arrive as they happen.
    Live,
    /// The stream broke; the browser, or the console, is reconnecting.
    Reconnecting,
}

/// The console's state, shared by its parts. Every field is a handle, so it is `Copy`.
#[derive(Clone, Copy, Debug)]
struct Board {
    /// The signed-in agent.
    agent: StoredValue<AgentInfo>,
    /// The cards, newest first.
    cards: RwSignal<Vec<Card>>,
    /// The history, newest first.
    history: RwSignal<Vec<FlowView>>,
    /// The id to load older verifications from, while there may be more.
    cursor: RwSignal<Option<String>>,
    /// Now, ms since the epoch; ticks every second in the browser (countdowns).
    now: RwSignal<i64>,
    /// Whether the wasm has hydrated the page (buttons work, times are local).
    hydrated: RwSignal<bool>,
    /// Set when a server function or the stream finds the session gone.
    signed_out: RwSignal<bool>,
    /// The event stream's state.
    live: RwSignal<LiveState>,
    /// The identifier input: where focus goes back to.
    identifier_input: NodeRef<html::Input>,
}

/// Whether `incoming` is at least as far along as `known` (a replayed or late event must not
/// take a flow back).
fn supersedes(known: &FlowView, incoming: &FlowView) -> bool {
    let rank = |flow: &FlowView| (flow.status.is_terminal(), flow.timeline.len());
    rank(incoming) >= rank(known)
}

impl Board {
    fn new(agent: AgentInfo, flows: Vec<FlowView>) -> Self {
        let cursor = (flows.len() >= HISTORY_PAGE)
            .then(|| flows.last().map(|flow| flow.id.clone()))
            .flatten();
        let cards = flows
            .iter()
            .filter(|flow| !flow.status.is_terminal() && flow.agent == agent.name)
            .map(|flow| Card {
                id: flow.id.clone(),
                flow: ArcRwSignal::new(flow.clone()),
            })
            .collect();
        Self {
            agent: StoredValue::new(agent),
            cards: RwSignal::new(cards),
            history: RwSignal::new(flows),
            cursor: RwSignal::new(cursor),
            now: RwSignal::new(time::now_ms()),
            hydrated: RwSignal::new(false),
            signed_out: RwSignal::new(false),
            live: RwSignal::new(LiveState::Connecting),
            identifier_input: NodeRef::new(),
        }
    }

    /// Whether the signed-in agent started `flow`.
    fn is_mine(self, flow: &FlowView) -> bool {
        self.agent
            .try_with_value(|agent| agent.name == flow.agent)
            .unwrap_or(false)
    }

    /// Takes in a flow as it now stands: replaces it on its card and in the history. A flow
    /// the console did not know gets a card when it is the agent's and still going, or when
    /// `show` (the agent just started or cancelled it).
    fn absorb(self, flow: FlowView, show: bool) {
        let card = self
            .cards
            .try_with_untracked(|cards| {
                cards
                    .iter()
                    .find(|card| card.id == flow.id)
                    .map(|card| card.flow.clone())
            })
            .flatten();
        if let Some(signal) = card {
            if signal.with_untracked(|known| supersedes(known, &flow)) {
                signal.set(flow.clone());
            }
        } else if show || (!flow.status.is_terminal() && self.is_mine(&flow)) {
            let card = Card {
                id: flow.id.clone(),
                flow: ArcRwSignal::new(flow.clone()),
            };
            self.cards.try_update(|cards| cards.insert(0, card));
        }
        let more = self.cursor.try_get_untracked().flatten().is_some();
        self.history.try_update(|rows| {
            if let Some(row) = rows.iter_mut().find(|row| row.id == flow.id) {
                if supersedes(row, &flow) {
                    *row = flow;
                }
                return;
            }
            // A flow older than every loaded row comes with "Load more" instead, so the
            // cursor stays right.
            let at = rows
                .iter()
                .position(|row| row.created_at <= flow.created_at)
                .unwrap_or(rows.len());
            if at < rows.len() || !more {
                rows.insert(at, flow);
            }
        });
    }

    /// Takes the card of flow `id` away (it stays in the history).
    fn dismiss(self, id: &str) {
        self.cards
            .try_update(|cards| cards.retain(|card| card.id != id));
        self.focus_identifier();
    }

    /// Puts the keyboard focus back on the identifier input.
    fn focus_identifier(self) {
        if let Some(input) = self.identifier_input.get_untracked() {
            let _ = input.focus();
        }
    }

    /// The session is gone: the console gives way to the sign-in screen.
    fn sign_out(self) {
        self.signed_out.try_set(true);
    }
}

/// The console of a signed-in agent.
#[component]
fn SignedIn(desk: Desk, prefill: Option<form::Prefill>) -> impl IntoView {
    let Desk { agent, flows } = desk;
    let board = Board::new(agent, flows);

    // Effects run only in the browser, after hydration.
    Effect::new(move |_| board.hydrated.set(true));
    time::tick(board.now);
    live::follow(board);

    move || {
        let prefill = prefill.clone();
        if board.signed_out.get() {
            view! { <SignIn ended=true prefill /> }.into_any()
        } else {
            view! { <Workspace board prefill /> }.into_any()
        }
    }
}

/// The signed-in console's layout.
#[component]
fn Workspace(board: Board, prefill: Option<form::Prefill>) -> impl IntoView {
    let supervisor = board
        .agent
        .try_with_value(|agent| agent.supervisor)
        .unwrap_or(false);
    view! {
        <AgentBar board />
        <main class="console" id="main">
            <div class="console-grid">
                <form::VerifyForm board prefill />
                <section class="active" aria-labelledby="active-heading">
                    <h2 id="active-heading">"Active verifications"</h2>
                    <div class="cards" aria-live="polite" data-testid="cards">
                        <Show when=move || board.cards.with(Vec::is_empty)>
                            <p class="empty">
                                "Nothing under way. Start a verification and its card appears here."
                            </p>
                        </Show>
                        <For
                            each=move || board.cards.get()
                            key=|card| card.id.clone()
                            children=move |card| {
                                view! { <card::FlowCard flow=card.flow board /> }
                            }
                        />
                    </div>
                </section>
            </div>
            <history::History board supervisor />
        </main>
    }
    .into_any()
}

/// The header: who is signed in, their role, the outbox (demo), "Sign out".
#[component]
fn AgentBar(board: Board) -> impl IntoView {
    let agent = board.agent.get_value();
    let role = if agent.supervisor {
        view! { <span class="badge badge-supervisor">"Supervisor"</span> }.into_any()
    } else {
        view! { <span class="badge">"Agent"</span> }.into_any()
    };
    let outbox = agent.dev_outbox.clone().map(|href| {
        view! {
            <a class="bar-link" href=href target="_blank" rel="noopener noreferrer external">
                "Development outbox"
                <span class="visually-hidden">" (opens in a new tab)"</span>
            </a>
        }
    });
    let live = move || match board.live.get() {
        LiveState::Connecting => ("connecting", "Connecting…"),
        LiveState::Live => ("live", "Live"),
        LiveState::Reconnecting => ("reconnecting", "Reconnecting…"),
    };
    view! {
        <header class="agent-bar">
            <div class="brand">
                <span class="brand-name">"Countersign"</span>
                <h1 class="brand-page">"Agent console"</h1>
            </div>
            <p class="live-state" data-live=move || live().0 title="Live updates">
                <span class="live-dot" aria-hidden="true"></span>
                <span class="visually-hidden">"Live updates: "</span>
                {move || live().1}
            </p>
            <div class="who">
                <span class="agent-name" data-testid="agent-name">
                    {agent.name.clone()}
                </span>
                {role}
                <span class="agent-email">{agent.email.clone()}</span>
            </div>
            {outbox}
            <form class="signout" method="post" action="/auth/logout">
                <button type="submit" class="button button-quiet">
                    "Sign out"
                </button>
            </form>
        </header>
    }
    .into_any()
}
