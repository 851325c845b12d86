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
}

#[cfg(test)]
mod tests;
