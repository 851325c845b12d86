//! The BFF's configuration, read from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COUNTERSIGN_ADDR` | `LEPTOS_SITE_ADDR`, else `127.0.0.1:3000` | where the BFF listens |
//! | `COUNTERSIGN_PROVIDER_URL` | unset: start the embedded provider | base URL of an external provider |
//! | `COUNTERSIGN_SITE_ROOT` | `LEPTOS_SITE_ROOT`, else `target/site` | the built CSS, JS and wasm |
//! | `COUNTERSIGN_PROVIDER_PROFILE` | `mosaic` with a URL, else `embedded` | `mosaic` or `standard` for an external provider |
//! | `COUNTERSIGN_CLIENT_ID` | `agent-console` when embedded | the BFF's client id at the provider |
//! | `COUNTERSIGN_CLIENT_SECRET`, `COUNTERSIGN_CLIENT_SECRET_FILE` | the demo secret when embedded | its secret, or a file holding it |
//! | `COUNTERSIGN_APP_ID` | `demo-bank` when embedded | the provider's application id (Mosaic's management API; not needed for `standard`) |
//! | `COUNTERSIGN_PUBLIC_URL` | `http://` + the bound address | the BFF's address as browsers reach it |
//! | `COUNTERSIGN_DATA_DIR` | `./data` | folder of `countersign.sqlite` (and the embedded provider's files) |
//! | `COUNTERSIGN_SESSION_IDLE_MINUTES` | `30` | an agent session ends after this long unused |
//! | `COUNTERSIGN_SESSION_MAX_HOURS` | `12` | and after this long in any case |
//! | `COUNTERSIGN_REQUEST_EXPIRY_SECS` | `300` | `requested_expiry` of each verification, 10 to 3600 |
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

use infra::config::{DEFAULT_DATA_DIR, issuer, number, secret, socket_addr, yes_or_no};
use infra::secret::Secret;
pub use infra::{config::ConfigError, serve::ServeLimits};

use crate::oidc::Profile;

/// The default address of the BFF.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
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
    /// The provider's application id, for Mosaic's management API (empty for a standard
    /// provider, which has none).
    pub app_id: String,
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
    /// The BFF's client registration.
    pub client: Client,
    /// Where `countersign.sqlite` lives.
    pub data_dir: PathBuf,
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
        let public_url = set("COUNTERSIGN_PUBLIC_URL")
            .map(|url| issuer("COUNTERSIGN_PUBLIC_URL", &url))
            .transpose()?;
        let minutes = |variable, default, range| number(&set, variable, default, range, None);
        let session_idle = Duration::from_secs(60 * minutes(IDLE, 30, 1..=1440)?);
        let session_max = Duration::from_secs(3600 * number(&set, MAX, 12, 1..=168, None)?);
        let request_expiry = Duration::from_secs(number(&set, EXPIRY, 300, 10..=3600, None)?);
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
        let site_root = set("COUNTERSIGN_SITE_ROOT")
            .or_else(|| set("LEPTOS_SITE_ROOT"))
            .unwrap_or_else(|| DEFAULT_SITE_ROOT.to_owned())
            .into();
        let limits = crate::limits::BffLimits::from_lookup(&set)?;
        Ok(Self {
            listen,
            provider,
            site_root,
            client,
            data_dir,
            public_url,
            session_idle,
            session_max,
            request_expiry,
            display_name,
            trust_forwarded_for,
            serve_limits: ServeLimits::default(),
            limits,
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
            provider,
            site_root,
            client: Client {
                id: DEMO_CLIENT.0.to_owned(),
                secret: Secret::new(DEMO_CLIENT.1),
                app_id: DEMO_CLIENT.2.to_owned(),
            },
            data_dir,
            public_url: None,
            session_idle: Duration::from_secs(1800),
            session_max: Duration::from_secs(12 * 3600),
            request_expiry: Duration::from_secs(300),
            display_name: DEFAULT_DISPLAY_NAME.to_owned(),
            trust_forwarded_for: false,
            serve_limits: ServeLimits::default(),
            limits: Default::default(),
        }
    }
}

