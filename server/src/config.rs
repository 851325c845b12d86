//! The BFF's configuration, read from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COUNTERSIGN_ADDR` | `LEPTOS_SITE_ADDR`, else `127.0.0.1:3000` | where the BFF listens |
//! | `COUNTERSIGN_PROVIDER_URL` | unset: start the embedded provider | base URL of an external provider |
//! | `COUNTERSIGN_SITE_ROOT` | `LEPTOS_SITE_ROOT`, else `target/site` | the built CSS, JS and wasm |
//!
//! The embedded provider reads its own variables (`COUNTERSIGN_PROVIDER_ADDR`,
//! `COUNTERSIGN_PROVIDER_ISSUER`, `COUNTERSIGN_DATA_DIR`, and the message senders'
//! `COUNTERSIGN_EMAIL_SENDER`, `COUNTERSIGN_SMS_SENDER`, `COUNTERSIGN_SMTP_*`,
//! `COUNTERSIGN_SMS_WEBHOOK_*`): see [`provider::config`].

use std::{net::SocketAddr, path::PathBuf};

pub use provider::config::ConfigError;

/// The default address of the BFF.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
/// Where `cargo leptos build` puts the site, relative to the workspace root.
pub const DEFAULT_SITE_ROOT: &str = "target/site";

/// Which CIBA provider the BFF talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderMode {
    /// Start the embedded provider in this process, on its own port.
    Embedded(Box<provider::Config>),
    /// Use a provider that runs elsewhere; the value is its issuer base URL.
    External(String),
}

/// Everything the BFF needs to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The socket address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The provider to use.
    pub provider: ProviderMode,
    /// The folder with the built `pkg/` (CSS, JS, wasm) and public assets.
    pub site_root: PathBuf,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if it is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let listen = match set("COUNTERSIGN_ADDR") {
            Some(_) => provider::config::socket_addr(&set, "COUNTERSIGN_ADDR", DEFAULT_ADDR)?,
            None => provider::config::socket_addr(&set, "LEPTOS_SITE_ADDR", DEFAULT_ADDR)?,
        };
        let provider = match set("COUNTERSIGN_PROVIDER_URL") {
            Some(url) => {
                ProviderMode::External(provider::config::issuer("COUNTERSIGN_PROVIDER_URL", &url)?)
            }
            None => ProviderMode::Embedded(Box::new(provider::Config::from_lookup(set)?)),
        };
        let site_root = set("COUNTERSIGN_SITE_ROOT")
            .or_else(|| set("LEPTOS_SITE_ROOT"))
            .unwrap_or_else(|| DEFAULT_SITE_ROOT.to_owned())
            .into();
        Ok(Self {
            listen,
            provider,
            site_root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        })
    }

    #[test]
    fn defaults_start_the_embedded_provider() {
        let config = config(&[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.site_root, PathBuf::from("target/site"));
        let ProviderMode::Embedded(provider) = config.provider else {
            panic!("expected the embedded provider");
        };
        assert_eq!(provider.listen, "127.0.0.1:3001".parse().unwrap());
        assert_eq!(provider.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn own_variables_win_over_cargo_leptos_ones() {
        let config = config(&[
            ("LEPTOS_SITE_ADDR", "127.0.0.1:4000"),
            ("COUNTERSIGN_ADDR", "127.0.0.1:5000"),
            ("LEPTOS_SITE_ROOT", "a"),
            ("COUNTERSIGN_SITE_ROOT", "b"),
        ])
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(config.site_root, PathBuf::from("b"));
        let only_leptos = super::tests::config(&[("LEPTOS_SITE_ADDR", "127.0.0.1:4000")]).unwrap();
        assert_eq!(only_leptos.listen, "127.0.0.1:4000".parse().unwrap());
    }

    #[test]
    fn an_external_provider_replaces_the_embedded_one() {
        let config = config(&[("COUNTERSIGN_PROVIDER_URL", "https://id.example.com/")]).unwrap();
        assert_eq!(
            config.provider,
            ProviderMode::External("https://id.example.com".to_owned())
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let error = config(&[("COUNTERSIGN_ADDR", "3000")]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_ADDR");
        let error = config(&[("COUNTERSIGN_PROVIDER_URL", "id.example.com")]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_URL");
        let error = config(&[("COUNTERSIGN_PROVIDER_ADDR", "nowhere")]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_ADDR");
    }
}
