//! Countersign's backend-for-frontend (BFF).
//!
//! It renders the Leptos pages, answers their server functions, and is the only part that talks
//! to the CIBA provider (over HTTP, as it would to Mosaic). Tokens and the client secret stay
//! here; browsers only ever see what the pages show.
//!
//! - [`config`]: the environment variables and what they mean.
//! - [`provider_client`]: the HTTP client for the provider, with timeouts on every call.
//! - [`router`]: the axum application, shared by the binary and the tests.
//! - [`start`]: binds the BFF (and, by default, the embedded provider) and returns a [`Running`]
//!   handle that stops both.

pub mod approve;
pub mod audit;
pub mod auth;
pub mod config;
pub mod console;
pub mod csrf;
pub mod events;
pub mod flows;
pub mod limits;
pub mod malformed;
pub mod memo;
pub mod oidc;
pub mod provider_client;
pub mod sealed;
pub mod security;
pub mod session;
pub mod store;

use std::{io, net::SocketAddr, sync::Arc};

use app::{
    App,
    api::{AgentInfo, VerificationRequest},
    flow::FlowView,
    health::ProviderStatus,
    shell,
    ssr::{Backend, BackendHandle, BoxFuture, Refusal},
};
use axum::http::HeaderMap;
use axum::{
    Router,
    extract::{FromRef, State},
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

pub use config::{Config, ProviderMode};
use flows::{clock::Clock, connect, engine::Engine, provider::OidcCiba};
use oidc::{Credentials, Profile, ProviderSettings};
use provider_client::ProviderClient;
use std::time::Duration;
use store::{SharedStore, SqliteStore};

/// The BFF's services, reached by server functions through [`app::ssr::Backend`] and by the
/// BFF's own routes.
#[derive(Debug)]
pub struct Bff {
    /// The provider's health, for the status panel.
    provider: ProviderClient,
    /// The provider's OIDC and CIBA API, connected on first use.
    pub oidc: Arc<flows::connect::Provider>,
    /// Verifications and their pollers.
    pub engine: Engine,
    /// Sessions, flows and events.
    pub store: SharedStore,
    /// The BFF's address as browsers reach it.
    pub public_url: String,
    /// How long agent sessions last.
    pub session_idle: Duration,
    /// And at most.
    pub session_max: Duration,
    /// Whether the provider runs in this process.
    pub provider_embedded: bool,
    /// Whether the embedded provider serves its development outbox (`COUNTERSIGN_DEV_OUTBOX`);
    /// the console links to it only then.
    pub dev_outbox: bool,
    /// The provider's issuer.
    pub provider_issuer: String,
    /// Who asks, as the customer's approval page names it.
    pub display_name: String,
    /// Whether a reverse proxy appends the client's address to `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Seals the customer tokens the store keeps.
    pub sealer: Arc<sealed::Sealer>,
    /// The BFF's rate limits.
    pub limits: limits::BffLimits,
    /// The agents' open event streams.
    pub streams: Arc<events::Seats>,
}

impl Backend for Bff {
    fn provider_status(&self, headers: HeaderMap) -> BoxFuture<'_, ProviderStatus> {
        Box::pin(async move {
            let status = self.provider.status().await;
            if self.me(&headers).await.ok().flatten().is_some() {
                status
            } else {
                status.public()
            }
        })
    }

    fn me(&self, headers: HeaderMap) -> BoxFuture<'_, Result<Option<AgentInfo>, Refusal>> {
        Box::pin(async move { Bff::me(self, &headers).await })
    }

    fn start_verification(
        &self,
        headers: HeaderMap,
        request: VerificationRequest,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>> {
        Box::pin(async move { Bff::start_verification(self, &headers, request).await })
    }

    fn cancel_verification(
        &self,
        headers: HeaderMap,
        flow_id: String,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>> {
        Box::pin(async move { Bff::cancel_verification(self, &headers, &flow_id).await })
    }

    fn end_customer_session(
        &self,
        headers: HeaderMap,
        flow_id: String,
    ) -> BoxFuture<'_, Result<FlowView, Refusal>> {
        Box::pin(async move { Bff::end_customer_session(self, &headers, &flow_id).await })
    }

    fn verifications(
        &self,
        headers: HeaderMap,
        before: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<FlowView>, Refusal>> {
        Box::pin(async move { Bff::verifications(self, &headers, before.as_deref()).await })
    }

    fn approval(
        &self,
        request: axum::http::request::Parts,
        link: app::approve::ApprovalLink,
    ) -> BoxFuture<'_, Result<app::approve::ApprovalView, Refusal>> {
        Box::pin(async move { approve::view(self, &request, &link).await })
    }

    fn approval_step(
        &self,
        request: axum::http::request::Parts,
        link: app::approve::ApprovalLink,
        step: app::approve::ApprovalStep,
    ) -> BoxFuture<'_, Result<Option<String>, Refusal>> {
        Box::pin(async move { approve::step(self, &request, &link, step).await })
    }
}

