//! The port between the pages' server functions and the backend-for-frontend.
//!
//! Server functions are declared here, next to the components that call them, but the work they
//! start (calling the provider, reading the store) belongs to the `server` crate. The server puts
//! a [`BackendHandle`] into the Leptos context of every request; server functions fetch it with
//! [`backend`].

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use leptos::prelude::*;

use crate::health::ProviderStatus;

/// A boxed future that can cross threads, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the pages need from the backend-for-frontend.
pub trait Backend: Send + Sync + 'static {
    /// Checks the identity provider now.
    fn provider_status(&self) -> BoxFuture<'_, ProviderStatus>;
}

/// The backend, as it travels in the Leptos context.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);

impl fmt::Debug for BackendHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackendHandle")
    }
}

/// The backend of the current request.
pub fn backend() -> Result<Arc<dyn Backend>, ServerFnError> {
    use_context::<BackendHandle>()
        .map(|handle| handle.0)
        .ok_or_else(|| ServerFnError::new("the backend is missing from the request context"))
}
