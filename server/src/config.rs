//! The BFF's configuration, read from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COUNTERSIGN_ADDR` | `LEPTOS_SITE_ADDR`, else `127.0.0.1:3000` | where the BFF listens |
//! | `COUNTERSIGN_METRICS_ADDR` | `127.0.0.1:9464` | where `/metrics` (Prometheus) is served, the embedded provider's included, on a listener of its own; `off` for nowhere |
//! | `COUNTERSIGN_MAX_CONNECTIONS` | `2048` | connections the BFF's listener holds open at once (16 to 1,000,000; each needs a file descriptor) |
//! | `COUNTERSIGN_MAX_STREAMS` | `1024` | of those, the consoles' event streams (at most `COUNTERSIGN_MAX_CONNECTIONS`) |
//! | `COUNTERSIGN_PROVIDER_URL` | unset: start the embedded provider | base URL of an external provider |
//! | `COUNTERSIGN_SITE_ROOT` | `LEPTOS_SITE_ROOT`, else `target/site` | the built CSS, JS and wasm |
//! | `COUNTERSIGN_PROVIDER_PROFILE` | `mosaic` with a URL, else `embedded` | `mosaic` or `standard` for an external provider |
//! | `COUNTERSIGN_CLIENT_ID` | `agent-console` when embedded | the BFF's client id at the provider |
//! | `COUNTERSIGN_CLIENT_SECRET`, `COUNTERSIGN_CLIENT_SECRET_FILE` | the demo secret when embedded | its secret, or a file holding it |
//! | `COUNTERSIGN_APP_ID` | `demo-bank` when embedded | the provider's application id (the embedded provider's links are set for it at start; not needed for `standard`) |
//! | `COUNTERSIGN_PUBLIC_URL` | `http://` + the bound address | the BFF's address as browsers reach it |
//! | `COUNTERSIGN_DATA_DIR` | `./data` | folder of `countersign.sqlite` (and the embedded provider's files) |
//! | `COUNTERSIGN_DATABASE_URL` | unset: SQLite in the data folder | `postgres://…`: the PostgreSQL database every instance of a cluster shares (a remote server needs `?sslmode=verify-full` or `require`; needs `COUNTERSIGN_PROVIDER_URL`) |
//! | `COUNTERSIGN_SEALING_KEY`, `COUNTERSIGN_SEALING_KEY_FILE` | unset: `countersign.key` in the data folder, created at first start | the key that seals what the BFF keeps (64 hex characters); required with `COUNTERSIGN_DATABASE_URL`, the same on every instance |
//! | `COUNTERSIGN_SESSION_IDLE_MINUTES` | `30` | an agent session ends after this long unused |
//! | `COUNTERSIGN_SESSION_MAX_HOURS` | `12` | and after this long in any case |
//! | `COUNTERSIGN_REQUEST_EXPIRY_SECS` | `300` | `requested_expiry` of each verification, 10 to 3600 |
//! | `COUNTERSIGN_PASSKEYS` | `no` | `yes`: the external provider (`mosaic` profile) keeps customers' passkeys for the approval page's origin, so the page offers them; the embedded provider does whenever `COUNTERSIGN_PUBLIC_URL` names a domain (or `COUNTERSIGN_PROVIDER_PASSKEY_ORIGIN` is set) |
//! | `COUNTERSIGN_DISPLAY_NAME` | `Demo Bank` | who asks, as the customer's approval page names it (at most 60 characters) |
//! | `COUNTERSIGN_LOG_FORMAT` | `text` | log lines on stderr: `text` (human-readable) or `json` (one object per line); anything else stops the start. Environment only, not the file: logging starts before the file is read |
//! | `COUNTERSIGN_LIMIT_…` | see [`crate::limits::BffLimits::default`] | each of the BFF's rate limits, as `MAX/WINDOW` (`30/10m`); the names are in [`crate::limits::BffLimits::rules_mut`] |
//! | `COUNTERSIGN_CONFIG` | unset | a TOML file with the same settings; the environment wins |
//!
//! In the file, sections and keys make the variable names: `[provider] profile = "standard"` is
//! `COUNTERSIGN_PROVIDER_PROFILE`, `[client] secret_file = "…"` is
//! `COUNTERSIGN_CLIENT_SECRET_FILE`. A secret itself (`[client] secret`) is refused in the file:
//! secrets come from the environment or a file of their own.
//!
//! The embedded provider reads its own variables (`COUNTERSIGN_PROVIDER_ADDR`,
//! `COUNTERSIGN_PROVIDER_ISSUER`, `COUNTERSIGN_DATA_DIR`, and the message senders'
//! `COUNTERSIGN_EMAIL_SENDER`, `COUNTERSIGN_SMS_SENDER`, `COUNTERSIGN_SMTP_*`,
//! `COUNTERSIGN_SMS_WEBHOOK_*`, and the development switch `COUNTERSIGN_DEV_OUTBOX`, also
//! `[dev] outbox = true` in the file): see [`provider::config`]. The switch serves the
//! development outbox, where every link and code can be read; it is refused beside a real
//! sender.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

