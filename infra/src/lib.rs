//! What Countersign's provider and its BFF are both built on, so the two sides read their
//! configuration, count their clients and serve their routers the same way.
//!
//! - [`config`]: [`config::ConfigError`] and the readers of environment values (yes/no,
//!   ranged numbers, secrets given inline or in a file, socket addresses, issuer URLs).
//! - [`runtime`]: logging set-up and the shutdown signal of both binaries.
//! - [`secret`]: [`secret::Secret`] (redacted, compared in constant time), random tokens and
//!   32-byte key files.
//! - [`clock`]: [`clock::Timestamp`] and the system or manual clock protocol code reads `now` from.
//! - [`cookies`]: the values of one cookie in a request's `Cookie` headers.
//! - [`net`]: who a client is (its address, behind a trusted proxy or not) and the block a
//!   per-address limit counts.
//! - [`rate`]: rate-limit rules, their fixed windows and the operator's `MAX/WINDOW` syntax.
//! - [`sqlite`]: opening a database (WAL, busy timeout, pool, migrations) and the rate counters
//!   both stores keep; [`postgres`]: the same on PostgreSQL, for a cluster.
//! - [`html`]: escaping text for the server-rendered pages.
//! - [`retry`]: the bounded compare-and-set loop of every optimistic write.
//! - [`request_id`]: `X-Request-Id` on every request, in its log span and sent on.
//! - [`metrics`]: Prometheus metrics (each service's own registry) and the `/metrics` listener
//!   on an address of its own.
//! - [`serve`]: the HTTP listener with header, idle and request timeouts and connection caps.
//!
//! Nothing here knows about CIBA, flows or customers: it may not depend on `provider` or
//! `server`.

pub mod clock;
pub mod config;
pub mod cookies;
mod counters;
pub mod html;
pub mod metrics;
pub mod net;
pub mod postgres;
pub mod rate;
pub mod request_id;
pub mod retry;
pub mod runtime;
pub mod secret;
pub mod serve;
pub mod sqlite;