const PROFILE: &str = "COUNTERSIGN_PROVIDER_PROFILE";
const TRUST: &str = "COUNTERSIGN_TRUST_FORWARDED_FOR";
const SECRET: &str = "COUNTERSIGN_CLIENT_SECRET";
const SECRET_FILE: &str = "COUNTERSIGN_CLIENT_SECRET_FILE";
const IDLE: &str = "COUNTERSIGN_SESSION_IDLE_MINUTES";
const MAX: &str = "COUNTERSIGN_SESSION_MAX_HOURS";
const EXPIRY: &str = "COUNTERSIGN_REQUEST_EXPIRY_SECS";
const DISPLAY_NAME: &str = "COUNTERSIGN_DISPLAY_NAME";

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
        let config = config(&[
            ("COUNTERSIGN_PROVIDER_URL", "https://id.example.com/"),
            ("COUNTERSIGN_CLIENT_ID", "console"),
            ("COUNTERSIGN_CLIENT_SECRET", "s3cret"),
            ("COUNTERSIGN_APP_ID", "bank"),
        ])
        .unwrap();
        assert_eq!(
            config.provider,
            ProviderMode::External {
                profile: Profile::Mosaic,
                url: "https://id.example.com".to_owned()
            }
        );
        assert_eq!(config.client.id, "console");
        assert_eq!(config.client.secret.expose(), "s3cret");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn an_external_provider_needs_its_own_credentials() {
        let url = ("COUNTERSIGN_PROVIDER_URL", "https://id.example.com");
        let error = config(&[url]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_CLIENT_SECRET");
        let error = config(&[url, ("COUNTERSIGN_CLIENT_SECRET", "x")]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_CLIENT_ID");
        let error = config(&[("COUNTERSIGN_PROVIDER_PROFILE", "standard")]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_URL");
        let error = config(&[url, ("COUNTERSIGN_PROVIDER_PROFILE", "okta")]).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_PROVIDER_PROFILE");
    }

    #[test]
    fn a_standard_provider_needs_no_application_id() {
        let standard = [
            ("COUNTERSIGN_PROVIDER_PROFILE", "standard"),
            ("COUNTERSIGN_PROVIDER_URL", "https://id.example.com"),
            ("COUNTERSIGN_CLIENT_ID", "console"),
            ("COUNTERSIGN_CLIENT_SECRET", "s3cret"),
        ];
        let config = config(&standard).unwrap();
        assert_eq!(
            config.provider,
            ProviderMode::External {
                profile: Profile::Standard,
                url: "https://id.example.com".to_owned()
            }
        );
        assert_eq!(config.client.app_id, "");
        // Mosaic's management API still needs one.
        let mosaic = super::tests::config(&[
            ("COUNTERSIGN_PROVIDER_PROFILE", "mosaic"),
            standard[1],
            standard[2],
            standard[3],
        ]);
        assert_eq!(mosaic.unwrap_err().variable, "COUNTERSIGN_APP_ID");
    }

    #[test]
    fn the_secret_may_come_from_a_file_but_not_from_both() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-a-file\n").unwrap();
        let path = path.to_str().unwrap();
        let config = config(&[("COUNTERSIGN_CLIENT_SECRET_FILE", path)]).unwrap();
        assert_eq!(config.client.secret.expose(), "from-a-file");
        let both = super::tests::config(&[
            ("COUNTERSIGN_CLIENT_SECRET_FILE", path),
            ("COUNTERSIGN_CLIENT_SECRET", "x"),
        ]);
        assert_eq!(both.unwrap_err().variable, "COUNTERSIGN_CLIENT_SECRET_FILE");
        let missing = super::tests::config(&[("COUNTERSIGN_CLIENT_SECRET_FILE", "/nonexistent/x")]);
        assert_eq!(
            missing.unwrap_err().variable,
            "COUNTERSIGN_CLIENT_SECRET_FILE"
        );
    }

    #[test]
    fn the_embedded_default_uses_the_demo_client_and_sane_timeouts() {
        let config = config(&[]).unwrap();
        assert_eq!(config.client.id, "agent-console");
        assert_eq!(config.client.app_id, "demo-bank");
        assert_eq!(config.session_idle, Duration::from_secs(1800));
        assert_eq!(config.session_max, Duration::from_secs(12 * 3600));
        assert_eq!(config.request_expiry, Duration::from_secs(300));
        let short = super::tests::config(&[("COUNTERSIGN_REQUEST_EXPIRY_SECS", "15")]).unwrap();
        assert_eq!(short.request_expiry, Duration::from_secs(15));
        for bad in ["5", "x", "99999"] {
            let error = super::tests::config(&[("COUNTERSIGN_REQUEST_EXPIRY_SECS", bad)]);
            assert_eq!(
                error.unwrap_err().variable,
                "COUNTERSIGN_REQUEST_EXPIRY_SECS"
            );
        }
    }

    #[test]
    fn a_settings_file_flattens_to_variable_names_and_refuses_secrets() {
        let settings = file_settings(
            "[provider]\nprofile = \"standard\"\nurl = \"https://id.example.com\"\n\
             [client]\nid = \"console\"\nsecret_file = \"/run/secret\"\n\
             [session]\nidle_minutes = 15\n",
        )
        .unwrap();
        assert_eq!(settings["COUNTERSIGN_PROVIDER_PROFILE"], "standard");
        assert_eq!(settings["COUNTERSIGN_CLIENT_SECRET_FILE"], "/run/secret");
        assert_eq!(settings["COUNTERSIGN_SESSION_IDLE_MINUTES"], "15");
        let refused = file_settings("[client]\nsecret = \"x\"\n").unwrap_err();
        assert!(refused.contains("COUNTERSIGN_CLIENT_SECRET"), "{refused}");
        assert!(file_settings("not = [toml").is_err());
    }

    #[test]
    fn case_32_the_development_outbox_is_switched_on_explicitly_in_the_env_or_the_file() {
        let embedded = |config: Config| match config.provider {
            ProviderMode::Embedded(provider) => provider,
            ProviderMode::External { .. } => panic!("expected the embedded provider"),
        };
        assert!(!embedded(config(&[]).unwrap()).dev_outbox);
        let on = config(&[("COUNTERSIGN_DEV_OUTBOX", "true")]).unwrap();
        assert!(embedded(on).dev_outbox);
        let file = file_settings("[dev]\noutbox = true\n").unwrap();
        assert_eq!(file["COUNTERSIGN_DEV_OUTBOX"], "true");
        let from_file = Config::from_lookup(|name| file.get(name).cloned()).unwrap();
        assert!(embedded(from_file).dev_outbox);
        // Beside a real sender the start is refused, naming both variables.
        let error = config(&[
            ("COUNTERSIGN_DEV_OUTBOX", "true"),
            ("COUNTERSIGN_SMS_SENDER", "webhook"),
            (
                "COUNTERSIGN_SMS_WEBHOOK_URL",
                "https://sms.bank.example/send",
            ),
            ("COUNTERSIGN_SMS_WEBHOOK_SECRET", "0123456789abcdef-secret"),
        ])
        .unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_DEV_OUTBOX");
        assert!(
            error.to_string().contains("COUNTERSIGN_SMS_SENDER=webhook"),
            "{error}"
        );
    }

    #[test]
    fn rate_limits_come_from_the_file_or_the_environment_for_both_sides() {
        let settings = file_settings(
            "[limit]\nstarts_per_customer = \"2/5m\"\n\
             [provider.limit]\nbackchannel_per_client = \"100000/1m\"\n",
        )
        .unwrap();
        let read = Config::from_lookup(|name| settings.get(name).cloned()).unwrap();
        assert_eq!(read.limits.starts_per_customer.max, 2);
        assert_eq!(
            read.limits.starts_per_customer.window,
            Duration::from_secs(300)
        );
        assert_eq!(
            read.limits.starts_per_agent,
            crate::limits::BffLimits::default().starts_per_agent
        );
        let ProviderMode::Embedded(provider) = &read.provider else {
            panic!("embedded by default");
        };
        assert_eq!(provider.limits.backchannel_per_client.max, 100_000);
        let bad = config(&[("COUNTERSIGN_PROVIDER_LIMIT_SMS_PER_NUMBER", "many")]).unwrap_err();
        assert_eq!(bad.variable, "COUNTERSIGN_PROVIDER_LIMIT_SMS_PER_NUMBER");
        let bad = config(&[("COUNTERSIGN_LIMIT_APPROVAL_PER_IP", "10/0s")]).unwrap_err();
        assert_eq!(bad.variable, "COUNTERSIGN_LIMIT_APPROVAL_PER_IP");
    }

    #[test]
    fn trusting_a_proxy_is_a_clear_yes_or_no() {
        assert!(!config(&[]).unwrap().trust_forwarded_for);
        let on = config(&[("COUNTERSIGN_TRUST_FORWARDED_FOR", "true")]).unwrap();
        assert!(on.trust_forwarded_for);
        let bad = config(&[("COUNTERSIGN_TRUST_FORWARDED_FOR", "yes")]).unwrap_err();
        assert_eq!(bad.variable, "COUNTERSIGN_TRUST_FORWARDED_FOR");
    }

    #[test]
    fn the_display_name_defaults_to_the_demo_bank() {
        assert_eq!(config(&[]).unwrap().display_name, "Demo Bank");
        let named = config(&[("COUNTERSIGN_DISPLAY_NAME", "  Acme Savings ")]).unwrap();
        assert_eq!(named.display_name, "Acme Savings");
        let long = "x".repeat(61);
        for bad in ["two\nlines", long.as_str()] {
            let error = config(&[("COUNTERSIGN_DISPLAY_NAME", bad)]).unwrap_err();
            assert_eq!(error.variable, "COUNTERSIGN_DISPLAY_NAME");
        }
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