use infra::config::{
    DEFAULT_DATA_DIR, issuer, number, optional_socket_addr, secret, socket_addr, yes_or_no,
};
use infra::secret::Secret;
pub use infra::{config::ConfigError, serve::ServeLimits};

use crate::oidc::Profile;

/// The default address of the BFF.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
/// Where `/metrics` is served by default: the loopback only.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";
/// Where `cargo leptos build` puts the site, relative to the workspace root.
pub const DEFAULT_SITE_ROOT: &str = "target/site";

/// Which CIBA provider the BFF talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderMode {
    /// Start the embedded provider in this process, on its own port.
    Embedded(Box<provider::Config>),
    /// Use a provider that runs elsewhere.
    External {
        /// `mosaic` or `standard`.
        profile: Profile,
        /// Its issuer (for Mosaic, the API base URL).
        url: String,
    },
}

/// The BFF's registration at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// `client_secret` (redacted in `Debug`).
    pub secret: Secret,
    /// The provider's application id: the embedded provider sets its client's links under it
    /// at start (empty for a standard provider, which has none).
    pub app_id: String,
}

/// Everything the BFF needs to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The socket address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where `/metrics` is served, on a listener of its own; `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
    /// The provider to use.
    pub provider: ProviderMode,
    /// The folder with the built `pkg/` (CSS, JS, wasm) and public assets.
    pub site_root: PathBuf,
    /// The BFF's client registration.
    pub client: Client,
    /// Where `countersign.sqlite` lives.
    pub data_dir: PathBuf,
    /// The PostgreSQL database (`postgres://…`) shared by a cluster; `None`: SQLite in
    /// `data_dir`.
    pub database_url: Option<Secret>,
    /// The sealing key, as 64 hex characters; `None`: the key file in `data_dir`.
    pub sealing_key: Option<Secret>,
    /// The BFF's address as browsers reach it; `None` derives it from the bound address.
    pub public_url: Option<String>,
    /// An agent session ends after this long unused.
    pub session_idle: Duration,
    /// An agent session ends after this long in any case.
    pub session_max: Duration,
    /// The `requested_expiry` of each verification.
    pub request_expiry: Duration,
    /// Who asks, as the customer's approval page names it.
    pub display_name: String,
    /// Whether a reverse proxy appends the client's address to `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Header, idle and request timeouts and the connection cap, of the BFF's listener and the
    /// embedded provider's (each has its own connections); [`ServeLimits::default`] unless a
    /// test sets them.
    pub serve_limits: ServeLimits,
    /// The BFF's rate limits.
    pub limits: crate::limits::BffLimits,
    /// How the BFF learns that a customer decided (CIBA Core §5).
    pub delivery: TokenDelivery,
    /// Whether an outside provider keeps customers' passkeys for the approval page's origin
    /// (`COUNTERSIGN_PASSKEYS`); the embedded provider does whenever the public URL names a
    /// domain or its passkey settings are given.
    pub passkeys: bool,
}

/// How the BFF learns of a decision (`COUNTERSIGN_TOKEN_DELIVERY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenDelivery {
    /// It polls the token endpoint every `interval` (Mosaic's guide).
    Poll,
    /// The provider pings `/ciba/notify` and the BFF asks for the tokens at once; polls are a
    /// slow safety net. The provider must list `ping` and have the client registered with the
    /// BFF's notification endpoint (the embedded one is registered at start).
    Ping,
}

