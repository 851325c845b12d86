//! Start-up and shut-down: binds the BFF and, by default, the embedded provider, and returns a
//! [`Running`] handle that stops both.

use std::{io, net::SocketAddr, sync::Arc};

use leptos::prelude::LeptosOptions;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    AppState, Bff,
    config::{Config, ProviderMode, TokenDelivery},
    flows::{clock::Clock, connect, engine::Engine, provider::OidcCiba},
    metrics::Metrics,
    oidc::{Credentials, Profile, ProviderSettings},
    provider_client::ProviderClient,
    router, sealed,
    store::{self, PgStore, SharedStore, SqliteStore},
};

/// Why Countersign could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The embedded provider could not start.
    #[error("the embedded provider cannot start: {0}")]
    Provider(#[from] provider::StartError),
    /// The BFF's socket could not be bound.
    #[error(transparent)]
    Bind(#[from] infra::serve::BindError),
    /// The metrics' socket could not be bound.
    #[error("COUNTERSIGN_METRICS_ADDR: {0} (give another address, or `off`)")]
    MetricsBind(infra::serve::BindError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The BFF's data folder could not be created.
    #[error(transparent)]
    DataDir(#[from] infra::config::DataDirError),
    /// The key that seals stored tokens could not be read or made.
    #[error("cannot read or create the key file {path}: {source}")]
    Key {
        /// The file.
        path: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The BFF's store could not be opened.
    #[error("{0}")]
    Store(#[from] store::StoreError),
    /// Flows kept from before sealing could not be sealed.
    #[error("{0}")]
    SealKept(#[from] sealed::SealKeptError),
}

/// A started Countersign: the BFF and, unless an external one is configured, the provider.
#[derive(Debug)]
pub struct Running {
    /// The BFF's base URL, e.g. `http://127.0.0.1:3000`.
    pub url: String,
    /// The provider's issuer identifier.
    pub provider_issuer: String,
    /// Whether the provider runs in this process.
    pub provider_embedded: bool,
    /// This instance's id, as its flow leases name it (logs and operators tell instances apart
    /// by it).
    pub instance: String,
    /// Where `/metrics` answers (`http://…/metrics`), unless it is switched off.
    pub metrics_url: Option<String>,
    /// Stops the BFF's listener.
    http_shutdown: CancellationToken,
    /// The BFF's listener serving, until it stops.
    serving: Option<JoinHandle<io::Result<()>>>,
    /// Stops the embedded provider and the listener for other instances' events.
    shutdown: CancellationToken,
    tasks: JoinSet<io::Result<()>>,
    engine: Engine,
    store: SharedStore,
}

/// Starts Countersign as configured and returns once both servers accept connections.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();

    let (listener, bound) = infra::serve::bind(config.listen).await?;
    // The metrics' own listener, bound before anything starts: a taken address stops the start
    // with nothing begun.
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            infra::serve::bind(addr)
                .await
                .map_err(StartError::MetricsBind)?,
        ),
        None => None,
    };
    let leptos_options = LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(bound)
        .build();
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", reachable(bound)));

    let mut dev_outbox = false;
    let mut passkeys = config.passkeys;
    let mut passkey_rp_id = None;
    let metrics = Metrics::default();
    let mut provider_metrics = None;
    let (provider_base, provider_issuer, provider_embedded, profile) = match config.provider {
        ProviderMode::Embedded(mut provider_config) => {
            // Its metrics are served with the BFF's, on the BFF's metrics listener.
            provider_config.metrics_listen = None;
            // Customers' passkeys belong to the approval page: this BFF's origin, when it names
            // a domain (passkeys cannot be bound to an IP address) and none is configured.
            if provider_config.passkeys.is_none()
                && let Some(origin) = crate::csrf::origin_of(&public_url)
                && let Ok(passkeys) = provider::passkeys::PasskeyConfig::new(&origin, None)
            {
                provider_config.passkeys = Some(passkeys);
            }
            passkeys = provider_config.passkeys.is_some();
            passkey_rp_id = provider_config
                .passkeys
                .as_ref()
                .map(|passkeys| passkeys.rp_id.clone());
            // The customers' links lead to this BFF's approval page, set as the provider binds.
            let links = provider::Links {
                app_id: config.client.app_id.clone(),
                client_id: config.client.id.clone(),
                login_uri: format!("{public_url}/approve"),
                // Pings come from this process: to the address bound, not through a proxy.
                notify: (config.delivery == TokenDelivery::Ping)
                    .then(|| format!("http://{}{}", reachable(bound), crate::notify::PATH)),
            };
            let options = provider::Options {
                links: Some(links),
                ..provider::Options::default()
            };
            let provider = provider::Provider::bind_with(*provider_config, options).await?;
            dev_outbox = provider.serves_dev_outbox();
            provider_metrics = Some(provider.metrics().clone());
            let issuer = provider.issuer().to_owned();
            let base = format!("http://{}", reachable(provider.local_addr()));
            tasks.spawn(
                provider.serve_with(config.serve_limits, shutdown.clone().cancelled_owned()),
            );
            (base, issuer, true, Profile::Embedded)
        }
        ProviderMode::External { url, profile } => (url.clone(), url, false, profile),
    };

    infra::config::create_data_dir(&config.data_dir).await?;
    // Countersign serves plain HTTP: an https address means a proxy in front, whose address
    // every per-address limit would count unless told to read X-Forwarded-For.
    if public_url.starts_with("https://") && !config.trust_forwarded_for {
        tracing::warn!(
            "COUNTERSIGN_PUBLIC_URL is https but COUNTERSIGN_TRUST_FORWARDED_FOR is off: behind \
             a reverse proxy, the per-address limits (sign-ins, the approval page) count the \
             proxy's address for everyone"
        );
    }
    // On PostgreSQL other instances write too: their events are heard through LISTEN.
    let (store, shared): (SharedStore, Option<PgStore>) = match &config.database_url {
        Some(url) => {
            let options = infra::postgres::options(url.expose()).map_err(|problem| {
                store::StoreError::Open(format!("COUNTERSIGN_DATABASE_URL: {problem}").into())
            })?;
            let pg = PgStore::open(options).await?;
            (Arc::new(pg.clone()), Some(pg))
        }
        None => (
            Arc::new(SqliteStore::open(&config.data_dir.join("countersign.sqlite")).await?),
            None,
        ),
    };
    let sealer = Arc::new(match &config.sealing_key {
        // Checked when the configuration was read.
        Some(key) => sealed::Sealer::from_hex(key.expose()).ok_or_else(|| StartError::Key {
            path: "COUNTERSIGN_SEALING_KEY".to_owned(),
            source: std::io::Error::other("not 64 hex characters"),
        })?,
        None => {
            let key_path = config.data_dir.join("countersign.key");
            sealed::Sealer::load_or_create(&key_path).map_err(|source| StartError::Key {
                path: key_path.display().to_string(),
                source,
            })?
        }
    });
    let oidc = Arc::new(connect::Provider::observed(
        ProviderSettings {
            profile,
            base_url: provider_base.clone(),
            issuer: provider_issuer.clone(),
            discovery_url: None,
            credentials: Credentials {
                client_id: config.client.id.clone(),
                client_secret: config.client.secret.clone(),
            },
        },
        metrics.clone(),
    ));
    let resealed = sealed::seal_kept_requests(&*store, &sealer).await?;
    if resealed > 0 {
        tracing::info!(resealed, "requests kept from before sealing are now sealed");
    }
    let engine = Engine::new(
        store.clone(),
        Arc::new(
            OidcCiba::new(oidc.clone(), sealer.clone())
                .pinged(config.delivery == TokenDelivery::Ping),
        ),
        Clock::system(),
        config.request_expiry,
        metrics.clone(),
    );
    let sole = shared.is_none();
    if let Some(pg) = shared {
        let heard_by = engine.clone();
        let stop = shutdown.clone();
        tasks.spawn(async move {
            pg.listen(
                move |heard| match heard {
                    store::Heard::Event {
                        id,
                        flow_id,
                        agent_sub,
                    } => heard_by.heard(id, &flow_id, agent_sub),
                    store::Heard::Wake { flow_id } => heard_by.wake_poller(&flow_id),
                    store::Heard::Reconnected => heard_by.look_again(),
                },
                stop,
            )
            .await;
            Ok(())
        });
    }
    if sole {
        // SQLite: this is the only instance, and leases left in the file are its own, from a
        // process that did not stop gracefully: resume those flows now, not when they end.
        store.release_leases(None).await?;
    }
    let resumed = engine.resume().await?;
    if resumed > 0 {
        tracing::info!(resumed, "pending verifications resumed");
    }
    let bff = Bff {
        provider: ProviderClient::new(provider_base, provider_issuer.clone())?,
        oidc,
        engine: engine.clone(),
        store: store.clone(),
        public_url: public_url.clone(),
        session_idle: config.session_idle,
        session_max: config.session_max,
        provider_embedded,
        passkeys,
        passkey_rp_id,
        dev_outbox,
        provider_issuer: provider_issuer.clone(),
        display_name: config.display_name.clone(),
        trust_forwarded_for: config.trust_forwarded_for,
        sealer,
        limits: config.limits,
        streams: Arc::default(),
        metrics: metrics.clone(),
    };
    let app = router(AppState {
        leptos_options,
        bff: Arc::new(bff),
    });
    let metrics_url = match metrics_listener {
        Some((metrics_listener, metrics_bound)) => {
            let registry = crate::metrics::registry(&metrics, provider_metrics.as_ref());
            tasks.spawn(infra::serve::serve(
                metrics_listener,
                infra::metrics::router(registry),
                config.serve_limits,
                shutdown.clone().cancelled_owned(),
            ));
            Some(format!("http://{}/metrics", reachable(metrics_bound)))
        }
        None => None,
    };
    // Handlers get the peer's address (ConnectInfo), for the per-address rate limits.
    // Its own stop, so that `Running::stop` can end it before the pollers and the provider.
    let http_shutdown = CancellationToken::new();
    let serving = tokio::spawn(infra::serve::serve(
        listener,
        app,
        config.serve_limits,
        http_shutdown.clone().cancelled_owned(),
    ));

    Ok(Running {
        url: format!("http://{}", reachable(bound)),
        provider_issuer,
        provider_embedded,
        instance: engine.instance().to_owned(),
        metrics_url,
        http_shutdown,
        serving: Some(serving),
        shutdown,
        tasks,
        engine,
        store,
    })
}

/// A bound address as a client can reach it: `0.0.0.0` becomes `127.0.0.1`.
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new([127, 0, 0, 1].into(), addr.port())
    } else {
        addr
    }
}

impl Running {
    /// Runs until `signal` completes or a server stops on its own, then stops everything,
    /// letting requests in flight finish.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> io::Result<()> {
        let unexpected = |joined| {
            flatten(joined).and_then(|()| Err(io::Error::other("a server stopped unexpectedly")))
        };
        let first = match self.serving.as_mut() {
            Some(serving) => tokio::select! {
                () = signal => Ok(()),
                Some(joined) = self.tasks.join_next() => unexpected(joined),
                joined = serving => {
                    self.serving = None;
                    unexpected(joined)
                }
            },
            None => Ok(()),
        };
        let rest = self.stop().await;
        first.and(rest)
    }

    /// Stops everything and waits for it, in the order that loses nothing: the BFF's listener
    /// first (no new requests, streams closed, requests in flight answered, so a verification
    /// started meanwhile still gets its poller), then the pollers (their leases released, so
    /// other instances take the flows over at once), then the embedded provider and the
    /// listener for other instances' events.
    pub async fn stop(mut self) -> io::Result<()> {
        self.http_shutdown.cancel();
        let mut result = match self.serving.take() {
            Some(serving) => flatten(serving.await),
            None => Ok(()),
        };
        self.engine.shutdown().await;
        self.shutdown.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            result = result.and(flatten(joined));
        }
        self.store.close().await;
        result
    }
}

fn flatten(joined: Result<io::Result<()>, tokio::task::JoinError>) -> io::Result<()> {
    joined.map_err(io::Error::other).and_then(|result| result)
}
