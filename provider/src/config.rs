//! The provider's configuration, read from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COUNTERSIGN_PROVIDER_ADDR` | `127.0.0.1:3001` | where the provider listens |
//! | `COUNTERSIGN_PROVIDER_METRICS_ADDR` | `127.0.0.1:9465` | where a standalone provider serves `/metrics` (Prometheus), `off` for nowhere; embedded, the BFF serves its metrics |
//! | `COUNTERSIGN_PROVIDER_ISSUER` | `http://` + the bound address | its issuer identifier (public base URL) |
//! | `COUNTERSIGN_DATA_DIR` | `./data` | folder of the SQLite files, created on first start |
//! | `COUNTERSIGN_PROVIDER_DATABASE_URL` | unset: SQLite in the data folder | `postgres://…`: the PostgreSQL database every provider instance of a cluster shares (a remote server needs `?sslmode=verify-full` or `require`) |
//! | `COUNTERSIGN_PROVIDER_HASH_KEY`, `COUNTERSIGN_PROVIDER_HASH_KEY_FILE` | unset: `provider.key` in the data folder, created at first start | the key of the hashes that stand for handles, codes, tokens and secrets (64 hex characters); required with `COUNTERSIGN_PROVIDER_DATABASE_URL`, the same on every instance |
//! | `COUNTERSIGN_PROVIDER_SEED` | the demo seed | TOML file loaded into an empty store |
//! | `COUNTERSIGN_EMAIL_SENDER` | `outbox` | where emails go: `outbox` or `smtp` |
//! | `COUNTERSIGN_SMS_SENDER` | `outbox` | where SMS messages go: `outbox` or `webhook` |
//! | `COUNTERSIGN_DEV_OUTBOX` | `false` | `true` serves the development outbox at `/dev/outbox` and `/dev/outbox.json` (development only: every link and code is public there); refused with a real sender on any channel |
//! | `COUNTERSIGN_PROVIDER_PING_PRIVATE_HOSTS` | unset: none | comma-separated `host` or `host:port` entries that ping clients' notification endpoints may use although they are on a loopback or private address, or plain http (a BFF on the provider's own network); without one, pings go only to https endpoints on public addresses (see [`crate::ciba::ping::Reach`]) |
//! | `COUNTERSIGN_PROVIDER_PASSKEY_ORIGIN` | unset: no passkeys (embedded: the BFF's public URL when it names a domain) | the origin of the approval page where customers register and use passkeys (`https://verify.bank.example`; `http` only on `localhost`) |
//! | `COUNTERSIGN_PROVIDER_PASSKEY_RP_ID` | the origin's host | the WebAuthn relying-party id passkeys are bound to: the origin's host or a registrable suffix of it (`bank.example`) |
//! | `COUNTERSIGN_PROVIDER_LIMIT_…` | see [`crate::limits::Limits::default`] | each rate limit, as `MAX/WINDOW` (`600/1m`); the names are in [`crate::limits::Limits::rules_mut`] |
//! | `COUNTERSIGN_LOG_FORMAT` | `text` | log lines on stderr: `text` (human-readable) or `json` (one object per line); anything else stops the start (see `infra::runtime::LogFormat`) |
//!
//! With `COUNTERSIGN_EMAIL_SENDER=smtp` (see [`crate::sender::Smtp`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COUNTERSIGN_SMTP_HOST` | required | the SMTP server's host name (checked against its certificate) |
//! | `COUNTERSIGN_SMTP_TLS` | `starttls` | `starttls` (plain connection, then STARTTLS, required), `tls` (TLS from the first byte), `none` (no encryption: a local relay only) |
//! | `COUNTERSIGN_SMTP_PORT` | `587`, `465` with `tls`, `25` with `none` | the server's port |
//! | `COUNTERSIGN_SMTP_FROM` | required | the sender, `Name <address>` or a bare address |
//! | `COUNTERSIGN_SMTP_USERNAME` | unset: no login | the login name; needs a password and TLS |
//! | `COUNTERSIGN_SMTP_PASSWORD` | unset | the password (or, better, the next variable) |
//! | `COUNTERSIGN_SMTP_PASSWORD_FILE` | unset | a file holding the password (one trailing newline is dropped) |
//! | `COUNTERSIGN_SMTP_TIMEOUT_SECS` | `5` | how long one SMTP exchange may take, 1 to 7 seconds |
//!
//! With `COUNTERSIGN_SMS_SENDER=webhook` (see [`crate::sender::Webhook`] for the request and its
//! signature):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COUNTERSIGN_SMS_WEBHOOK_URL` | required | the `http` or `https` URL that gets each SMS as a JSON POST |
//! | `COUNTERSIGN_SMS_WEBHOOK_SECRET` | required (or the next) | the shared signing secret, at least 16 characters |
//! | `COUNTERSIGN_SMS_WEBHOOK_SECRET_FILE` | unset | a file holding the secret (one trailing newline is dropped) |
//! | `COUNTERSIGN_SMS_WEBHOOK_TIMEOUT_SECS` | `5` | how long one POST may take, 1 to 7 seconds |
//!
//! Whatever the sender's timeout, a backchannel request or a code waits at most
//! [`crate::sender::SEND_DEADLINE`] (8 s) for its message; past it the message counts as not
//! delivered, the request is undone and the client hears `delivery_failed`.
//!
//! The SMTP and webhook variables are only read when their sender is chosen. Passwords and
//! secrets are held in [`Secret`], whose `Debug` is redacted, and never appear in errors.
//!
//! The development outbox keeps the messages of every channel that has no real sender. Its
//! pages (`/dev/outbox`, `/dev/outbox.json`) publish every link and code, so they are served
//! only with `COUNTERSIGN_DEV_OUTBOX=true`, only on a loopback address, and never while SMTP or
//! the webhook is configured: that combination stops the start ([`Config::check`]). Without
//! the switch the outbox's messages are kept in the store but not served.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use lettre::message::Mailbox;
use reqwest::Url;

