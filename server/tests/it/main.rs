//! Integration tests of the BFF, each on its own in-process Countersign (see [`kit`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod approve;
mod auth;
mod console;
mod events;
mod headers;
mod health;
mod kit;
mod oidc;
mod serving;
