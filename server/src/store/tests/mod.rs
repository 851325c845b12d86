//! The stores' tests: the contract every store keeps ([`contract`]), and the fake that
//! paused-clock tests of other modules use instead ([`fake::FakeStore`]).

mod contract;

pub(crate) use contract::flow;

/// The paused-clock fake; the event stream's integration tests include the same file.
pub(crate) mod fake {
    use crate::store::*;
    include!("fake.rs");
}
