//! The provider connection, discovered on first use and kept: the BFF starts (and shows the
//! provider as down) even when the provider is not up yet, and flows back off until it is.

use tokio::sync::OnceCell;

use std::sync::Arc;

use crate::oidc::{OidcClient, OidcError, ProviderSettings};

/// A provider client made on first successful use.
#[derive(Debug)]
pub struct Provider {
    settings: ProviderSettings,
    /// Where CIBA links must point, set through the management API once connected (the
    /// embedded provider only: its demo registration names a fixed port).
    login_uri: Option<(String, String)>,
    client: OnceCell<Arc<OidcClient>>,
}

impl Provider {
    /// A provider reached with `settings`; `login_uri` is `(app_id, uri)` to register.
    pub fn new(settings: ProviderSettings, login_uri: Option<(String, String)>) -> Self {
        Self {
            settings,
            login_uri,
            client: OnceCell::new(),
        }
    }

    /// The client, discovering the provider first if that has not worked yet.
    pub async fn client(&self) -> Result<Arc<OidcClient>, OidcError> {
        self.client
            .get_or_try_init(|| async {
                let client = OidcClient::discover(self.settings.clone()).await?;
                if let Some((app_id, uri)) = &self.login_uri {
                    client.set_login_uri(app_id, uri).await?;
                    tracing::info!(login_uri = %uri, "customer links point to this BFF");
                }
                Ok(Arc::new(client))
            })
            .await
            .cloned()
    }
}
