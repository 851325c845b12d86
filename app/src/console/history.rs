//! The history: the agent's verifications (supervisors: everyone's, with the agent's name),
//! newest first, 50 at a time with "Load more". Rows follow the live events too. Supervisors
//! also get the audit export (`GET /api/audit.csv`).

use leptos::{prelude::*, task::spawn_local};

use super::{
    Board, HISTORY_PAGE,
    card::{channel_label, status_label},
    time,
};
use crate::{
    api::verifications,
    flow::{FlowStatus, FlowView},
    refusal::Refusal,
};

/// What came of a flow, for its row.
fn result(flow: &FlowView) -> String {
    match (&flow.customer, flow.status) {
        (Some(customer), _) => format!("{} ({})", customer.name, customer.user_id),
        (None, FlowStatus::Starting | FlowStatus::Pending) => String::new(),
        (None, _) => flow.outcome.clone().unwrap_or_default(),
    }
}

/// The history section.
#[component]
pub(super) fn History(board: Board, supervisor: bool) -> impl IntoView {
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let load_more = move |_| {
        let Some(cursor) = board.cursor.get_untracked() else {
            return;
        };
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        error.set(None);
        spawn_local(async move {
            match verifications(Some(cursor)).await {
                Ok(page) => {
                    let next = (page.len() >= HISTORY_PAGE)
                        .then(|| page.last().map(|flow| flow.id.clone()))
                        .flatten();
                    board.history.try_update(|rows| {
                        for flow in page {
                            if !rows.iter().any(|row| row.id == flow.id) {
                                rows.push(flow);
                            }
                        }
                    });
                    board.cursor.try_set(next);
                }
                Err(Refusal::SignedOut) => board.sign_out(),
                Err(failure) => {
                    error.try_set(Some(failure.to_string()));
                }
            }
            loading.try_set(false);
        });
    };

    view! {
        <section class="history" aria-labelledby="history-heading">
            <h2 id="history-heading">
                {if supervisor { "All verifications" } else { "Your verifications" }}
            </h2>
            <Show
                when=move || !board.history.with(Vec::is_empty)
                fallback=|| view! { <p class="empty">"No verifications yet."</p> }
            >
                <table class="history-table" data-testid="history">
                    <thead>
                        <tr>
                            <th scope="col">"Started"</th>
                            <th scope="col">"Customer"</th>
                            {supervisor.then(|| view! { <th scope="col">"Agent"</th> })}
                            <th scope="col">"Channel"</th>
                            <th scope="col">"Code"</th>
                            <th scope="col">"Ticket"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Result"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || board.history.get()
                            key=|flow| (flow.id.clone(), flow.status, flow.timeline.len())
                            children=move |flow| {
                                view! { <Row flow supervisor hydrated=board.hydrated /> }
                            }
                        />
                    </tbody>
                </table>
            </Show>
            <p class="form-error" role="alert">
                {move || error.get()}
            </p>
            <Show when=move || board.cursor.with(Option::is_some)>
                <button
                    type="button"
                    class="button button-quiet"
                    disabled=move || loading.get() || !board.hydrated.get()
                    on:click=load_more
                >
                    {move || if loading.get() { "Loading…" } else { "Load more" }}
                </button>
            </Show>
            {supervisor.then(AuditExport)}
        </section>
    }
    .into_any()
}

/// The supervisors' audit export: a plain GET form, so it works before the wasm arrives and the
/// browser downloads the file itself.
#[component]
fn AuditExport() -> impl IntoView {
    view! {
        <form class="audit-export" method="get" action="/api/audit.csv" data-testid="audit-export">
            <h3>"Audit log"</h3>
            <p class="aside" id="audit-help">
                "Every verification started in these days (UTC), as a CSV file. Leave the dates empty for the last 30 days."
            </p>
            <div class="audit-range">
                <label for="audit-from">"From"</label>
                <input type="date" id="audit-from" name="from" aria-describedby="audit-help" />
                <label for="audit-to">"To"</label>
                <input type="date" id="audit-to" name="to" aria-describedby="audit-help" />
                <button type="submit" class="button button-quiet">"Export CSV"</button>
            </div>
        </form>
    }
}

/// One row of the history.
#[component]
fn Row(flow: FlowView, supervisor: bool, hydrated: RwSignal<bool>) -> impl IntoView {
    let created = flow.created_at;
    let label = status_label(&flow);
    let result = result(&flow);
    view! {
        <tr data-flow=flow.id.clone() data-status=flow.status.as_str()>
            <td class="nowrap">
                <time datetime=time::iso(created)>
                    {move || time::stamp(created, hydrated.get())}
                </time>
            </td>
            <td class="wrap">
                {flow.hint}
                <span class="cell-note">{flow.hint_type.label()}</span>
            </td>
            {supervisor.then(|| view! { <td>{flow.agent.clone()}</td> })}
            <td>{channel_label(flow.channel)}</td>
            <td class="code">{flow.binding_code}</td>
            <td class="wrap" data-testid="history-ticket">{flow.ticket.unwrap_or_default()}</td>
            <td>
                <span class="badge status-badge" data-status=flow.status.as_str()>
                    {label}
                </span>
            </td>
            <td class="wrap">{result}</td>
        </tr>
    }
    .into_any()
}
