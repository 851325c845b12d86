//! Countersign's embedded OpenID Connect CIBA provider.
//!
//! It plays the part Transmit Security Mosaic plays in production, on Mosaic's paths and wire
//! formats, so Countersign runs and is tested with no outside service. The BFF reaches it only
//! over HTTP.
//!
//! - [`config`]: where it listens, its issuer, where its data lives (from the environment).
//! - [`ciba`]: the protocol rules as plain functions of their inputs and `now`.
//! - [`crypto`], [`keys`], [`tokens`]: random handles, keyed hashes, signing keys, token issue.
//! - [`store`]: the SQLite store and its migrations (`migrations/sqlite`); [`seed`] fills it.
//! - [`limits`]: the provider's rate limits, counted with `infra`'s windows and client blocks.
//! - [`sender`]: delivery of links and codes: the development outbox by default, SMTP for
//!   emails and a signed webhook for SMS messages when configured.
//! - `http`: the axum router; handlers are thin and call into the modules above. Its strict
//!   form reader is public as [`form`].
//! - [`Provider`]: binds, opens the store, and serves until told to stop.

pub mod audit;
pub mod ciba;
pub mod config;
pub mod crypto;
pub mod error;
mod http;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod passkeys;
pub mod seed;
pub mod sender;
pub mod store;
pub mod tokens;

/// The strict reader of form bodies every endpoint uses (public for the fuzz targets in
/// `fuzz/`).
pub use http::form::{self, Form};

use infra::{clock, net, serve};