pub use infra::config::ConfigError;
use infra::{
    config::{
        DEFAULT_DATA_DIR, issuer, number, optional_socket_addr, secret, set, socket_addr, yes_or_no,
    },
    secret::Secret,
};

use crate::{ciba::ping::PrivateHost, limits::Limits, passkeys::PasskeyConfig};

/// Where the provider listens and keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The socket address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where `/metrics` is served, on a listener of its own; `None`: not served (an embedder
    /// serves [`crate::Provider::metrics`] itself).
    pub metrics_listen: Option<SocketAddr>,
    /// The issuer identifier; `None` derives it from the bound address.
    pub issuer: Option<String>,
    /// The folder holding `provider.sqlite` and `provider.key`.
    pub data_dir: PathBuf,
    /// The PostgreSQL database (`postgres://…`) shared by a cluster; `None`: SQLite in
    /// `data_dir`.
    pub database_url: Option<Secret>,
    /// The hash key, as 64 hex characters; `None`: the key file in `data_dir`.
    pub hash_key: Option<Secret>,
    /// The seed loaded into an empty store; `None` loads the demo seed.
    pub seed_file: Option<PathBuf>,
    /// How emails and SMS messages are delivered; the development outbox by default.
    pub delivery: Delivery,
    /// Whether the provider sits behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For`; rate limits then count that address instead of the proxy's.
    pub trust_forwarded_for: bool,
    /// Whether to serve the development outbox (`COUNTERSIGN_DEV_OUTBOX`): development only,
    /// never with a real sender ([`Config::check`]).
    pub dev_outbox: bool,
    /// Rate limits ([`Limits::default`] unless `COUNTERSIGN_PROVIDER_LIMIT_…` set them).
    pub limits: Limits,
    /// Hosts that ping notification endpoints may use on a private address or by plain http
    /// (`COUNTERSIGN_PROVIDER_PING_PRIVATE_HOSTS`); empty: public https endpoints only.
    pub ping_private_hosts: Vec<PrivateHost>,
    /// The relying party of customers' passkeys (`COUNTERSIGN_PROVIDER_PASSKEY_ORIGIN`,
    /// `…_RP_ID`); `None`: passkeys are off.
    pub passkeys: Option<PasskeyConfig>,
}

