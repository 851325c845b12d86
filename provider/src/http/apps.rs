//! `PUT` and `GET /cis/v1/applications/{appId}/clients/{clientId}`: a client's CIBA settings
//! (Mosaic's Step 2), with a client access token of the same application.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::HeaderMap,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    audit::{self, Event, Kind},
    ciba::ping,
    error::{ErrorCode, OAuthError},
    store::{CibaChange, Client, DeliveryMode},
    tokens,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    ciba_authorization: CibaSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CibaSettings {
    enabled: bool,
    login_uri: Option<String>,
    /// `poll` or `ping`; absent keeps the current mode (and endpoint).
    backchannel_token_delivery_mode: Option<String>,
    /// Required with `ping`, refused with `poll`.
    backchannel_client_notification_endpoint: Option<String>,
}

impl CibaSettings {
    /// The delivery change asked for, checked.
    fn delivery(
        &self,
        reach: &ping::Reach,
    ) -> Result<Option<(DeliveryMode, Option<&str>)>, OAuthError> {
        let endpoint = self.backchannel_client_notification_endpoint.as_deref();
        let Some(mode) = self.backchannel_token_delivery_mode.as_deref() else {
            return match endpoint {
                None => Ok(None),
                Some(_) => Err(OAuthError::invalid_request(
                    "Send backchannel_token_delivery_mode \"ping\" with a notification endpoint.",
                )),
            };
        };
        match (DeliveryMode::parse(mode), endpoint) {
            (Some(DeliveryMode::Poll), None) => Ok(Some((DeliveryMode::Poll, None))),
            (Some(DeliveryMode::Poll), Some(_)) => Err(OAuthError::invalid_request(
                "A poll client has no notification endpoint; leave it out.",
            )),
            (Some(DeliveryMode::Ping), Some(endpoint)) if reach.may_register(endpoint) => {
                Ok(Some((DeliveryMode::Ping, Some(endpoint))))
            }
            (Some(DeliveryMode::Ping), _) => Err(OAuthError::invalid_request(ping::ENDPOINT_RULE)),
            (None, _) => Err(OAuthError::invalid_request(
                "backchannel_token_delivery_mode must be \"poll\" or \"ping\".",
            )),
        }
    }
}

async fn authorised(state: &AppState, headers: &HeaderMap, app_id: &str) -> Result<(), OAuthError> {
    let token = tokens::bearer(state, headers, state.clock.now()).await?;
    let caller = state.store.client(&token.client_id).await?;
    match caller {
        Some(caller) if token.user_id.is_none() && caller.app_id == app_id => Ok(()),
        _ => Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "This token may not manage that application.",
        )),
    }
}

fn render(client: &Client) -> Json<Value> {
    Json(json!({
        "result": {
            "client_id": client.id,
            "app_id": client.app_id,
            "name": client.name,
            "ciba_authorization": {
                "enabled": client.ciba_enabled,
                "login_uri": client.login_uri,
                "backchannel_token_delivery_mode": client.delivery_mode,
                "backchannel_client_notification_endpoint": client.ping_endpoint(),
            },
        }
    }))
}

/// Reads a client's CIBA settings.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app_id, client_id)): Path<(String, String)>,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        authorised(&state, &headers, &app_id).await?;
        let client = state
            .store
            .client(&client_id)
            .await?
            .filter(|c| c.app_id == app_id);
        client.map(|c| render(&c)).ok_or_else(|| {
            OAuthError::new(ErrorCode::NotFound, "No such client in this application.")
        })
    }
    .await;
    result.map_err(OAuthError::mosaic)
}

/// What a `login_uri` must be, as the refusal says it.
pub(crate) const LOGIN_URI_RULE: &str =
    "login_uri must be an http or https URL without a fragment.";

/// Whether `uri` may be where a client's customer links point: `http` or `https`, a host, no
/// fragment, no white space.
pub(crate) fn login_uri_ok(uri: &str) -> bool {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        !rest.is_empty()
            && !rest.starts_with('/')
            && !rest.contains('#')
            && !rest.chars().any(char::is_whitespace)
    })
}

/// Enables or disables CIBA for a client and sets its `login_uri`.
pub async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app_id, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        authorised(&state, &headers, &app_id).await?;
        let update: Update = serde_json::from_slice(&body).map_err(|_| {
            OAuthError::invalid_request("Send JSON {\"ciba_authorization\": {\"enabled\": true, \"login_uri\": \"https://…\"}}.")
        })?;
        let settings = update.ciba_authorization;
        if settings.login_uri.as_deref().is_some_and(|uri| !login_uri_ok(uri)) {
            return Err(OAuthError::invalid_request(LOGIN_URI_RULE));
        }
        let delivery = settings.delivery(state.pinger.reach())?;
        if settings.enabled && settings.login_uri.is_none() {
            let current = state.store.client(&client_id).await?;
            if current.and_then(|c| c.login_uri).is_none() {
                return Err(OAuthError::invalid_request("Enabling CIBA needs a login_uri."));
            }
        }
        let client = state
            .store
            .set_ciba(&app_id, &client_id, &CibaChange {
                enabled: settings.enabled,
                login_uri: settings.login_uri.as_deref(),
                delivery,
            })
            .await?
            .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "No such client in this application."))?;
        state.clients.forget(&client_id);
        let detail = audit::ciba_settings(&client);
        audit::record(&state, Event { detail: Some(&detail), ..audit::about(Kind::CibaSettingsChanged, &client) }).await;
        Ok(render(&client))
    }
    .await;
    result.map_err(OAuthError::mosaic)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /cis/v1/audit?before=ID&limit=N`: the calling client's application's audit trail,
/// newest first, with a client access token. `before` pages back from an event id.
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, OAuthError> {
    let result = async {
        let caller = tokens::calling_client(&state, &headers).await?;
        let Query(query) = query
            .map_err(|_| OAuthError::invalid_request("before and limit must be whole numbers."))?;
        let limit = query.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(OAuthError::invalid_request(
                "limit must be between 1 and 1000.",
            ));
        }
        let events = state
            .store
            .audit_events(&caller.app_id, query.before, limit)
            .await?;
        Ok(Json(json!({ "result": events })))
    }
    .await;
    result.map_err(OAuthError::mosaic)
}
