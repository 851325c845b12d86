//! The provider's configuration, read from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COUNTERSIGN_PROVIDER_ADDR` | `127.0.0.1:3001` | where the provider listens |
//! | `COUNTERSIGN_PROVIDER_ISSUER` | `http://` + the bound address | its issuer identifier (public base URL) |
//! | `COUNTERSIGN_DATA_DIR` | `./data` | folder of the SQLite files, created on first start |
//! | `COUNTERSIGN_PROVIDER_SEED` | the demo seed | TOML file loaded into an empty store |

use std::{net::SocketAddr, path::PathBuf};

/// Where the provider listens and keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The socket address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The issuer identifier; `None` derives it from the bound address.
    pub issuer: Option<String>,
    /// The folder holding `provider.sqlite` and `provider.key`.
    pub data_dir: PathBuf,
    /// The seed loaded into an empty store; `None` loads the demo seed.
    pub seed_file: Option<PathBuf>,
}

/// The default listening address of the embedded provider.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3001";
/// The default data folder, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "data";

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if it is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let listen = socket_addr(&lookup, "COUNTERSIGN_PROVIDER_ADDR", DEFAULT_ADDR)?;
        let issuer = lookup("COUNTERSIGN_PROVIDER_ISSUER")
            .map(|value| issuer("COUNTERSIGN_PROVIDER_ISSUER", &value))
            .transpose()?;
        let data_dir = lookup("COUNTERSIGN_DATA_DIR")
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned())
            .into();
        let seed_file = lookup("COUNTERSIGN_PROVIDER_SEED")
            .filter(|value| !value.trim().is_empty())
            .map(PathBuf::from);
        Ok(Self {
            listen,
            issuer,
            data_dir,
            seed_file,
        })
    }
}

/// Parses a socket address variable, or returns `default` when it is unset.
pub fn socket_addr(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    let value = lookup(variable).unwrap_or_else(|| default.to_owned());
    value.trim().parse().map_err(|_| ConfigError {
        variable,
        problem: format!("{value:?} is not an address such as 127.0.0.1:3001"),
    })
}

/// Checks an issuer identifier: an `http` or `https` URL with a host and no query or fragment
/// (OpenID Connect Discovery §3). A trailing slash is dropped.
pub fn issuer(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    let problem = |why: &str| ConfigError {
        variable,
        problem: format!("{value:?} {why}"),
    };
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| problem("must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(problem("has no host"));
    }
    if rest.contains(['?', '#']) || rest.chars().any(char::is_whitespace) {
        return Err(problem("must not have a query, a fragment or spaces"));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let config = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3001".parse().unwrap());
        assert_eq!(config.issuer, None);
        assert_eq!(config.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn reads_every_variable() {
        let config = Config::from_lookup(lookup(&[
            ("COUNTERSIGN_PROVIDER_ADDR", "0.0.0.0:4001"),
            ("COUNTERSIGN_PROVIDER_ISSUER", "https://id.example.com/"),
            ("COUNTERSIGN_DATA_DIR", "/var/lib/countersign"),
        ]))
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:4001".parse().unwrap());
        assert_eq!(config.issuer.as_deref(), Some("https://id.example.com"));
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/countersign"));
    }

    #[test]
    fn a_bad_address_names_the_variable() {
        let error =
            Config::from_lookup(lookup(&[("COUNTERSIGN_PROVIDER_ADDR", "localhost")])).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_ADDR");
        assert!(error.to_string().contains("\"localhost\""), "{error}");
    }

    #[test]
    fn issuers_must_be_plain_http_urls() {
        for bad in [
            "id.example.com",
            "ftp://id.example.com",
            "https://",
            "https:///path",
            "https://id.example.com?x=1",
            "https://id.example.com#top",
            "https://id example.com",
        ] {
            assert!(issuer("V", bad).is_err(), "{bad} was accepted");
        }
        assert_eq!(
            issuer("V", "http://127.0.0.1:3001").unwrap(),
            "http://127.0.0.1:3001"
        );
        assert_eq!(
            issuer("V", "https://id.example.com/tenant/").unwrap(),
            "https://id.example.com/tenant"
        );
    }
}