/// Which sender delivers each channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Where emails go.
    pub email: EmailDelivery,
    /// Where SMS messages go.
    pub sms: SmsDelivery,
}

impl Delivery {
    /// Whether the development outbox receives at least one channel.
    pub fn uses_outbox(&self) -> bool {
        self.email == EmailDelivery::Outbox || self.sms == SmsDelivery::Outbox
    }
}

/// Where emails go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EmailDelivery {
    /// The development outbox.
    #[default]
    Outbox,
    /// An SMTP server.
    Smtp(SmtpConfig),
}

/// Where SMS messages go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SmsDelivery {
    /// The development outbox.
    #[default]
    Outbox,
    /// An HTTP webhook (an SMS gateway or a small bridge to one).
    Webhook(WebhookConfig),
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// No encryption at all; for a relay on the same host or network only.
    None,
    /// A plain connection upgraded with STARTTLS; the upgrade is required.
    StartTls,
    /// TLS from the first byte ("implicit TLS", usually port 465).
    Tls,
}

impl SmtpTls {
    /// The usual port for this mode.
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpLogin {
    /// The login name.
    pub username: String,
    /// The password (redacted in `Debug`).
    pub password: Secret,
}

/// The SMTP server that delivers emails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The server's host name or IP address.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// The login, if the server wants one.
    pub login: Option<SmtpLogin>,
    /// The `From` of every email.
    pub from: Mailbox,
    /// How long one SMTP exchange may take.
    pub timeout: Duration,
}

/// The webhook that delivers SMS messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Where each message is POSTed.
    pub url: Url,
    /// The key of the request signature (redacted in `Debug`).
    pub secret: Secret,
    /// How long one POST may take.
    pub timeout: Duration,
}

/// The default listening address of the embedded provider.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3001";
/// Where a standalone provider serves `/metrics` by default: the loopback only.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9465";
/// The default timeout of one SMTP exchange or webhook call.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest timeout a sender may be given: under [`crate::sender::SEND_DEADLINE`], which
/// bounds the whole send, so a sender's own timeout can still say what went wrong.
pub const MAX_SEND_TIMEOUT: Duration = Duration::from_secs(7);
const _: () = assert!(MAX_SEND_TIMEOUT.as_secs() < crate::sender::SEND_DEADLINE.as_secs());
const _: () = assert!(DEFAULT_SEND_TIMEOUT.as_secs() <= MAX_SEND_TIMEOUT.as_secs());
/// The shortest webhook secret accepted.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;

/// Names the variable that says a proxy sets `X-Forwarded-For`.
const TRUST_FORWARDED_FOR: &str = "COUNTERSIGN_PROVIDER_TRUST_FORWARDED_FOR";
const DATABASE_URL: &str = "COUNTERSIGN_PROVIDER_DATABASE_URL";
const HASH_KEY: &str = "COUNTERSIGN_PROVIDER_HASH_KEY";
const PASSKEY_ORIGIN: &str = "COUNTERSIGN_PROVIDER_PASSKEY_ORIGIN";
const PASSKEY_RP_ID: &str = "COUNTERSIGN_PROVIDER_PASSKEY_RP_ID";
const PING_PRIVATE_HOSTS: &str = "COUNTERSIGN_PROVIDER_PING_PRIVATE_HOSTS";
const HASH_KEY_FILE: &str = "COUNTERSIGN_PROVIDER_HASH_KEY_FILE";

