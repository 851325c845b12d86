//! The provider connection, discovered on first use and kept: the BFF starts (and shows the
//! provider as down) even when the provider is not up yet, and flows back off until it is.
//!
//! During an outage nobody queues: one discovery attempt at a time runs in the background
//! (everyone who asks meanwhile waits for that one), and its failure is remembered for
//! [`FAILURE_MEMORY`], answered at once to every caller until then. See [`crate::memo`].

use std::{sync::Arc, time::Duration};

use crate::{
    memo::{Keep, Memo},
    oidc::{OidcClient, OidcError, ProviderSettings},
};

/// How long a failed discovery is answered without asking the provider again.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// A provider client made on first successful use.
#[derive(Debug)]
pub struct Provider {
    settings: ProviderSettings,
    /// Where CIBA links must point, set through the management API once connected (the
    /// embedded provider only: its demo registration names a fixed port).
    login_uri: Option<(String, String)>,
    client: Memo<Result<Arc<OidcClient>, OidcError>>,
}

impl Provider {
    /// A provider reached with `settings`; `login_uri` is `(app_id, uri)` to register.
    pub fn new(settings: ProviderSettings, login_uri: Option<(String, String)>) -> Self {
        Self {
            settings,
            login_uri,
            client: Memo::new(),
        }
    }

    /// The client; discovers the provider first if that has not worked yet, or answers the
    /// last failure if it is less than [`FAILURE_MEMORY`] old.
    pub async fn client(&self) -> Result<Arc<OidcClient>, OidcError> {
        self.client
            .get(
                || connect(self.settings.clone(), self.login_uri.clone()),
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

/// One discovery attempt (and the registration of the links' address).
async fn connect(
    settings: ProviderSettings,
    login_uri: Option<(String, String)>,
) -> Result<Arc<OidcClient>, OidcError> {
    let client = OidcClient::discover(settings).await?;
    if let Some((app_id, uri)) = &login_uri {
        client.set_login_uri(app_id, uri).await?;
        tracing::info!(login_uri = %uri, "customer links point to this BFF");
    }
    Ok(Arc::new(client))
}