/// The display name of the demo seed's application.
pub const DEFAULT_DISPLAY_NAME: &str = "Demo Bank";
/// The longest display name accepted.
const MAX_DISPLAY_NAME: usize = 60;

/// The demo client of the embedded provider's demo seed.
const DEMO_CLIENT: (&str, &str, &str) = ("agent-console", "demo-console-secret", "demo-bank");

impl Config {
    /// Reads the configuration from the process environment and, if `COUNTERSIGN_CONFIG` names
    /// one, a TOML file (the environment wins).
    pub fn from_env() -> Result<Self, ConfigError> {
        let file = match std::env::var("COUNTERSIGN_CONFIG") {
            Ok(path) if !path.trim().is_empty() => read_file_settings(&path)?,
            _ => HashMap::new(),
        };
        Self::from_lookup(|name| std::env::var(name).ok().or_else(|| file.get(name).cloned()))
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if it is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let listen = match set("COUNTERSIGN_ADDR") {
            Some(_) => socket_addr(&set, "COUNTERSIGN_ADDR", DEFAULT_ADDR)?,
            None => socket_addr(&set, "LEPTOS_SITE_ADDR", DEFAULT_ADDR)?,
        };
        let profile = set(PROFILE)
            .map(|value| {
                Profile::parse(value.trim()).ok_or_else(|| ConfigError {
                    variable: PROFILE,
                    problem: format!("{value:?} is not embedded, mosaic or standard"),
                })
            })
            .transpose()?;
        let provider = match (set("COUNTERSIGN_PROVIDER_URL"), profile) {
            (Some(_), Some(Profile::Embedded)) => {
                return Err(ConfigError {
                    variable: PROFILE,
                    problem: "is embedded, but COUNTERSIGN_PROVIDER_URL names another provider"
                        .to_owned(),
                });
            }
            (Some(url), profile) => ProviderMode::External {
                profile: profile.unwrap_or(Profile::Mosaic),
                url: issuer("COUNTERSIGN_PROVIDER_URL", &url)?,
            },
            (None, None | Some(Profile::Embedded)) => {
                ProviderMode::Embedded(Box::new(provider::Config::from_lookup(set)?))
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    variable: "COUNTERSIGN_PROVIDER_URL",
                    problem: "is needed for a mosaic or standard provider".to_owned(),
                });
            }
        };
        let embedded = matches!(provider, ProviderMode::Embedded(_));
        let required = |variable: &'static str, demo: &str| {
            set(variable)
                .map(|value| value.trim().to_owned())
                .or_else(|| embedded.then(|| demo.to_owned()))
                .ok_or_else(|| ConfigError {
                    variable,
                    problem: "is needed for an external provider".to_owned(),
                })
        };
        let secret = match secret(&set, SECRET, SECRET_FILE)? {
            Some(secret) => secret,
            None if embedded => Secret::new(DEMO_CLIENT.1),
            None => {
                return Err(ConfigError::new(
                    SECRET,
                    format!("or {SECRET_FILE} is needed for an external provider"),
                ));
            }
        };
        let client = Client {
            id: required("COUNTERSIGN_CLIENT_ID", DEMO_CLIENT.0)?,
            secret,
            // A standard provider has no application id: only Mosaic's API is shaped by one.
            app_id: match &provider {
                ProviderMode::External {
                    profile: Profile::Standard,
                    ..
                } => set("COUNTERSIGN_APP_ID")
                    .map(|value| value.trim().to_owned())
                    .unwrap_or_default(),
                _ => required("COUNTERSIGN_APP_ID", DEMO_CLIENT.2)?,
            },
        };
        let data_dir = set("COUNTERSIGN_DATA_DIR")
            .unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned())
            .into();
        let database_url = match set(DATABASE_URL) {
            Some(url) => {
                infra::postgres::options(url.trim())
                    .map_err(|problem| ConfigError::new(DATABASE_URL, problem))?;
                Some(Secret::new(url.trim()))
            }
            None => None,
        };
        let sealing_key = infra::config::secret(&set, SEALING_KEY, SEALING_KEY_FILE)?;
        match &sealing_key {
            Some(key) if crate::sealed::key_from_hex(key.expose()).is_none() => {
                return Err(ConfigError::new(
                    SEALING_KEY,
                    "must be 64 hex characters (32 bytes; `openssl rand -hex 32` makes one)",
                ));
            }
            None if database_url.is_some() => {
                return Err(ConfigError::new(
                    SEALING_KEY,
                    format!(
                        "or {SEALING_KEY_FILE} is needed with {DATABASE_URL}: every instance \
                         sharing the database must seal with the same key"
                    ),
                ));
            }
            _ => {}
        }
        if database_url.is_some() && embedded {
            return Err(ConfigError::new(
                "COUNTERSIGN_PROVIDER_URL",
                format!(
                    "is needed with {DATABASE_URL}: the instances sharing the database must share \
                     a provider too (countersign-provider, on a database of its own)"
                ),
            ));
        }
        let public_url = set("COUNTERSIGN_PUBLIC_URL")
            .map(|url| issuer("COUNTERSIGN_PUBLIC_URL", &url))
            .transpose()?;
        let minutes = |variable, default, range| number(&set, variable, default, range, None);
        let session_idle = Duration::from_secs(60 * minutes(IDLE, 30, 1..=1440)?);
        let session_max = Duration::from_secs(3600 * number(&set, MAX, 12, 1..=168, None)?);
        let request_expiry = Duration::from_secs(number(&set, EXPIRY, 300, 10..=3600, None)?);
        let defaults = ServeLimits::default();
        let max_connections = number(
            &set,
            MAX_CONNECTIONS,
            defaults.max_connections as u64,
            16..=1_000_000,
            Some("each takes a file descriptor: raise `ulimit -n` with it"),
        )?;
        let max_streams = number(
            &set,
            MAX_STREAMS,
            defaults.max_streams as u64,
            1..=max_connections,
            Some(&format!("at most {MAX_CONNECTIONS}")),
        )?;
        let serve_limits = ServeLimits {
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            max_streams: usize::try_from(max_streams).unwrap_or(usize::MAX),
            ..defaults
        };
        let display_name = match set(DISPLAY_NAME) {
            None => DEFAULT_DISPLAY_NAME.to_owned(),
            Some(name) => {
                let name = name.trim().to_owned();
                if name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
                    return Err(ConfigError {
                        variable: DISPLAY_NAME,
                        problem: format!(
                            "must be one line of at most {MAX_DISPLAY_NAME} characters"
                        ),
                    });
                }
                name
            }
        };
        let trust_forwarded_for = yes_or_no(&set, TRUST)?;
        let passkeys = yes_or_no(&set, PASSKEYS)?;
        let site_root = set("COUNTERSIGN_SITE_ROOT")
            .or_else(|| set("LEPTOS_SITE_ROOT"))
            .unwrap_or_else(|| DEFAULT_SITE_ROOT.to_owned())
            .into();
        let limits = crate::limits::BffLimits::from_lookup(&set)?;
        let metrics_listen = optional_socket_addr(&set, METRICS_ADDR, DEFAULT_METRICS_ADDR)?;
        let delivery = match set(DELIVERY).as_deref().map(str::trim) {
            None if embedded => TokenDelivery::Ping,
            None => TokenDelivery::Poll,
            Some("ping") => TokenDelivery::Ping,
            Some("poll") => TokenDelivery::Poll,
            Some(other) => {
                return Err(ConfigError::new(
                    DELIVERY,
                    format!("{other:?} is not ping or poll"),
                ));
            }
        };
        Ok(Self {
            listen,
            metrics_listen,
            provider,
            site_root,
            client,
            data_dir,
            database_url,
            sealing_key,
            public_url,
            session_idle,
            session_max,
            request_expiry,
            display_name,
            trust_forwarded_for,
            serve_limits,
            limits,
            delivery,
            passkeys,
        })
    }
}

