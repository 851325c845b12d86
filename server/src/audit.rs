//! The supervisors' audit export: `GET /api/audit.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`, every
//! verification started in those UTC days (both included), newest first, as CSV: who asked, for
//! whom, how, when each step happened, and how it ended.
//!
//! - Supervisors only: signed out is 401, an agent 403, both with a sentence.
//! - Without dates, the last 30 days up to today. A range is at most [`MAX_DAYS`] days and at
//!   most [`MAX_ROWS`] rows; past either, a 400 asks for a narrower range.
//! - A GET that changes nothing, so a plain link or form downloads it; never cached.
//! - Every cell is quoted (RFC 4180; a spreadsheet splitting at `;` must not split a cell), and
//!   a cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@` first, after any spaces,
//!   or a tab or carriage return first) gets a leading `'`: an identifier typed by an agent must
//!   not run in the supervisor's spreadsheet.
//! - One export at a time: another one asked for meanwhile gets a 429.
//! - No token, code or `auth_req_id` is in it: the binding code is, as the agent read it out.

use app::refusal::Refusal;
use app::{console::time, flow::EventKind};
use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    AppState, session,
    store::{Event, Flow, StoreError},
};

/// Exports being made (one at a time).
static EXPORTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The widest range one export covers, in days.
pub const MAX_DAYS: i64 = 366;
/// The most rows one export holds.
pub const MAX_ROWS: usize = 50_000;
/// Days covered when no range is given.
const DEFAULT_DAYS: i64 = 30;
/// Flows read from the store at a time.
const BATCH: i64 = 500;
const DAY_MS: i64 = 86_400_000;

/// The columns, in order.
const HEADER: [&str; 18] = [
    "flow_id",
    "started_at",
    "agent",
    "agent_id",
    "customer",
    "customer_type",
    "channel",
    "binding_code",
    "status",
    "link_opened_at",
    "signed_in_at",
    "decided_at",
    "verified_at",
    "ended_at",
    "verified_user_id",
    "outcome",
    "customer_session_ended_at",
    "ticket",
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/audit.csv", get(export))
}

async fn export(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let bff = &state.bff;
    let session = match session::from_headers(bff, &headers).await {
        Ok(session) => session,
        Err(Refusal::SignedOut) => {
            return plain(StatusCode::UNAUTHORIZED, "Sign in to export the audit log.");
        }
        Err(_) => return unavailable(),
    };
    if !session.agent.supervisor {
        return plain(
            StatusCode::FORBIDDEN,
            "Only supervisors can export the audit log.",
        );
    }
    let now = bff.engine.now_ms();
    let range = match Range::of(query.as_deref().unwrap_or(""), now) {
        Ok(range) => range,
        Err(sentence) => return plain(StatusCode::BAD_REQUEST, sentence),
    };
    // The export reads many rows: one at a time, so the pollers keep the store.
    let Ok(_turn) = EXPORTS.try_acquire() else {
        let mut response = plain(
            StatusCode::TOO_MANY_REQUESTS,
            "Another export is being made. Try again in a moment.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };
    let rows = match rows(&state, &range).await {
        Ok(Some(rows)) => rows,
        Ok(None) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "That range holds too many verifications for one file. Choose fewer days.",
            );
        }
        Err(error) => {
            tracing::error!(%error, "the audit export could not read the store");
            return unavailable();
        }
    };
    tracing::info!(
        supervisor = %session.agent.sub,
        from = %time::date(range.from),
        to = %time::date(range.until - DAY_MS),
        rows = rows.len(),
        "audit log exported"
    );
    let mut body = String::with_capacity(256 * (rows.len() + 1));
    line(&mut body, HEADER.iter().map(|cell| (*cell).to_owned()));
    for row in rows {
        line(&mut body, row);
    }
    let filename = format!(
        "attachment; filename=\"countersign-audit-{}-to-{}.csv\"",
        time::date(range.from),
        time::date(range.until - DAY_MS)
    );
    let mut response = (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&filename) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The days an export covers: `from` (inclusive) to `until` (exclusive), ms.
#[derive(Debug, PartialEq, Eq)]
struct Range {
    from: i64,
    until: i64,
}

impl Range {
    /// The range a query asks for, or why it cannot be used.
    fn of(query: &str, now_ms: i64) -> Result<Self, &'static str> {
        let mut from = None;
        let mut to = None;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "from" if !value.is_empty() => from = Some(value),
                "to" if !value.is_empty() => to = Some(value),
                _ => {}
            }
        }
        let day = |value: Option<&str>, default: i64| match value {
            Some(value) => time::day_start_ms(value).ok_or("Give dates as YYYY-MM-DD."),
            None => Ok(default),
        };
        let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
        let last = day(to, today)?;
        let first = day(from, last - (DEFAULT_DAYS - 1) * DAY_MS)?;
        if first > last {
            return Err("The first day comes after the last one.");
        }
        if (last - first) / DAY_MS + 1 > MAX_DAYS {
            return Err("Export at most 366 days at a time.");
        }
        Ok(Self {
            from: first,
            until: last + DAY_MS,
        })
    }
}