/// Names the development switch that serves the outbox.
pub const DEV_OUTBOX: &str = "COUNTERSIGN_DEV_OUTBOX";

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if it is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let listen = socket_addr(&lookup, "COUNTERSIGN_PROVIDER_ADDR", DEFAULT_ADDR)?;
        let metrics_listen = optional_socket_addr(
            &lookup,
            "COUNTERSIGN_PROVIDER_METRICS_ADDR",
            DEFAULT_METRICS_ADDR,
        )?;
        let issuer = lookup("COUNTERSIGN_PROVIDER_ISSUER")
            .map(|value| issuer("COUNTERSIGN_PROVIDER_ISSUER", &value))
            .transpose()?;
        let data_dir = lookup("COUNTERSIGN_DATA_DIR")
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned())
            .into();
        let database_url = match set(&lookup, DATABASE_URL) {
            Some(url) => {
                infra::postgres::options(url.trim())
                    .map_err(|problem| ConfigError::new(DATABASE_URL, problem))?;
                Some(Secret::new(url.trim()))
            }
            None => None,
        };
        let hash_key = secret(&lookup, HASH_KEY, HASH_KEY_FILE)?;
        match &hash_key {
            Some(key) if infra::secret::key_from_hex(key.expose()).is_none() => {
                return Err(ConfigError::new(
                    HASH_KEY,
                    "must be 64 hex characters (32 bytes; `openssl rand -hex 32` makes one)",
                ));
            }
            None if database_url.is_some() => {
                return Err(ConfigError::new(
                    HASH_KEY,
                    format!(
                        "or {HASH_KEY_FILE} is needed with {DATABASE_URL}: every instance \
                         sharing the database must hash with the same key"
                    ),
                ));
            }
            _ => {}
        }
        let seed_file = lookup("COUNTERSIGN_PROVIDER_SEED")
            .filter(|value| !value.trim().is_empty())
            .map(PathBuf::from);
        let delivery = Delivery::from_lookup(&lookup)?;
        let trust_forwarded_for = yes_or_no(&lookup, TRUST_FORWARDED_FOR)?;
        let dev_outbox = yes_or_no(&lookup, DEV_OUTBOX)?;
        let limits = Limits::from_lookup(&lookup)?;
        let ping_private_hosts = set(&lookup, PING_PRIVATE_HOSTS)
            .map(|list| {
                list.split(',')
                    .filter(|entry| !entry.trim().is_empty())
                    .map(str::parse)
                    .collect::<Result<Vec<PrivateHost>, String>>()
            })
            .transpose()
            .map_err(|problem| ConfigError::new(PING_PRIVATE_HOSTS, problem))?
            .unwrap_or_default();
        let passkeys = set(&lookup, PASSKEY_ORIGIN)
            .map(|origin| {
                PasskeyConfig::new(&origin, set(&lookup, PASSKEY_RP_ID).as_deref())
                    .map_err(|problem| ConfigError::new(PASSKEY_ORIGIN, problem))
            })
            .transpose()?;
        if passkeys.is_none() && set(&lookup, PASSKEY_RP_ID).is_some() {
            return Err(ConfigError::new(
                PASSKEY_RP_ID,
                format!("needs {PASSKEY_ORIGIN}, the approval page's origin"),
            ));
        }
        let config = Self {
            listen,
            metrics_listen,
            issuer,
            data_dir,
            database_url,
            hash_key,
            seed_file,
            delivery,
            trust_forwarded_for,
            limits,
            dev_outbox,
            ping_private_hosts,
            passkeys,
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses settings that must not go together: the development outbox served while a
    /// real sender delivers a channel (a deployment with real customers would publish the
    /// links and codes of the other channel).
    pub fn check(&self) -> Result<(), ConfigError> {
        if !self.dev_outbox {
            return Ok(());
        }
        // Loopback is no protection behind a reverse proxy on the same host: a proxy is what
        // forwarded-for trust and an https issuer mean, and it would carry the outbox to the
        // network.
        let proxied = if self.trust_forwarded_for {
            Some(format!("{TRUST_FORWARDED_FOR}=true"))
        } else {
            self.issuer
                .as_deref()
                .filter(|issuer| issuer.starts_with("https://"))
                .map(|_| "COUNTERSIGN_PROVIDER_ISSUER is an https URL".to_owned())
        };
        if let Some(proxied) = proxied {
            return Err(ConfigError {
                variable: DEV_OUTBOX,
                problem: format!(
                    "is true, but {proxied}: the provider is behind a reverse proxy, which would \
                     publish the development outbox's links and codes beyond this machine. \
                     Unset {DEV_OUTBOX} (development only, on a loopback address without a proxy)"
                ),
            });
        }
        let real = match (&self.delivery.email, &self.delivery.sms) {
            (EmailDelivery::Smtp(_), SmsDelivery::Webhook(_)) => {
                "COUNTERSIGN_EMAIL_SENDER=smtp and COUNTERSIGN_SMS_SENDER=webhook"
            }
            (EmailDelivery::Smtp(_), _) => "COUNTERSIGN_EMAIL_SENDER=smtp",
            (_, SmsDelivery::Webhook(_)) => "COUNTERSIGN_SMS_SENDER=webhook",
            (EmailDelivery::Outbox, SmsDelivery::Outbox) => return Ok(()),
        };
        Err(ConfigError {
            variable: DEV_OUTBOX,
            problem: format!(
                "is true, but {real} configures a real sender: the development outbox would \
                 publish the links and codes of real customers. Unset {DEV_OUTBOX} (or send \
                 every channel to the outbox, in development only)"
            ),
        })
    }
}