impl Config {
    /// A configuration with every default of the embedded demo but the given places: what the
    /// tests start.
    pub fn local(
        listen: SocketAddr,
        provider: ProviderMode,
        site_root: PathBuf,
        data_dir: PathBuf,
    ) -> Self {
        Self {
            listen,
            metrics_listen: None,
            provider,
            site_root,
            client: Client {
                id: DEMO_CLIENT.0.to_owned(),
                secret: Secret::new(DEMO_CLIENT.1),
                app_id: DEMO_CLIENT.2.to_owned(),
            },
            data_dir,
            database_url: None,
            sealing_key: None,
            public_url: None,
            session_idle: Duration::from_secs(1800),
            session_max: Duration::from_secs(12 * 3600),
            request_expiry: Duration::from_secs(300),
            display_name: DEFAULT_DISPLAY_NAME.to_owned(),
            trust_forwarded_for: false,
            serve_limits: ServeLimits::default(),
            limits: Default::default(),
            delivery: TokenDelivery::Ping,
            passkeys: false,
        }
    }
}

const PROFILE: &str = "COUNTERSIGN_PROVIDER_PROFILE";
const METRICS_ADDR: &str = "COUNTERSIGN_METRICS_ADDR";
const MAX_CONNECTIONS: &str = "COUNTERSIGN_MAX_CONNECTIONS";
const MAX_STREAMS: &str = "COUNTERSIGN_MAX_STREAMS";
const DATABASE_URL: &str = "COUNTERSIGN_DATABASE_URL";
const SEALING_KEY: &str = "COUNTERSIGN_SEALING_KEY";
const SEALING_KEY_FILE: &str = "COUNTERSIGN_SEALING_KEY_FILE";
const TRUST: &str = "COUNTERSIGN_TRUST_FORWARDED_FOR";
const PASSKEYS: &str = "COUNTERSIGN_PASSKEYS";
const SECRET: &str = "COUNTERSIGN_CLIENT_SECRET";
const SECRET_FILE: &str = "COUNTERSIGN_CLIENT_SECRET_FILE";
const IDLE: &str = "COUNTERSIGN_SESSION_IDLE_MINUTES";
const MAX: &str = "COUNTERSIGN_SESSION_MAX_HOURS";
const EXPIRY: &str = "COUNTERSIGN_REQUEST_EXPIRY_SECS";
const DISPLAY_NAME: &str = "COUNTERSIGN_DISPLAY_NAME";
const DELIVERY: &str = "COUNTERSIGN_TOKEN_DELIVERY";

