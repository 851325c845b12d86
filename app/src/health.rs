//! The identity-provider health panel: the first page, and the proof that the whole chain works
//! (browser → server function on the BFF → the provider's `/healthz` over HTTP → back).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the BFF learnt when it asked the CIBA provider's `/healthz`.
///
/// Anyone may ask, so what comes back is cut to the caller: anyone not signed in learns only
/// up or down ([`ProviderStatus::public`]); signed-in agents also get the details. No variant
/// ever holds the provider's address or an error text that could.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProviderStatus {
    /// The provider answered and reports itself healthy.
    Up {
        /// The provider's software version (signed-in agents only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// Time for the round trip from the BFF, in milliseconds (signed-in agents only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<u64>,
    },
    /// The provider answered, but not with a healthy report (signed-in agents only: anyone
    /// else is told [`ProviderStatus::Down`]).
    Degraded {
        /// A plain sentence saying what was wrong.
        detail: String,
        /// Time for the round trip from the BFF, in milliseconds.
        latency_ms: u64,
    },
    /// The provider could not be reached (refused, timed out, no such host) or, to anyone not
    /// signed in, is not healthy.
    Down {
        /// A plain sentence saying what failed (signed-in agents only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl ProviderStatus {
    /// What anyone not signed in is told: up or down, nothing more.
    pub fn public(&self) -> Self {
        match self {
            Self::Up { .. } => Self::Up {
                version: None,
                latency_ms: None,
            },
            Self::Degraded { .. } | Self::Down { .. } => Self::Down { detail: None },
        }
    }
}

/// Asks the BFF to check the identity provider now.
#[server(prefix = "/api", endpoint = "provider-status")]
pub async fn check_provider() -> Result<ProviderStatus, crate::refusal::Refusal> {
    let headers = crate::ssr::headers().await?;
    let backend = crate::ssr::backend()?;
    Ok(backend.provider_status(headers).await)
}

/// The start page: what Countersign is, and whether its identity provider answers.
#[component]
pub fn StatusPage() -> impl IntoView {
    // Bumped by "Check again"; the resource re-runs the server function each time.
    let checks = RwSignal::new(0_u32);
    let status = Resource::new(move || checks.get(), |_| check_provider());

    // Effects only run in the browser, so this turns true once the page has hydrated. The button
    // stays disabled until then: before the wasm arrives it could not do anything.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <main class="page">
            <header class="masthead">
                <h1>"Countersign"</h1>
                <p class="lede">
                    "Know who is on the line: the customer approves on their own phone, "
                    "and your console shows it the moment they do."
                </p>
            </header>
            <section class="panel" aria-labelledby="provider-heading">
                <h2 id="provider-heading">"Identity provider"</h2>
                <div aria-live="polite">
                    <Transition fallback=|| {
                        view! { <p class="status">"Checking the identity provider…"</p> }
                    }>
                        {move || Suspend::new(async move {
                            match status.await {
                                Ok(report) => view! { <ProviderReport report /> }.into_any(),
                                Err(error) => {
                                    view! {
                                        <p class="status status-down" data-state="error">
                                            "The server could not run the check: "
                                            {error.to_string()}
                                        </p>
                                    }
                                        .into_any()
                                }
                            }
                        })}
                    </Transition>
                </div>
                <button
                    type="button"
                    class="button"
                    disabled=move || !hydrated.get()
                    on:click=move |_| checks.update(|n| *n += 1)
                >
                    "Check again"
                </button>
            </section>
        </main>
    }
}

/// One provider health report.
#[component]
fn ProviderReport(report: ProviderStatus) -> impl IntoView {
    match report {
        ProviderStatus::Up {
            version,
            latency_ms,
        } => {
            let facts = (version.is_some() || latency_ms.is_some()).then(|| {
                view! {
                    <dl class="facts">
                        {version
                            .map(|version| {
                                view! {
                                    <dt>"Version"</dt>
                                    <dd data-testid="version">{version}</dd>
                                }
                            })}
                        {latency_ms
                            .map(|ms| {
                                view! {
                                    <dt>"Round trip"</dt>
                                    <dd>{format!("{ms} ms")}</dd>
                                }
                            })}
                    </dl>
                }
            });
            view! {
                <p class="status status-up" data-state="up">
                    "Up"
                </p>
                {facts}
            }
            .into_any()
        }
        ProviderStatus::Degraded { detail, latency_ms } => view! {
            <p class="status status-degraded" data-state="degraded">
                "Answering, but not healthy: "
                {detail}
                {format!(" ({latency_ms} ms)")}
            </p>
        }
        .into_any(),
        ProviderStatus::Down { detail } => view! {
            <p class="status status-down" data-state="down">
                {match detail {
                    Some(detail) => format!("Down: {detail}"),
                    None => "Down".to_owned(),
                }}
            </p>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests;
