//! The audit trail: every security-relevant event is written to the log and kept in the store,
//! where `GET /cis/v1/audit` reads it back for the application's clients.
//!
//! Events carry ids (application, client, user) and a short detail such as a channel or an
//! outcome. They never carry secrets, codes, tokens, links or `auth_req_id`s.

use serde::Serialize;

use crate::{AppState, store::Client};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A backchannel request was started (detail: the channel).
    BackchannelStarted,
    /// Its message could not be delivered, so it was dropped (detail: the channel).
    BackchannelUndelivered,
    /// The customer decided (detail: `approved` or `denied`).
    BackchannelDecided,
    /// A decision was refused: wrong person, or a token not made for this request.
    DecisionRefused,
    /// The client redeemed an approved request for tokens.
    BackchannelRedeemed,
    /// A one-time code was sent (detail: the channel).
    CodeSent,
    /// A one-time code could not be delivered (detail: the channel).
    CodeUndelivered,
    /// A customer signed in with a one-time code.
    CustomerSignedIn,
    /// A wrong one-time code was given.
    CodeRejected,
    /// A customer registered a passkey.
    PasskeyRegistered,
    /// A passkey sign-in was refused (detail: which check: `check`, `user_handle`,
    /// `user_verification`, `unknown_credential`, `counter`).
    PasskeyRefused,
    /// A workforce user signed in with a password.
    WorkforceSignedIn,
    /// A workforce sign-in failed (the user id is set only if the account exists).
    WorkforceSignInFailed,
    /// Tokens were revoked on request.
    TokensRevoked,
    /// An authorization code was used twice; its grant was revoked.
    CodeReplayed,
    /// A spent refresh token was used again; its grant was revoked.
    RefreshReplayed,
    /// A client's CIBA settings changed (detail: [`ciba_settings`], such as
    /// `enabled, ping to bff.example:443`).
    CibaSettingsChanged,
}

impl Kind {
    /// The event's name in the store and the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackchannelStarted => "backchannel_started",
            Self::BackchannelUndelivered => "backchannel_undelivered",
            Self::BackchannelDecided => "backchannel_decided",
            Self::DecisionRefused => "decision_refused",
            Self::BackchannelRedeemed => "backchannel_redeemed",
            Self::CodeSent => "code_sent",
            Self::CodeUndelivered => "code_undelivered",
            Self::CustomerSignedIn => "customer_signed_in",
            Self::CodeRejected => "code_rejected",
            Self::PasskeyRegistered => "passkey_registered",
            Self::PasskeyRefused => "passkey_refused",
            Self::WorkforceSignedIn => "workforce_signed_in",
            Self::WorkforceSignInFailed => "workforce_sign_in_failed",
            Self::TokensRevoked => "tokens_revoked",
            Self::CodeReplayed => "code_replayed",
            Self::RefreshReplayed => "refresh_replayed",
            Self::CibaSettingsChanged => "ciba_settings_changed",
        }
    }
}

/// One event, about a client and perhaps a user.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// What happened.
    pub kind: Kind,
    /// The client involved.
    pub client: &'a Client,
    /// The user involved, if any.
    pub user_id: Option<&'a str>,
    /// A short, safe detail.
    pub detail: Option<&'a str>,
}

/// Writes `event` to the log and the store. A store failure is logged, and the request goes
/// on: the log line is already written.
pub async fn record(state: &AppState, event: Event<'_>) {
    let name = event.kind.as_str();
    tracing::info!(
        event = name,
        app_id = %event.client.app_id,
        client_id = %event.client.id,
        user_id = event.user_id.unwrap_or("-"),
        detail = event.detail.unwrap_or("-"),
        "audit"
    );
    let stored = state
        .store
        .insert_audit(&crate::store::AuditRecord {
            id: 0,
            at: state.clock.now().0,
            event: name.to_owned(),
            app_id: Some(event.client.app_id.clone()),
            client_id: Some(event.client.id.clone()),
            user_id: event.user_id.map(str::to_owned),
            detail: event.detail.map(str::to_owned),
        })
        .await;
    if let Err(error) = stored {
        tracing::error!(%error, event = name, "audit event not stored");
    }
}

/// The detail of a CIBA settings change: whether CIBA is on, and how the client hears of
/// decisions, with the host (never the path or query) that pings go to:
/// `enabled, poll` or `enabled, ping to bff.example:443`.
pub fn ciba_settings(client: &Client) -> String {
    let state = if client.ciba_enabled {
        "enabled"
    } else {
        "disabled"
    };
    let host = client.ping_endpoint().and_then(|endpoint| {
        let url = reqwest::Url::parse(endpoint).ok()?;
        Some(format!(
            "{}:{}",
            url.host_str()?,
            url.port_or_known_default()?
        ))
    });
    match host {
        Some(host) => format!("{state}, ping to {host}"),
        None => format!("{state}, poll"),
    }
}

/// Shorthand for an event without a user or detail.
pub fn about<'a>(kind: Kind, client: &'a Client) -> Event<'a> {
    Event {
        kind,
        client,
        user_id: None,
        detail: None,
    }
}
