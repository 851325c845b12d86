//! CIBA protocol rules (OpenID Connect CIBA Core 1.0, in Mosaic's shape), as plain functions of
//! their inputs and `now`. No HTTP, no database: the handlers feed these and store the results.
//!
//! - [`request`]: validating a backchannel authentication request (CIBA Core §7.1, §13).
//! - [`poll`]: what a token poll answers, and how the request changes (CIBA Core §10.1, §11).

pub mod poll;
pub mod request;
