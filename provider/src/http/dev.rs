//! The development outbox, for people (`GET /dev/outbox`) and tests (`GET /dev/outbox.json`).
//! Only mounted under the development switch `COUNTERSIGN_DEV_OUTBOX=true`, on a loopback address,
//! with no real sender configured ([`crate::config::Config::check`]): it shows every link and code.

use axum::{
    Json,
    extract::State,
    response::{Html, IntoResponse, Response},
};
use infra::html::escape;

use crate::{AppState, error::OAuthError, store::Message};

/// How many messages are shown.
const SHOWN: i64 = 100;

/// The newest messages as JSON: `[{id, channel, to, subject, body, link, created_at}]`.
pub async fn outbox_json(State(state): State<AppState>) -> Result<Json<Vec<Message>>, OAuthError> {
    Ok(Json(state.store.messages(SHOWN).await?))
}

/// The newest messages as a readable page.
pub async fn outbox_html(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let messages = state.store.messages(SHOWN).await?;
    let mut rows = String::new();
    for m in &messages {
        let link = m
            .link
            .as_deref()
            .map(|link| format!(r#"<a href="{0}">{0}</a>"#, escape(link)))
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            m.id,
            escape(&m.channel),
            escape(&m.recipient),
            escape(m.subject.as_deref().unwrap_or("")),
            escape(&m.body),
            link
        ));
    }
    let page = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development outbox</title><style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.4rem;text-align:left;vertical-align:top}}</style></head>
<body><h1>Development outbox</h1><p>Messages the provider would have sent, newest first. Nothing here was delivered.</p>
<table><thead><tr><th>#</th><th>Channel</th><th>To</th><th>Subject</th><th>Text</th><th>Link</th></tr></thead><tbody>
{rows}</tbody></table></body></html>"#
    );
    Ok(Html(page).into_response())
}
