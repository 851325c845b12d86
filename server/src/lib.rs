//! Countersign's backend-for-frontend (BFF).
//!
//! It renders the Leptos pages, answers their server functions, and is the only part that talks
//! to the CIBA provider (over HTTP, as it would to Mosaic). Tokens and the client secret stay
//! here; browsers only ever see what the pages show.
//!
//! - [`config`]: the environment variables and what they mean.
//! - [`provider_client`]: the HTTP client for the provider, with timeouts on every call.
//! - [`router`]: the axum application, shared by the binary and the tests.
//! - [`start`]: binds the BFF (and, by default, the embedded provider) and returns a [`Running`]
//!   handle that stops both.

pub mod approve;
pub mod audit;
pub mod auth;
mod backend;
pub mod config;
pub mod console;
pub mod csrf;
pub mod events;
pub mod flows;
pub mod limits;
pub mod memo;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod provider_client;
pub mod refusals;
mod router;
pub mod sealed;
pub mod security;
pub mod session;
mod start;
pub mod store;

pub use backend::Bff;
pub use config::{Config, ProviderMode};
pub use router::{AppState, MAX_BODY, router};
pub use start::{Running, StartError, start};
