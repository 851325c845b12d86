//! Countersign's user interface, shared by the browser and the server.
//!
//! - [`shell`] is the HTML document the server renders around [`App`].
//! - [`console`] is the agent console (`/`); [`qr`] draws its QR codes.
//! - [`approve`] is the customer's approval page (`/approve`), usable without JavaScript.
//! - [`health`] holds the provider health panel (`/status`) and the types it shares with the
//!   server.
//! - [`refusal`] is every refusal of the backend-for-frontend, the server functions' error type.
//! - [`ssr`] (server build only) is the port through which server functions reach the
//!   backend-for-frontend: the `server` crate implements [`ssr::Backend`] and puts it in the
//!   Leptos context, so this crate never depends on server code.
//!
//! The same source compiles twice: with `ssr` into the server binary and with `hydrate` into
//! the wasm bundle loaded by the browser.

pub mod api;
pub mod approve;
pub mod console;
pub mod flow;
pub mod health;
pub mod qr;
pub mod refusal;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    Lazy, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

/// The name cargo-leptos gives the CSS, JS and wasm files under `/pkg`.
pub const OUTPUT_NAME: &str = "countersign";

/// The pages served as HTML only, with no wasm: the customer's approval page, which a phone on
/// a bad network must be able to use at once (it works by plain form posts).
pub const SERVER_ONLY_PATHS: [&str; 1] = ["/approve"];

/// Whether the page being rendered is one of [`SERVER_ONLY_PATHS`].
fn server_only() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .is_some_and(|parts| SERVER_ONLY_PATHS.contains(&parts.uri.path()))
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// The HTML document around the app, rendered on the server. The console hydrates; the
/// approval page loads no wasm at all.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let hydrate = !server_only();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                {hydrate.then(|| view! { <HydrationScripts options /> })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The routed application.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{OUTPUT_NAME}.css") />
        <Title text="Countersign" />
        <Router>
            <Routes fallback=NotFound>
                // Rendered whole before it is sent (not streamed), so that the sign-in link
                // and the console work before the wasm arrives.
                <Route
                    path=StaticSegment("")
                    view={Lazy::<console::ConsoleRoute>::new()}
                    ssr=SsrMode::Async
                />
                <Route path=StaticSegment("status") view=health::StatusPage />
                // The customer's approval page (the provider's `login_uri`): whole on the
                // server, so every step works without the wasm.
                <Route
                    path=StaticSegment("approve")
                    view=approve::ApprovePage
                    ssr=SsrMode::Async
                />
            </Routes>
        </Router>
    }
}

/// Shown for any path the router does not know.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="page">
            <h1>"Page not found"</h1>
            <p>
                "There is nothing at this address. " <a href="/">"Go to the start page"</a> "."
            </p>
        </main>
    }
}
