//! The approval page's server functions: load the page, and one per step.

use leptos::prelude::*;

use super::ApprovalView;
#[cfg(feature = "ssr")]
use super::{ApprovalLink, ApprovalStep};
use crate::refusal::Refusal;

/// The approval page as the request's customer sees it. Changes nothing.
#[server(prefix = "/api", endpoint = "approval")]
pub async fn load_approval(
    auth_req_id: String,
    binding_message: Option<String>,
) -> Result<ApprovalView, Refusal> {
    let parts = server::parts()?;
    server::no_store();
    crate::ssr::backend()?
        .approval(parts, ApprovalLink::new(auth_req_id, binding_message))
        .await
}

/// Sends the customer a one-time code.
#[server(prefix = "/api", endpoint = "approval-send-code")]
pub async fn send_approval_code(
    auth_req_id: String,
    binding_message: Option<String>,
    identifier: Option<String>,
) -> Result<(), Refusal> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::SendCode { identifier },
    )
    .await
}

/// Checks the customer's one-time code and signs them in.
#[server(prefix = "/api", endpoint = "approval-verify-code")]
pub async fn verify_approval_code(
    auth_req_id: String,
    binding_message: Option<String>,
    code: String,
) -> Result<(), Refusal> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::VerifyCode { code },
    )
    .await
}

/// Records the signed-in customer's decision (`decision` is `approve` or `deny`).
#[server(prefix = "/api", endpoint = "approval-decide")]
pub async fn decide_approval(
    auth_req_id: String,
    binding_message: Option<String>,
    decision: String,
) -> Result<(), Refusal> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::Decide {
            approve: decision == "approve",
        },
    )
    .await
}

/// "I did not ask for this": stops the request.
#[server(prefix = "/api", endpoint = "approval-report")]
pub async fn report_approval(
    auth_req_id: String,
    binding_message: Option<String>,
) -> Result<(), Refusal> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::Report,
    )
    .await
}

/// Begins the passkey ceremony the page offers: a sign-in, or (signed in with a code) adding
/// one. Answers the argument of `navigator.credentials.get` or `.create` as JSON text; the
/// provider's handle of the ceremony stays on the BFF. For `/passkey.js`.
#[server(prefix = "/api", endpoint = "approval-passkey-options")]
pub async fn approval_passkey_options(
    auth_req_id: String,
    binding_message: Option<String>,
) -> Result<String, Refusal> {
    let parts = server::parts()?;
    server::no_store();
    let (options, cookies) = crate::ssr::backend()?
        .approval_passkey_options(parts, ApprovalLink::new(auth_req_id, binding_message))
        .await?;
    server::set_cookies(cookies)?;
    Ok(options)
}

/// Finishes the passkey ceremony with the credential the browser made (`/passkey.js` posts it
/// as a form).
#[server(prefix = "/api", endpoint = "approval-passkey")]
pub async fn approval_passkey(
    auth_req_id: String,
    binding_message: Option<String>,
    credential: String,
) -> Result<(), Refusal> {
    server::step(
        ApprovalLink::new(auth_req_id, binding_message),
        ApprovalStep::Passkey { credential },
    )
    .await
}

/// What the server functions share: the request, the cookie, the redirect back.
#[cfg(feature = "ssr")]
pub(super) mod server {
    use http::{HeaderValue, StatusCode, header, request::Parts};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    use super::{ApprovalLink, ApprovalStep, Refusal};

    /// The request being answered.
    pub fn parts() -> Result<Parts, Refusal> {
        use_context::<Parts>().ok_or(Refusal::Failed)
    }

    /// Marks the response as not to be stored by any cache.
    pub fn no_store() {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }

    /// Sets the cookies the BFF gives.
    pub fn set_cookies(cookies: Vec<cookie::Cookie<'static>>) -> Result<(), Refusal> {
        let Some(response) = use_context::<ResponseOptions>() else {
            return Ok(());
        };
        for cookie in cookies {
            let value = HeaderValue::from_str(&cookie.to_string()).map_err(|_| Refusal::Failed)?;
            response.append_header(header::SET_COOKIE, value);
        }
        Ok(())
    }

    /// Does `step` on the BFF, sets the cookies it gives, and, for a plain form post
    /// (no wasm: the browser asked for HTML), answers `303 See Other` back to the page, which
    /// then shows where the customer stands. Outcomes are kept on the BFF, so this answers
    /// `Ok` for them too; only a failure of the BFF itself is an error.
    pub async fn step(link: ApprovalLink, step: ApprovalStep) -> Result<(), Refusal> {
        let parts = parts()?;
        let plain_form = parts
            .headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("text/html"));
        let back = link.page_url();
        no_store();
        let cookies = crate::ssr::backend()?
            .approval_step(parts, link, step)
            .await?;
        set_cookies(cookies)?;
        let response = use_context::<ResponseOptions>();
        if plain_form && let Some(response) = &response {
            let location = HeaderValue::from_str(&back).map_err(|_| Refusal::Failed)?;
            // Set here, so leptos_axum does not send the browser to the `Referer` instead.
            response.insert_header(header::LOCATION, location);
            response.set_status(StatusCode::SEE_OTHER);
        }
        Ok(())
    }
}