/// State of every request: the Leptos options and the BFF's services.
#[derive(Clone, Debug)]
pub struct AppState {
    /// How the pages are served (output name, site root, address).
    pub leptos_options: LeptosOptions,
    /// The BFF's services.
    pub bff: Arc<Bff>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Builds the BFF's router.
///
/// Order of routing: the BFF's own endpoints, then the pages and server functions that Leptos
/// registers, then static files from the site root, then the app's "not found" page. Around
/// all of it: the CSRF guard, then the security headers ([`security`]).
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let backend = BackendHandle(state.bff.clone());
    let options = state.leptos_options.clone();
    // Every Leptos handler (pages, server functions, the "not found" page) gets the backend
    // and this response's CSP nonce.
    let context = move || {
        provide_context(backend.clone());
        security::provide_leptos_nonce();
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(events::routes())
        .merge(audit::routes())
        .merge(auth::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        // Server function calls whose arguments cannot be read: 400, not 500.
        .layer(axum::middleware::from_fn(malformed::readable))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(axum::middleware::from_fn(limit_body))
        // Outermost: refusals of the layers inside get the headers too.
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(state)
}

/// The longest request body the BFF takes. Its bodies are server-function arguments (an email
/// or phone number, a binding message, a flow id, a one-time code) and sign-out posts: a few
/// hundred bytes. Nothing takes uploads.
pub const MAX_BODY: usize = 64 * 1024;

/// Reads every request body whole, up to [`MAX_BODY`] bytes, before any route (or the CSRF
/// guard) sees it; a longer one is refused with 413 at once (before reading it, when
/// `Content-Length` says so), with `{"error": "…"}` like the BFF's other refusals.
async fn limit_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (status, sentence) = match infra::serve::buffer_request(request, MAX_BODY).await {
        Ok(request) => return next.run(request).await,
        Err(infra::serve::BodyError::TooLarge) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than {} KiB.", MAX_BODY / 1024),
        ),
        Err(infra::serve::BodyError::Unreadable) => (
            StatusCode::BAD_REQUEST,
            "The request body could not be read.".to_owned(),
        ),
    };
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::json!({ "error": sentence })),
    )
        .into_response()
}

/// Liveness: the process is up and serving.
async fn healthz() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        "ok",
    )
}

/// Readiness: 200 when the BFF's store answers and the provider is reachable (discovered), 503
/// with the reason otherwise. A load balancer sends customers and agents elsewhere meanwhile.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let bff = &state.bff;
    let store = bff.store.ping().await;
    let provider = bff.oidc.client().await;
    let (status, body) = match (&store, &provider) {
        (Ok(()), Ok(_)) => (StatusCode::OK, serde_json::json!({ "status": "ready" })),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({
                "status": "not ready",
                "store": if store.is_ok() { "ok" } else { "unavailable" },
                "provider": if provider.is_ok() { "ok" } else { "unreachable" },
            }),
        ),
    };
    if let Err(error) = &provider {
        tracing::warn!(%error, "not ready: the provider");
    }
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(body),
    )
}