use std::{future::Future, io, net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;

use clock::Clock;
pub use config::Config;
use config::{EmailDelivery, SmsDelivery};
use crypto::HashKey;
use keys::Signer;
use limits::Limiter;
use sender::{Outbox, Router, Sender, Smtp, Webhook};
use store::{PgStore, SharedStore, SqliteStore};

/// Why the provider could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data folder could not be created.
    #[error(transparent)]
    DataDir(#[from] infra::config::DataDirError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The hash key file could not be read or created.
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile {
        /// The key file.
        path: String,
        /// What the file system said.
        source: io::Error,
    },
    /// The database URL could not be used.
    #[error("{0}")]
    Database(String),
    /// The seed file could not be read or parsed.
    #[error("seed {path}: {problem}")]
    Seed {
        /// The seed file.
        path: String,
        /// What was wrong.
        problem: String,
    },
    /// Signing keys could not be made or loaded.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// A configured sender could not be set up.
    #[error("cannot set up the {channel} sender: {source}")]
    Sender {
        /// `email` or `sms`.
        channel: &'static str,
        /// What was wrong.
        source: sender::SendError,
    },
    /// The settings do not go together ([`Config::check`]).
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The listening socket could not be bound.
    #[error(transparent)]
    Bind(#[from] serve::BindError),
    /// The metrics' socket could not be bound.
    #[error("COUNTERSIGN_PROVIDER_METRICS_ADDR: {0} (give another address, or `off`)")]
    MetricsBind(serve::BindError),
    /// The HTTP client for ping notifications could not be built.
    #[error("cannot set up ping notifications: {0}")]
    Pinger(reqwest::Error),
    /// The passkeys' relying party could not be set up.
    #[error("passkeys: {0}")]
    Passkeys(String),
}

/// State shared by every request handler.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) issuer: String,
    pub(crate) store: SharedStore,
    pub(crate) hash_key: HashKey,
    pub(crate) clock: Clock,
    pub(crate) signer: Signer,
    pub(crate) sender: Arc<dyn Sender>,
    pub(crate) limiter: Limiter,
    pub(crate) trust_forwarded_for: bool,
    pub(crate) dev_outbox: bool,
    /// How long a request waits for its message ([`sender::SEND_DEADLINE`]).
    pub(crate) send_deadline: std::time::Duration,
    /// How long a request may take before its message is sent ([`sender::START_BUDGET`]).
    pub(crate) start_budget: std::time::Duration,
    /// The pacing of polls for pending requests ([`ciba::pacing`]).
    pub(crate) pacing: Arc<ciba::pacing::Pacing>,
    /// The clients client authentication reads ([`http::client_auth::ClientCache`]).
    pub(crate) clients: Arc<http::client_auth::ClientCache>,
    /// What the provider counts ([`metrics`]).
    pub(crate) metrics: metrics::Metrics,
    /// Ping mode's notifications ([`ciba::ping`]).
    pub(crate) pinger: ciba::ping::Pinger,
    /// The relying party of customers' passkeys; `None`: passkeys are not configured.
    pub(crate) passkeys: Option<passkeys::Passkeys>,
}

impl AppState {
    /// Delivers `message` within the send deadline, counting it by channel as sent or failed.
    pub(crate) async fn deliver(
        &self,
        message: &sender::Outgoing,
    ) -> Result<(), sender::SendError> {
        let sent = sender::send_within(&*self.sender, message, self.send_deadline).await;
        self.metrics.message(message.channel, sent.is_ok());
        sent
    }
}

/// What tests (and embedders) may replace.
#[derive(Debug, Default)]
pub struct Options {
    /// Where `now` comes from; the system clock by default.
    pub clock: Clock,
    /// How messages are delivered, for every channel; `None` follows the configuration
    /// ([`Config::delivery`]).
    pub sender: Option<Arc<dyn Sender>>,
    /// How long a request waits for its message to be handed over; `None` is
    /// [`sender::SEND_DEADLINE`]. Tests shorten it: the store's pool has timers of its own, so
    /// they cannot run on tokio's paused clock.
    pub send_deadline: Option<std::time::Duration>,
    /// How long a backchannel request may take before its message is sent; `None` is
    /// [`sender::START_BUDGET`].
    pub start_budget: Option<std::time::Duration>,
    /// A client whose customers' links are set at bind (CIBA enabled, links to `login_uri`),
    /// as the management API would set them: for an embedder that serves the approval page.
    pub links: Option<Links>,
}

/// Where one client's CIBA links point ([`Options::links`]).
#[derive(Clone, Debug)]
pub struct Links {
    /// The client's application.
    pub app_id: String,
    pub client_id: String,
    /// The approval page the customer's link opens.
    pub login_uri: String,
    /// Where to ping the client when its customer decides (CIBA ping mode); `None`: the
    /// client polls.
    pub notify: Option<String>,
}

/// Enables CIBA for the client `links` names, its links pointing at its `login_uri`, and audits
/// it as the management API does; an error if the seed has no such client.
async fn set_links(state: &AppState, links: &Links, seed_name: &str) -> Result<(), StartError> {
    if !http::apps::login_uri_ok(&links.login_uri) {
        return Err(StartError::Seed {
            path: seed_name.to_owned(),
            problem: format!(
                "{} (client {}: {:?})",
                http::apps::LOGIN_URI_RULE,
                links.client_id,
                links.login_uri
            ),
        });
    }
    if let Some(endpoint) = links
        .notify
        .as_deref()
        .filter(|endpoint| !ciba::ping::Reach::may_register_in_process(endpoint))
    {
        return Err(StartError::Seed {
            path: seed_name.to_owned(),
            problem: format!(
                "{} (client {}: {endpoint:?})",
                ciba::ping::ENDPOINT_RULE,
                links.client_id
            ),
        });
    }
    let delivery = match links.notify.as_deref() {
        Some(endpoint) => (store::DeliveryMode::Ping, Some(endpoint)),
        None => (store::DeliveryMode::Poll, None),
    };
    let change = store::CibaChange {
        enabled: true,
        login_uri: Some(&links.login_uri),
        delivery: Some(delivery),
    };
    let client = state
        .store
        .set_ciba(&links.app_id, &links.client_id, &change)
        .await?
        .ok_or_else(|| StartError::Seed {
            path: seed_name.to_owned(),
            problem: format!(
                "no client {} in application {} to send customers to {}",
                links.client_id, links.app_id, links.login_uri
            ),
        })?;
    let detail = audit::ciba_settings(&client);
    let event = audit::Event {
        detail: Some(&detail),
        ..audit::about(audit::Kind::CibaSettingsChanged, &client)
    };
    audit::record(state, event).await;
    tracing::info!(
        login_uri = %links.login_uri,
        delivery = delivery.0.as_str(),
        "customer links point to the embedder"
    );
    Ok(())
}

/// The sender [`config::Delivery`] asks for.
fn configured_sender(
    delivery: &config::Delivery,
    store: &SharedStore,
    clock: &Clock,
) -> Result<Arc<dyn Sender>, StartError> {
    let outbox = || -> Arc<dyn Sender> { Arc::new(Outbox::new(store.clone(), clock.clone())) };
    if delivery == &config::Delivery::default() {
        return Ok(outbox());
    }
    let (email, email_kind): (Arc<dyn Sender>, _) = match &delivery.email {
        EmailDelivery::Outbox => (outbox(), "outbox"),
        EmailDelivery::Smtp(smtp) => (
            Arc::new(Smtp::new(smtp).map_err(|source| StartError::Sender {
                channel: "email",
                source,
            })?),
            "smtp",
        ),
    };
    let (sms, sms_kind): (Arc<dyn Sender>, _) = match &delivery.sms {
        SmsDelivery::Outbox => (outbox(), "outbox"),
        SmsDelivery::Webhook(webhook) => (
            Arc::new(Webhook::new(webhook, clock.clone()).map_err(|source| {
                StartError::Sender {
                    channel: "sms",
                    source,
                }
            })?),
            "webhook",
        ),
    };
    tracing::info!(email = email_kind, sms = sms_kind, "message delivery");
    Ok(Arc::new(Router::new(email, sms)))
}

/// Says at start what happens to the development outbox's messages: served (loudly), or kept
/// and not served (with how to see them).
fn announce_outbox(config: &Config, served: bool, own_sender: bool, issuer: &str) {
    if served {
        tracing::warn!(
            outbox = %format!("{issuer}/dev/outbox"),
            "{}=true: the development outbox is served, and every link and one-time code it \
             holds is public at {issuer}/dev/outbox and {issuer}/dev/outbox.json to anyone who \
             reaches this address; development only, never with real customers",
            config::DEV_OUTBOX
        );
    } else if config.dev_outbox {
        tracing::warn!(
            listen = %config.listen,
            "{}=true, but the provider does not listen on a loopback address: the development \
             outbox is not served",
            config::DEV_OUTBOX
        );
    } else if config.delivery.uses_outbox() && !own_sender {
        let channels = match (&config.delivery.email, &config.delivery.sms) {
            (EmailDelivery::Outbox, SmsDelivery::Outbox) => "emails and SMS messages",
            (EmailDelivery::Outbox, _) => "emails",
            _ => "SMS messages",
        };
        tracing::warn!(
            "{channels} go to the development outbox: they are kept in the store, not sent and \
             not served. To read them in development, set {}=true (with no real sender \
             configured) and open /dev/outbox; to deliver them, configure \
             COUNTERSIGN_EMAIL_SENDER=smtp or COUNTERSIGN_SMS_SENDER=webhook",
            config::DEV_OUTBOX
        );
    }
}

/// A provider that is bound to its port and has its store open, ready to serve.
#[derive(Debug)]
pub struct Provider {
    listener: TcpListener,
    local: SocketAddr,
    /// The `/metrics` listener, when [`Config::metrics_listen`] asks for one.
    metrics_listener: Option<(TcpListener, SocketAddr)>,
    state: AppState,
}

impl Provider {
    /// Creates the data folder, opens (and migrates) the store, and binds the listening socket.
    ///
    /// With port 0 the system picks a free port; without a configured issuer the issuer is
    /// `http://` plus the bound address.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        Self::bind_with(config, Options::default()).await
    }

    /// [`Provider::bind`] with a chosen clock and sender.
    pub async fn bind_with(config: Config, options: Options) -> Result<Self, StartError> {
        // Checked here too: embedders (the BFF, the tests) may build a `Config` by hand.
        config.check()?;
        infra::config::create_data_dir(&config.data_dir).await?;
        let hash_key = match config.hash_key.as_ref().map(|key| key.expose()) {
            Some(hex) => HashKey::from_hex(hex).ok_or_else(|| StartError::KeyFile {
                path: "COUNTERSIGN_PROVIDER_HASH_KEY".to_owned(),
                source: std::io::Error::other("not 64 hex characters"),
            })?,
            None => {
                let key_path = config.data_dir.join("provider.key");
                HashKey::load_or_create(&key_path).map_err(|source| StartError::KeyFile {
                    path: key_path.display().to_string(),
                    source,
                })?
            }
        };
        let store: SharedStore = match &config.database_url {
            Some(url) => {
                let options = infra::postgres::options(url.expose()).map_err(|problem| {
                    StartError::Database(format!("COUNTERSIGN_PROVIDER_DATABASE_URL: {problem}"))
                })?;
                Arc::new(PgStore::open(options).await?)
            }
            None => Arc::new(SqliteStore::open(&config.data_dir.join("provider.sqlite")).await?),
        };
        let clock = options.clock;
        let now = clock.now();

        let (seed_text, seed_name) = match &config.seed_file {
            Some(path) => (
                tokio::fs::read_to_string(path)
                    .await
                    .map_err(|error| StartError::Seed {
                        path: path.display().to_string(),
                        problem: error.to_string(),
                    })?,
                path.display().to_string(),
            ),
            None => (seed::DEMO.to_owned(), "the demo seed".to_owned()),
        };
        let reach = ciba::ping::Reach::new(
            config.ping_private_hosts.clone(),
            options
                .links
                .as_ref()
                .and_then(|links| links.notify.clone()),
        );
        let seed = seed::Seed::parse(&seed_text)
            .map_err(|error| error.to_string())
            .and_then(|seed| seed.check(&reach).map(|()| seed))
            .map_err(|problem| StartError::Seed {
                path: seed_name.clone(),
                problem,
            })?;
        if store.seed_if_empty(&seed, &hash_key, now).await? {
            tracing::info!(seed = %seed_name, "loaded the seed into a new store");
        }

        let mut stored_keys = store.signing_keys().await?;
        if stored_keys.is_empty() {
            // Another instance starting now may store its keys first: then those are kept, and
            // these are dropped.
            let fresh = [keys::generate_rs256(now)?, keys::generate_es256(now)?];
            store.insert_first_signing_keys(&fresh, now).await?;
            stored_keys = store.signing_keys().await?;
        }
        let signer = Signer::new(&stored_keys)?;
        // The outbox shows codes and links: only under the development switch (which no real
        // sender may go with), and only on a loopback address, never to a network.
        let dev_outbox = config.dev_outbox && config.listen.ip().is_loopback();
        let own_sender = options.sender.is_some();
        let sender = match options.sender {
            Some(sender) => sender,
            None => configured_sender(&config.delivery, &store, &clock)?,
        };

        let (listener, local) = serve::bind(config.listen).await?;
        let issuer = config
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{local}"));
        announce_outbox(&config, dev_outbox, own_sender, &issuer);
        let metrics = metrics::Metrics::default();
        let limiter = Limiter::new(config.limits.clone(), store.clone(), hash_key.clone())
            .counting_refusals(metrics.clone());
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(serve::bind(addr).await.map_err(StartError::MetricsBind)?),
            None => None,
        };
        let state = AppState {
            issuer,
            store,
            hash_key,
            clock,
            signer,
            sender,
            limiter,
            trust_forwarded_for: config.trust_forwarded_for,
            dev_outbox,
            send_deadline: options.send_deadline.unwrap_or(sender::SEND_DEADLINE),
            start_budget: options.start_budget.unwrap_or(sender::START_BUDGET),
            pacing: Arc::default(),
            clients: Arc::default(),
            pinger: ciba::ping::Pinger::new(reach, metrics.clone()).map_err(StartError::Pinger)?,
            passkeys: config
                .passkeys
                .as_ref()
                .map(passkeys::Passkeys::new)
                .transpose()
                .map_err(StartError::Passkeys)?,
            metrics,
        };
        if let Some(links) = &options.links {
            set_links(&state, links, &seed_name).await?;
        }
        Ok(Self {
            listener,
            local,
            metrics_listener,
            state,
        })
    }

    /// The address the provider listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether it serves the development outbox (`/dev/outbox`): only under
    /// `COUNTERSIGN_DEV_OUTBOX=true` on a loopback address.
    pub fn serves_dev_outbox(&self) -> bool {
        self.state.dev_outbox
    }

    /// The provider's issuer identifier (its base URL).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// Where `/metrics` is served, if it is ([`Config::metrics_listen`]).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|(_, addr)| *addr)
    }

    /// What the provider counts, for an embedder to serve with its own metrics.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.state.metrics
    }

    /// Serves requests until `shutdown` completes, then finishes the requests in flight, within
    /// the default [`serve::ServeLimits`].
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        self.serve_with(serve::ServeLimits::default(), shutdown)
            .await
    }

    /// [`Provider::serve`] within `limits`.
    pub async fn serve_with(
        self,
        limits: serve::ServeLimits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let Self {
            listener,
            metrics_listener,
            state,
            ..
        } = self;
        let store = state.store.clone();
        let pinger = state.pinger.clone();
        let stop = tokio_util::sync::CancellationToken::new();
        // The metrics listener stops with the provider, also when this future is dropped.
        let _stopping = stop.clone().drop_guard();
        let metrics_serving = metrics_listener.map(|(metrics_listener, _)| {
            let mut registry = infra::metrics::Registry::with_prefix("countersign_provider");
            state.metrics.register(&mut registry);
            tokio::spawn(serve::serve(
                metrics_listener,
                infra::metrics::router(Arc::new(registry)),
                limits,
                stop.clone().cancelled_owned(),
            ))
        });
        let result = serve::serve(listener, http::router(state), limits, shutdown).await;
        stop.cancel();
        // Pings still waiting to be tried again are dropped: their clients poll.
        pinger.finish().await;
        if let Some(serving) = metrics_serving {
            match serving.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "the metrics listener stopped"),
                Err(error) => tracing::warn!(%error, "the metrics listener failed"),
            }
        }
        store.close().await;
        result
    }
}
