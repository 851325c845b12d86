//! The customer approval page, `/approve?auth_req_id=…&binding_message=…`: the link the provider
//! sends the customer (its `login_uri`).
//!
//! Mobile-first, and whole without JavaScript: the route renders completely on the server
//! (`SsrMode::Async`), and every step is an [`ActionForm`] posting to a server function. Without
//! the wasm, a post is a plain HTML form post: the server function does the step, keeps the
//! customer's progress on the BFF (behind the `__Host-countersign-approval` cookie) and answers
//! `303 See Other` back to the page, which reads that progress again. With the wasm, the same
//! forms post in the background and the page reloads its state. A GET of the page never changes
//! anything (mail scanners open links).
//!
//! Steps: who asks and the binding code → send a one-time code → enter it → approve or deny.
//! "I did not ask for this" is there at every step and needs no sign-in. The page never holds a
//! token, a code or a secret; the provider's `auth_req_id` appears only in the link itself and in
//! the forms' hidden fields, which post it back (the page cannot work without it before the
//! customer has a session, and it is already in the address bar).
//!
//! [`types`] holds what the page and the BFF exchange, [`api`] the server functions, [`page`]
//! the page.

mod api;
mod page;
mod types;

pub use api::*;
pub use page::ApprovePage;
pub use types::*;

#[cfg(test)]
mod tests;
