//! Countersign's embedded OpenID Connect CIBA provider.
//!
//! It plays the part Transmit Security Mosaic plays in production, on Mosaic's paths and wire
//! formats, so Countersign runs and is tested with no outside service. The BFF reaches it only
//! over HTTP.
//!
//! - [`config`]: where it listens, its issuer, where its data lives (from the environment).
//! - [`store`]: the SQLite store and its migrations (`migrations/sqlite`).
//! - `http`: the axum router; handlers are thin and call into the modules above.
//! - [`Provider`]: binds, opens the store, and serves until told to stop.

pub mod config;
mod http;
pub mod runtime;
pub mod store;

use std::{future::Future, io, net::SocketAddr};

use tokio::net::TcpListener;

pub use config::Config;
use store::Store;

/// Why the provider could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data folder could not be created.
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        /// The folder that was asked for.
        path: String,
        /// What the file system said.
        source: io::Error,
    },
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
}

/// State shared by every request handler.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) issuer: String,
    pub(crate) store: Store,
}

/// A provider that is bound to its port and has its store open, ready to serve.
#[derive(Debug)]
pub struct Provider {
    listener: TcpListener,
    state: AppState,
}

impl Provider {
    /// Creates the data folder, opens (and migrates) the store, and binds the listening socket.
    ///
    /// With port 0 the system picks a free port; without a configured issuer the issuer is
    /// `http://` plus the bound address.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .map_err(|source| StartError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            })?;
        let store = Store::open(&config.data_dir.join("provider.sqlite")).await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let issuer = config.issuer.unwrap_or_else(|| format!("http://{local}"));
        Ok(Self {
            listener,
            state: AppState { issuer, store },
        })
    }

    /// The address the provider listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The provider's issuer identifier (its base URL).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// Serves requests until `shutdown` completes, then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let Self { listener, state } = self;
        let store = state.store.clone();
        let result = axum::serve(listener, http::router(state))
            .with_graceful_shutdown(shutdown)
            .await;
        store.close().await;
        result
    }
}