impl Delivery {
    /// Reads the sender variables through `lookup`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        const EMAIL: &str = "COUNTERSIGN_EMAIL_SENDER";
        const SMS: &str = "COUNTERSIGN_SMS_SENDER";
        let email = match set(lookup, EMAIL).as_deref().map(str::trim) {
            None | Some("outbox") => EmailDelivery::Outbox,
            Some("smtp") => EmailDelivery::Smtp(SmtpConfig::from_lookup(lookup)?),
            Some(other) => return Err(one_of(EMAIL, other, "outbox or smtp")),
        };
        let sms = match set(lookup, SMS).as_deref().map(str::trim) {
            None | Some("outbox") => SmsDelivery::Outbox,
            Some("webhook") => SmsDelivery::Webhook(WebhookConfig::from_lookup(lookup)?),
            Some(other) => return Err(one_of(SMS, other, "outbox or webhook")),
        };
        Ok(Self { email, sms })
    }
}

impl SmtpConfig {
    /// Reads the `COUNTERSIGN_SMTP_*` variables through `lookup`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        const TLS: &str = "COUNTERSIGN_SMTP_TLS";
        const FROM: &str = "COUNTERSIGN_SMTP_FROM";
        const USERNAME: &str = "COUNTERSIGN_SMTP_USERNAME";
        const PASSWORD: &str = "COUNTERSIGN_SMTP_PASSWORD";
        let host = required(lookup, "COUNTERSIGN_SMTP_HOST")?.trim().to_owned();
        if host.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
            return Err(ConfigError {
                variable: "COUNTERSIGN_SMTP_HOST",
                problem: format!("{host:?} is not a host name or IP address"),
            });
        }
        let tls = match set(lookup, TLS).as_deref().map(str::trim) {
            None | Some("starttls") => SmtpTls::StartTls,
            Some("tls") => SmtpTls::Tls,
            Some("none") => SmtpTls::None,
            Some(other) => return Err(one_of(TLS, other, "starttls, tls or none")),
        };
        let port = match set(lookup, "COUNTERSIGN_SMTP_PORT") {
            None => tls.default_port(),
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| ConfigError {
                    variable: "COUNTERSIGN_SMTP_PORT",
                    problem: format!("{value:?} is not a port number (1 to 65535)"),
                })?,
        };
        let from_value = required(lookup, FROM)?;
        let from = from_value.trim().parse().map_err(|_| ConfigError {
            variable: FROM,
            problem: format!(
                "{from_value:?} is not a mailbox such as no-reply@bank.example or \
                 Bank <no-reply@bank.example>"
            ),
        })?;
        let username = set(lookup, USERNAME);
        let password = secret(lookup, PASSWORD, "COUNTERSIGN_SMTP_PASSWORD_FILE")?;
        let login = match (username, password) {
            (None, None) => None,
            (Some(username), Some(password)) => Some(SmtpLogin { username, password }),
            (Some(_), None) => {
                return Err(ConfigError {
                    variable: PASSWORD,
                    problem: format!(
                        "{USERNAME} is set: set the password too (or \
                         COUNTERSIGN_SMTP_PASSWORD_FILE)"
                    ),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    variable: USERNAME,
                    problem: "a password is set: set the login name too".to_owned(),
                });
            }
        };
        if login.is_some() && tls == SmtpTls::None {
            return Err(ConfigError {
                variable: TLS,
                problem: "\"none\" would send the password unencrypted: use starttls or tls"
                    .to_owned(),
            });
        }
        let timeout = seconds(lookup, "COUNTERSIGN_SMTP_TIMEOUT_SECS")?;
        Ok(Self {
            host,
            port,
            tls,
            login,
            from,
            timeout,
        })
    }
}

