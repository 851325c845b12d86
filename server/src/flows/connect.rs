//! The provider connection, discovered on first use and kept: the BFF starts (and shows the
//! provider as down) even when the provider is not up yet, and flows back off until it is.
//!
//! During an outage nobody queues: one discovery attempt at a time runs in the background
//! (everyone who asks meanwhile waits for that one), and its failure is remembered for
//! [`FAILURE_MEMORY`], answered at once to every caller until then. See [`crate::memo`].

use std::{sync::Arc, time::Duration};

use crate::{
    memo::{Keep, Memo},
    metrics::Metrics,
    oidc::{OidcClient, OidcError, ProviderSettings},
};

/// How long a failed discovery is answered without asking the provider again.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// A provider client made on first successful use.
#[derive(Debug)]
pub struct Provider {
    settings: ProviderSettings,
    metrics: Metrics,
    client: Memo<Result<Arc<OidcClient>, OidcError>>,
}

impl Provider {
    /// A provider reached with `settings`.
    pub fn new(settings: ProviderSettings) -> Self {
        Self::observed(settings, Metrics::default())
    }

    /// A provider reached with `settings`, its calls counted in `metrics`.
    pub fn observed(settings: ProviderSettings, metrics: Metrics) -> Self {
        Self {
            settings,
            metrics,
            client: Memo::new(),
        }
    }

    /// The client; discovers the provider first if that has not worked yet, or answers the
    /// last failure if it is less than [`FAILURE_MEMORY`] old.
    pub async fn client(&self) -> Result<Arc<OidcClient>, OidcError> {
        self.client
            .get(
                || connect(self.settings.clone(), self.metrics.clone()),
                |outcome| match outcome {
                    Ok(_) => Keep::Forever,
                    Err(_) => Keep::For(FAILURE_MEMORY),
                },
                || {
                    Err(OidcError::Unavailable(
                        "the connection attempt was cut short".into(),
                    ))
                },
            )
            .await
    }
}

/// One discovery attempt.
async fn connect(
    settings: ProviderSettings,
    metrics: Metrics,
) -> Result<Arc<OidcClient>, OidcError> {
    Ok(Arc::new(
        OidcClient::discover_observed(settings, metrics).await?,
    ))
}
