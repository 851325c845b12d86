//! The seed: applications, clients, customers and agents loaded into an empty store on first
//! start. The embedded default is `seed/demo.toml`; `COUNTERSIGN_PROVIDER_SEED` names another.

use serde::Deserialize;

/// The demo seed shipped with the provider.
pub const DEMO: &str = include_str!("../seed/demo.toml");

/// A whole seed file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// The applications, with everything in them.
    pub applications: Vec<Application>,
}

/// One application.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Its id (`appId` in Mosaic's paths).
    pub id: String,
    /// Its name, shown to customers ("Demo Bank asks you to confirm…").
    pub name: String,
    /// Its OAuth clients.
    #[serde(default)]
    pub clients: Vec<Client>,
    #[serde(default)]
    pub customers: Vec<Customer>,
    /// Its workforce users.
    #[serde(default)]
    pub agents: Vec<Agent>,
}

/// An OAuth client.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// `client_secret`, stored only as a keyed hash.
    pub secret: String,
    /// Redirect URIs for the authorization code flow.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// CIBA settings.
    #[serde(default)]
    pub ciba: Ciba,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A client's CIBA settings (Mosaic's `ciba_authorization`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ciba {
    /// Whether the client may start backchannel requests.
    #[serde(default)]
    pub enabled: bool,
    /// Where the links in messages point.
    pub login_uri: Option<String>,
    /// `poll` (the default) or `ping` (CIBA Core §5).
    pub backchannel_token_delivery_mode: Option<String>,
    /// For `ping`: the one endpoint the client's notifications go to.
    pub backchannel_client_notification_endpoint: Option<String>,
}

impl Ciba {
    /// The delivery mode's stored name (`poll` unless the seed says `ping`; checked when the
    /// seed is read).
    pub fn delivery_mode(&self) -> &str {
        self.backchannel_token_delivery_mode
            .as_deref()
            .unwrap_or("poll")
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// `user_id`, the `sub` claim.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Whether the address was verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Phone number, E.164.
    pub phone: Option<String>,
    /// Whether the number was verified.
    #[serde(default)]
    pub phone_verified: bool,
    /// A disabled account cannot authenticate or be asked to.
    #[serde(default)]
    pub disabled: bool,
}

/// A workforce user (agent or supervisor).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// `user_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Sign-in email.
    pub email: String,
    /// Password, stored only as an argon2id hash.
    pub password: String,
    /// `agent` or `supervisor`.
    pub role: String,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Seed {
    /// Parses a seed file.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks what parsing cannot: each client's delivery mode and notification endpoint.
    pub fn check(&self, reach: &crate::ciba::ping::Reach) -> Result<(), String> {
        for client in self.applications.iter().flat_map(|app| &app.clients) {
            let ciba = &client.ciba;
            let endpoint = ciba.backchannel_client_notification_endpoint.as_deref();
            match (ciba.delivery_mode(), endpoint) {
                ("poll", None) => {}
                ("poll", Some(_)) => {
                    return Err(format!(
                        "client {}: a notification endpoint needs backchannel_token_delivery_mode = \"ping\"",
                        client.id
                    ));
                }
                ("ping", Some(endpoint)) if reach.may_register(endpoint) => {}
                ("ping", _) => {
                    return Err(format!(
                        "client {}: {}",
                        client.id,
                        crate::ciba::ping::ENDPOINT_RULE
                    ));
                }
                (other, _) => {
                    return Err(format!(
                        "client {}: backchannel_token_delivery_mode must be \"poll\" or \"ping\", not {other:?}",
                        client.id
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
