//! Customer verifications ("flows"): the binding code the agent reads aloud, and when each
//! flow's poller asks the provider again. Protocol rules here are pure functions of `now`.

pub mod binding;
pub mod clock;
pub mod connect;
pub mod engine;
pub mod poll;
pub mod provider;