/// Why Countersign could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The embedded provider could not start.
    #[error("the embedded provider cannot start: {0}")]
    Provider(#[from] provider::StartError),
    /// The BFF's socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The BFF's data folder could not be created.
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: String,
        /// What the operating system said.
        source: io::Error,
    },
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
    shutdown: CancellationToken,
    tasks: JoinSet<io::Result<()>>,
    engine: Engine,
    store: SharedStore,
}

/// Starts Countersign as configured and returns once both servers accept connections.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();

    let mut dev_outbox = false;
    let (provider_base, provider_issuer, provider_embedded, profile) = match config.provider {
        ProviderMode::Embedded(provider_config) => {
            let provider = provider::Provider::bind(*provider_config).await?;
            dev_outbox = provider.serves_dev_outbox();
            let bound = provider
                .local_addr()
                .map_err(|source| provider::StartError::Bind {
                    addr: "0.0.0.0:0"
                        .parse()
                        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
                    source,
                })?;
            let issuer = provider.issuer().to_owned();
            tasks.spawn(
                provider.serve_with(config.serve_limits, shutdown.clone().cancelled_owned()),
            );
            (
                format!("http://{}", reachable(bound)),
                issuer,
                true,
                Profile::Embedded,
            )
        }
        ProviderMode::External { url, profile } => (url.clone(), url, false, profile),
    };

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;

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
    tokio::fs::create_dir_all(&config.data_dir)
        .await
        .map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    // Countersign serves plain HTTP: an https address means a proxy in front, whose address
    // every per-address limit would count unless told to read X-Forwarded-For.
    if public_url.starts_with("https://") && !config.trust_forwarded_for {
        tracing::warn!(
            "COUNTERSIGN_PUBLIC_URL is https but COUNTERSIGN_TRUST_FORWARDED_FOR is off: behind \
             a reverse proxy, the per-address limits (sign-ins, the approval page) count the \
             proxy's address for everyone"
        );
    }
    let store: SharedStore =
        Arc::new(SqliteStore::open(&config.data_dir.join("countersign.sqlite")).await?);
    let key_path = config.data_dir.join("countersign.key");
    let sealer =
        Arc::new(
            sealed::Sealer::load_or_create(&key_path).map_err(|source| StartError::Key {
                path: key_path.display().to_string(),
                source,
            })?,
        );
    let oidc = Arc::new(connect::Provider::new(
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
        provider_embedded.then(|| {
            (
                config.client.app_id.clone(),
                format!("{public_url}/approve"),
            )
        }),
    ));
    let engine = Engine::new(
        store.clone(),
        Arc::new(OidcCiba::new(oidc.clone(), sealer.clone())),
        Clock::system(),
        config.request_expiry,
    );
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
        dev_outbox,
        provider_issuer: provider_issuer.clone(),
        display_name: config.display_name.clone(),
        trust_forwarded_for: config.trust_forwarded_for,
        sealer,
        limits: config.limits,
        streams: Arc::default(),
    };
    let app = router(AppState {
        leptos_options,
        bff: Arc::new(bff),
    });
    // Handlers get the peer's address (ConnectInfo), for the per-address rate limits.
    tasks.spawn(infra::serve::serve(
        listener,
        app,
        config.serve_limits,
        shutdown.clone().cancelled_owned(),
    ));

    Ok(Running {
        url: format!("http://{}", reachable(bound)),
        provider_issuer,
        provider_embedded,
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
        let first = tokio::select! {
            () = signal => Ok(()),
            Some(joined) = self.tasks.join_next() => flatten(joined)
                .and_then(|()| Err(io::Error::other("a server stopped unexpectedly"))),
        };
        let rest = self.stop().await;
        first.and(rest)
    }

    /// Stops both servers and waits for them.
    pub async fn stop(mut self) -> io::Result<()> {
        self.engine.shutdown().await;
        self.shutdown.cancel();
        let mut result = Ok(());
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
