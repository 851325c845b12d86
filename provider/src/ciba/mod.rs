//! CIBA (OpenID Connect CIBA Core 1.0, in Mosaic's shape).
//!
//! The protocol rules are plain functions of their inputs and `now`, with no HTTP and no
//! database:
//! - [`request`]: validating a backchannel authentication request (CIBA Core §7.1, §13).
//! - [`poll`]: what a token poll answers, and how the request changes (CIBA Core §10.1, §11).
//! - [`pacing`]: the polls of pending requests paced in memory, so that they write nothing.
//! - [`ping`]: ping mode's token and endpoint rules, and the notifications it sends.
//!
//! The work of the two CIBA endpoints is done by functions of the provider's state, the
//! validated input and `now`, so their handlers only extract, call and map:
//! - [`start`]: a new backchannel request: the customer, the limits, the stored request, its
//!   message (or its undoing) and the audit line.
//! - [`decide`]: the customer's approval or denial, written only onto a pending request.

pub mod decide;
pub mod pacing;
pub mod ping;
pub mod poll;
pub mod request;
pub mod start;