impl WebhookConfig {
    /// Reads the `COUNTERSIGN_SMS_WEBHOOK_*` variables through `lookup`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        const URL: &str = "COUNTERSIGN_SMS_WEBHOOK_URL";
        const SECRET: &str = "COUNTERSIGN_SMS_WEBHOOK_SECRET";
        let value = required(lookup, URL)?;
        // The URL may hold a token of the receiver's: it is not repeated in errors.
        let url = Url::parse(value.trim())
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .filter(|url| url.host_str().is_some_and(|host| !host.is_empty()))
            .filter(|url| url.fragment().is_none())
            .ok_or_else(|| ConfigError {
                variable: URL,
                problem: "is not an http or https URL with a host and no fragment".to_owned(),
            })?;
        let secret =
            secret(lookup, SECRET, "COUNTERSIGN_SMS_WEBHOOK_SECRET_FILE")?.ok_or_else(|| {
                ConfigError {
                    variable: SECRET,
                    problem: "is required with the webhook sender (or \
                          COUNTERSIGN_SMS_WEBHOOK_SECRET_FILE)"
                        .to_owned(),
                }
            })?;
        if secret.expose().chars().count() < MIN_WEBHOOK_SECRET_LEN {
            return Err(ConfigError {
                variable: SECRET,
                problem: format!("must be at least {MIN_WEBHOOK_SECRET_LEN} characters long"),
            });
        }
        let timeout = seconds(lookup, "COUNTERSIGN_SMS_WEBHOOK_TIMEOUT_SECS")?;
        Ok(Self {
            url,
            secret,
            timeout,
        })
    }
}

/// A variable's value, or an error saying it is required.
fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<String, ConfigError> {
    set(lookup, variable).ok_or_else(|| ConfigError {
        variable,
        problem: "is required with this sender".to_owned(),
    })
}

fn one_of(variable: &'static str, value: &str, choices: &str) -> ConfigError {
    ConfigError {
        variable,
        problem: format!("{value:?} is not one of {choices}"),
    }
}

/// A timeout in whole seconds, 1 to [`MAX_SEND_TIMEOUT`]; [`DEFAULT_SEND_TIMEOUT`] when unset.
fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Duration, ConfigError> {
    let why = format!(
        "seconds; a request waits at most {} s for its message",
        crate::sender::SEND_DEADLINE.as_secs()
    );
    number(
        lookup,
        variable,
        DEFAULT_SEND_TIMEOUT.as_secs(),
        1..=MAX_SEND_TIMEOUT.as_secs(),
        Some(&why),
    )
    .map(Duration::from_secs)
}

#[cfg(test)]
mod tests;