/// The rows of every flow started in `range`, newest first; `None` past [`MAX_ROWS`].
async fn rows(state: &AppState, range: &Range) -> Result<Option<Vec<Vec<String>>>, StoreError> {
    let store = state.bff.engine.store();
    let mut rows = Vec::new();
    // Paging starts just above the range's end: `(until, "")` sorts before any flow of that ms.
    let mut cursor = crate::store::FlowCursor {
        created_at: range.until,
        id: String::new(),
    };
    loop {
        let batch = store.flows_for(None, Some(&cursor), BATCH).await?;
        let Some(last) = batch.last() else {
            return Ok(Some(rows));
        };
        cursor = last.cursor();
        for flow in &batch {
            if flow.created_at < range.from {
                return Ok(Some(rows));
            }
            if rows.len() == MAX_ROWS {
                return Ok(None);
            }
            let events = store.events_for_flow(&flow.id, 0, 1000).await?;
            rows.push(row(flow, &events));
        }
    }
}

/// One flow as a row of [`HEADER`].
fn row(flow: &Flow, events: &[Event]) -> Vec<String> {
    let first = |kinds: &[EventKind]| {
        events
            .iter()
            .find(|event| kinds.contains(&event.kind))
            .map(|event| time::iso(event.at))
            .unwrap_or_default()
    };
    let at = |ms: Option<i64>| ms.map(time::iso).unwrap_or_default();
    let customer = flow.customer.as_ref().map(|customer| &customer.0);
    vec![
        flow.id.clone(),
        time::iso(flow.created_at),
        flow.agent_name.clone(),
        flow.agent_sub.clone(),
        flow.hint.clone(),
        flow.hint_type.as_str().to_owned(),
        flow.channel.as_str().to_owned(),
        flow.binding_message.clone(),
        flow.status.as_str().to_owned(),
        first(&[EventKind::LinkOpened]),
        first(&[EventKind::SignedIn]),
        at(flow.decided_at),
        first(&[EventKind::Verified]),
        at(flow.ended_at),
        customer
            .map(|customer| customer.user_id.clone())
            .unwrap_or_default(),
        flow.outcome_detail.clone().unwrap_or_default(),
        first(&[EventKind::SessionEnded]),
        flow.ticket.clone().unwrap_or_default(),
    ]
}

/// Appends one CSV line (CRLF-terminated, RFC 4180).
fn line(out: &mut String, cells: impl IntoIterator<Item = String>) {
    for (index, cell) in cells.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&cell_text(&cell));
    }
    out.push_str("\r\n");
}

/// One cell, always quoted (a spreadsheet whose list separator is `;` must not split it), and
/// defused if a spreadsheet would take it for a formula, leading spaces or not.
fn cell_text(cell: &str) -> String {
    let formula = cell
        .trim_start_matches([' ', '\t', '\r', '\n'])
        .starts_with(['=', '+', '-', '@'])
        || cell.starts_with(['\t', '\r']);
    let defused = if formula {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

fn plain(status: StatusCode, sentence: &str) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        sentence.to_owned(),
    )
        .into_response()
}

fn unavailable() -> Response {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "The audit log is unavailable right now. Try again.",
    )
}

#[cfg(test)]
mod tests;