/// The settings of a TOML configuration file, as the variable names they stand for.
fn read_file_settings(path: &str) -> Result<HashMap<String, String>, ConfigError> {
    let problem = |problem: String| ConfigError {
        variable: "COUNTERSIGN_CONFIG",
        problem,
    };
    let text = std::fs::read_to_string(path.trim())
        .map_err(|error| problem(format!("cannot read {path:?}: {error}")))?;
    file_settings(&text).map_err(problem)
}

/// Flattens a TOML document into `COUNTERSIGN_SECTION_KEY` names. Secrets are refused.
fn file_settings(text: &str) -> Result<HashMap<String, String>, String> {
    let table: toml::Table = text.parse().map_err(|error| format!("not TOML: {error}"))?;
    let mut out = HashMap::new();
    flatten("COUNTERSIGN", &toml::Value::Table(table), &mut out)?;
    for secret in [
        SECRET,
        "COUNTERSIGN_SMTP_PASSWORD",
        "COUNTERSIGN_SMS_WEBHOOK_SECRET",
    ] {
        if out.contains_key(secret) {
            return Err(format!(
                "holds {secret}: put secrets in the environment or in a file of their own \
                 ({secret}_FILE)"
            ));
        }
    }
    Ok(out)
}

fn flatten(
    prefix: &str,
    value: &toml::Value,
    out: &mut HashMap<String, String>,
) -> Result<(), String> {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                flatten(&format!("{prefix}_{}", key.to_uppercase()), value, out)?;
            }
            Ok(())
        }
        toml::Value::String(text) => {
            out.insert(prefix.to_owned(), text.clone());
            Ok(())
        }
        toml::Value::Integer(n) => {
            out.insert(prefix.to_owned(), n.to_string());
            Ok(())
        }
        toml::Value::Boolean(b) => {
            out.insert(prefix.to_owned(), b.to_string());
            Ok(())
        }
        _ => Err(format!("{prefix} must be a string, a number or true/false")),
    }
}

#[cfg(test)]
mod tests;
