//! The identity-provider health panel: the first page, and the proof that the whole chain works
//! (browser → server function on the BFF → the provider's `/healthz` over HTTP → back).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the BFF learnt when it asked the CIBA provider's `/healthz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProviderStatus {
    /// The provider answered and reports itself healthy.
    Up {
        /// The provider's issuer identifier, as it reports it.
        issuer: String,
        /// The provider's software version.
        version: String,
        /// Time for the round trip from the BFF, in milliseconds.
        latency_ms: u64,
    },
    /// The provider answered, but not with a healthy report.
    Degraded {
        /// A plain sentence saying what was wrong.
        detail: String,
        /// Time for the round trip from the BFF, in milliseconds.
        latency_ms: u64,
    },
    /// The provider could not be reached (refused, timed out, no such host).
    Down {
        /// A plain sentence saying what failed.
        detail: String,
    },
}

/// Asks the BFF to check the identity provider now.
#[server(prefix = "/api", endpoint = "provider-status")]
pub async fn check_provider() -> Result<ProviderStatus, ServerFnError> {
    let backend = crate::ssr::backend()?;
    Ok(backend.provider_status().await)
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
            issuer,
            version,
            latency_ms,
        } => view! {
            <p class="status status-up" data-state="up">
                "Up"
            </p>
            <dl class="facts">
                <dt>"Issuer"</dt>
                <dd data-testid="issuer">{issuer}</dd>
                <dt>"Version"</dt>
                <dd>{version}</dd>
                <dt>"Round trip"</dt>
                <dd>{format!("{latency_ms} ms")}</dd>
            </dl>
        }
        .into_any(),
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
                "Unreachable: "
                {detail}
            </p>
        }
        .into_any(),
    }
}
