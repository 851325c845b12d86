//! CIBA ping mode (CIBA Core §5, §7.1, §10.2): what a ping client must send and register, and
//! the notification the provider sends once a request is decided.
//!
//! A client registered for ping names one `backchannel_client_notification_endpoint` (seed or
//! settings API; checked by [`endpoint_ok`]) and sends a `client_notification_token` with every
//! backchannel request ([`token_ok`]). When the customer approves or denies, [`Pinger::notify`]
//! POSTs `{"auth_req_id": …}` to the endpoint the client registered, never to an address taken
//! from a request, with `Authorization: Bearer <client_notification_token>`:
//!
//! - no redirect is followed, and each attempt ends after [`ATTEMPT_TIMEOUT`];
//! - a 2xx is delivered, any other 4xx is refused and not sent again;
//! - a 5xx, a 408 or 429, a timeout or no connection is tried again after 1, 2 and 4 seconds,
//!   then given up;
//!   the client still learns the outcome at its next poll (ping clients may poll).
//!
//! The token is kept sealed under the request's `auth_req_id` (the store holds only the id's
//! hash), so only a caller presenting the id can have it sent.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use infra::secret::Secret;
use reqwest::{
    StatusCode, Url,
    dns::{Addrs, Name, Resolve, Resolving},
    header,
    redirect::Policy,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::metrics::Metrics;

/// The fewest characters of a `client_notification_token`: 22 characters of its alphabet
/// hold 128 bits (CIBA Core §7.1 asks for at least that much entropy).
pub const MIN_TOKEN_CHARS: usize = 22;
/// The most characters of a `client_notification_token` (CIBA Core §7.1: 1024).
pub const MAX_TOKEN_CHARS: usize = 1024;
/// How long one notification attempt may take, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The waits before the second, third and fourth attempts.
pub const RETRY_WAITS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// What a refused `client_notification_token` is told.
pub const TOKEN_RULE: &str = "client_notification_token is required for a ping client: 22 to \
     1024 characters of A-Z a-z 0-9 - . _ ~ + / (then = padding), at least 128 bits of entropy.";
/// What a refused notification endpoint is told.
pub const ENDPOINT_RULE: &str = "backchannel_client_notification_endpoint must be an https URL \
     on a public address, without credentials or a fragment; a loopback or private host, or \
     plain http, only on a host the operator lists in COUNTERSIGN_PROVIDER_PING_PRIVATE_HOSTS.";

/// Whether `token` may be a `client_notification_token`: a bearer token (RFC 6750 `b64token`)
/// of [`MIN_TOKEN_CHARS`] to [`MAX_TOKEN_CHARS`] characters.
pub fn token_ok(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    (MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&token.len())
        && body.len() >= MIN_TOKEN_CHARS
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// `uri` as an endpoint URL if it is one at all: `http` or `https` with a host, no user name or
/// password, no fragment, no whitespace, at most 2000 characters.
fn well_formed(uri: &str) -> Option<Url> {
    if uri.len() > 2000 || uri.chars().any(char::is_whitespace) {
        return None;
    }
    let url = Url::parse(uri).ok()?;
    let plain = url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
    let web = matches!(url.scheme(), "http" | "https");
    (plain && web && url.host_str().is_some_and(|host| !host.is_empty())).then_some(url)
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, unique
/// local), link-local (cloud metadata services live there), shared (CGNAT), documentation,
/// benchmarking, multicast, reserved or unspecified. An IPv4 address written as IPv6 is judged
/// as the IPv4 address it is.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => public_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let [first, second, ..] = ip.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if first == 0x64 && second == 0xff9b && ip.segments()[2..6] == [0; 4] {
                let [.., a, b, c, d] = ip.octets();
                return public_v4(Ipv4Addr::new(a, b, c, d));
            }
            // 6to4 (2002::/16) carries one in bits 16 to 48.
            if first == 0x2002 {
                let [_, _, a, b, c, d, ..] = ip.octets();
                return public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(ip.is_unspecified()
                || ip.is_loopback()
                || ip.is_multicast()
                || (first == 0x2001 && second == 0) // Teredo 2001::/32: a tunnel to anywhere
                || (first == 0x64 && second == 0xff9b) // NAT64 local use 64:ff9b:1::/48 and the rest
                || first & 0xfe00 == 0xfc00 // unique local fc00::/7
                || first & 0xffc0 == 0xfe80 // link-local fe80::/10
                || first & 0xffc0 == 0xfec0 // site-local fec0::/10 (deprecated)
                || (first == 0x2001 && second == 0x0db8) // documentation
                || (first == 0 && second == 0)) // ::/32: unspecified, IPv4-compatible, reserved
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && b & 0xc0 == 64) // shared address space 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && b & 0xfe == 18)) // benchmarking 198.18.0.0/15
}

/// One host the operator lets pings reach on a private address and by plain http
/// (`COUNTERSIGN_PROVIDER_PING_PRIVATE_HOSTS`): a name or an address, with or without a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateHost {
    /// Lower case; an IPv6 address without its brackets.
    host: String,
    /// `None`: any port.
    port: Option<u16>,
}

impl std::str::FromStr for PrivateHost {
    type Err = String;

    /// `bff.internal`, `bff.internal:8080`, `10.0.0.5`, `[fd00::5]:3000`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let url = Url::parse(&format!("http://{text}/"))
            .ok()
            .filter(|url| url.path() == "/" && url.query().is_none() && url.username().is_empty())
            .filter(|url| url.password().is_none() && url.fragment().is_none())
            .filter(|_| !text.is_empty() && !text.contains(['/', '@', '?', '#']));
        let Some(url) = url else {
            return Err(format!(
                "{text:?} is not a host or host:port (bff.internal, 10.0.0.5:3000, [fd00::5])"
            ));
        };
        let host = url.host_str().unwrap_or_default();
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            // The URL drops port 80 as http's default; the text says whether one was named.
            port: url.port().or_else(|| {
                let after_host = text.rsplit_once(']').map_or(text, |(_, rest)| rest);
                after_host.contains(':').then_some(80)
            }),
        })
    }
}

impl PrivateHost {
    fn matches(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        host.trim_start_matches('[').trim_end_matches(']') == self.host
            && self
                .port
                .is_none_or(|port| url.port_or_known_default() == Some(port))
    }
}

/// Where pings may go. By default only to https endpoints on public addresses, so that a
/// client registering an endpoint cannot aim the provider at the network it runs in (SSRF).
/// Beyond that: the hosts the operator lists, and the one endpoint an embedder registers in
/// its own process ([`crate::Links::notify`]).
#[derive(Clone, Debug, Default)]
pub struct Reach {
    private_hosts: Vec<PrivateHost>,
    in_process: Option<String>,
}

/// How a ping to one endpoint goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// Named by the operator or the embedder: sent as it is.
    Trusted,
    /// An https endpoint on a name or a public address: sent only to the public addresses the
    /// name resolves to.
    Public,
    /// Not sent.
    Blocked,
}

impl Reach {
    /// Pings may also reach `private_hosts`, and `in_process` (an embedder's own endpoint).
    pub fn new(private_hosts: Vec<PrivateHost>, in_process: Option<String>) -> Self {
        Self {
            private_hosts,
            // Compared as a parsed URL is written, so that `http://A:1` is `http://a:1/`.
            in_process: in_process.map(|uri| Url::parse(&uri).map_or(uri, String::from)),
        }
    }

    /// Whether a client may register `uri` as its notification endpoint (seed or settings
    /// API), by [`ENDPOINT_RULE`]. A name is checked again when a ping is sent, against the
    /// addresses it resolves to then.
    pub fn may_register(&self, uri: &str) -> bool {
        well_formed(uri).is_some_and(|url| self.route(&url) != Route::Blocked)
    }

    /// Whether an embedder's in-process endpoint may be registered: any well-formed http or
    /// https URL (the embedder binds it itself, often on plain http).
    pub fn may_register_in_process(uri: &str) -> bool {
        well_formed(uri).is_some()
    }

    fn route(&self, url: &Url) -> Route {
        if self.in_process.as_deref() == Some(url.as_str())
            || self.private_hosts.iter().any(|host| host.matches(url))
        {
            return Route::Trusted;
        }
        if url.scheme() != "https" {
            return Route::Blocked;
        }
        let host = url.host_str().unwrap_or_default();
        let reachable = match host.trim_start_matches('[').trim_end_matches(']').parse() {
            Ok(ip) => public(ip),
            Err(_) => !host.is_empty() && !local_name(host),
        };
        if reachable {
            Route::Public
        } else {
            Route::Blocked
        }
    }
}

/// Names that mean this machine whatever DNS says (RFC 6761).
fn local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Resolves names for pings to public endpoints, keeping only public addresses: a name that
/// points at a private address, at the time of sending too (DNS rebinding), is not reached.
#[derive(Debug)]
struct PublicOnly;

/// A name resolved to no public address.
#[derive(Debug)]
struct NoPublicAddress;

impl std::fmt::Display for NoPublicAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the endpoint's name resolves to no public address")
    }
}

impl std::error::Error for NoPublicAddress {}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let kept: Vec<SocketAddr> = found.filter(|addr| public(addr.ip())).collect();
            if kept.is_empty() {
                return Err(Box::new(NoPublicAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// Whether `error` was [`PublicOnly`] refusing every address of a name.
fn blocked_by_resolver(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<NoPublicAddress>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// How one notification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A 2xx.
    Delivered,
    /// A 4xx (or any other final answer): not sent again.
    Refused,
    /// Every attempt failed (5xx, timeout, no connection), or the provider stopped.
    Failed,
    /// The endpoint is on an address pings may not reach: not sent.
    Blocked,
}

impl Delivery {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
        }
    }
}

/// Sends ping notifications in the background, and stops their retries when the provider stops.
#[derive(Clone, Debug)]
pub struct Pinger {
    /// For trusted endpoints.
    http: reqwest::Client,
    /// For public ones: resolving only to public addresses.
    public: reqwest::Client,
    reach: Arc<Reach>,
    tasks: TaskTracker,
    stop: CancellationToken,
    metrics: Metrics,
}

impl Pinger {
    /// A pinger sending where `reach` allows, counting its notifications in `metrics`.
    pub fn new(reach: Reach, metrics: Metrics) -> Result<Self, reqwest::Error> {
        // No proxy from the environment either: it would connect wherever it is asked to.
        let client = || {
            reqwest::Client::builder()
                .timeout(ATTEMPT_TIMEOUT)
                .connect_timeout(ATTEMPT_TIMEOUT)
                .redirect(Policy::none())
                .no_proxy()
        };
        Ok(Self {
            http: client().build()?,
            public: client().dns_resolver(Arc::new(PublicOnly)).build()?,
            reach: Arc::new(reach),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
            metrics,
        })
    }

    /// Where pings may go.
    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// Notifies `endpoint` (the client's registered one) that `auth_req_id` was decided, in the
    /// background.
    pub fn notify(&self, endpoint: &str, auth_req_id: &str, token: Secret) {
        let Ok(url) = Url::parse(endpoint) else {
            // Checked when it was registered; an endpoint stored before that check is skipped.
            tracing::warn!("a ping client's notification endpoint cannot be read; not notified");
            return;
        };
        let body = serde_json::json!({ "auth_req_id": auth_req_id }).to_string();
        let pinger = self.clone();
        self.tasks.spawn(async move {
            let delivery = pinger.deliver(&url, &body, &token).await;
            pinger.metrics.ping(delivery.as_str());
            match delivery {
                Delivery::Delivered => tracing::debug!(host = url.host_str(), "ping delivered"),
                Delivery::Refused => tracing::warn!(
                    host = url.host_str(),
                    "the client refused the ping; it learns the outcome when it polls"
                ),
                Delivery::Failed => tracing::warn!(
                    host = url.host_str(),
                    "the ping could not be delivered; the client learns the outcome when it polls"
                ),
                Delivery::Blocked => tracing::warn!(
                    host = url.host_str(),
                    "the ping's endpoint is not on a public address nor a listed private host \
                     (COUNTERSIGN_PROVIDER_PING_PRIVATE_HOSTS); not sent"
                ),
            }
        });
    }

    /// One notification with its retries.
    async fn deliver(&self, url: &Url, body: &str, token: &Secret) -> Delivery {
        let http = match self.reach.route(url) {
            Route::Trusted => &self.http,
            Route::Public => &self.public,
            Route::Blocked => return Delivery::Blocked,
        };
        let mut waits = RETRY_WAITS.iter();
        loop {
            let attempt = http
                .post(url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", token.expose()))
                .body(body.to_owned())
                .send();
            let answer = tokio::select! {
                answer = attempt => answer,
                () = self.stop.cancelled() => return Delivery::Failed,
            };
            match answer.map(|response| response.status()) {
                Ok(status) if status.is_success() => return Delivery::Delivered,
                Ok(status) if !retryable(status) => return Delivery::Refused,
                Err(error) if blocked_by_resolver(&error) => return Delivery::Blocked,
                Ok(_) | Err(_) => {}
            }
            let Some(wait) = waits.next() else {
                return Delivery::Failed;
            };
            tokio::select! {
                () = tokio::time::sleep(*wait) => {}
                () = self.stop.cancelled() => return Delivery::Failed,
            }
        }
    }

    /// Stops retrying and waits for the attempts in flight.
    pub async fn finish(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Whether an answer is worth another attempt: a server error, or 408 and 429, which say "later".
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_token_needs_128_bits_of_a_bearer_alphabet() {
        assert!(token_ok(&"a".repeat(22)));
        assert!(token_ok("AbC-._~+/0123456789xyzQ=="));
        assert!(token_ok(&"Z".repeat(1024)));
        assert!(!token_ok(&"a".repeat(21)));
        assert!(!token_ok(&format!("{}==", "a".repeat(20))));
        assert!(!token_ok(&"Z".repeat(1025)));
        assert!(!token_ok("0123456789 0123456789abc"));
        assert!(!token_ok("0123456789\"0123456789abc"));
        assert!(!token_ok("0123456789é0123456789abc"));
        assert!(!token_ok(""));
    }

    fn hosts(list: &[&str]) -> Vec<PrivateHost> {
        list.iter().map(|host| host.parse().unwrap()).collect()
    }

    #[test]
    fn by_default_an_endpoint_is_https_on_a_public_host() {
        let reach = Reach::default();
        for good in [
            "https://bff.example/ciba/notify",
            "https://bff.example:8443/ciba/notify?x=1",
            "https://203.0.114.7/ciba/notify",
            "https://[2a00:1450::1]/ciba/notify",
        ] {
            assert!(reach.may_register(good), "{good}");
        }
        for bad in [
            "http://bff.example/ciba/notify",
            "http://127.0.0.1:3000/ciba/notify",
            "https://127.0.0.1/ciba/notify",
            "https://localhost/ciba/notify",
            "https://api.localhost./ciba/notify",
            "https://10.0.0.1/ciba/notify",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[2002:a9fe:a9fe::1]/",
            "https://[2001:0:4136:e378::1]/",
            "https://[64:ff9b:1::a9fe:a9fe]/",
            "https://user:pw@bff.example/ciba/notify",
            "https://bff.example/ciba/notify#x",
            "ftp://bff.example/",
            "https://",
            "https://bff.example/a b",
            "/ciba/notify",
            "",
        ] {
            assert!(!reach.may_register(bad), "{bad}");
        }
        assert!(!reach.may_register(&format!("https://bff.example/{}", "a".repeat(2000))));
    }

    #[test]
    fn listed_private_hosts_and_the_in_process_endpoint_are_reached_as_they_are() {
        let reach = Reach::new(
            hosts(&["bff.internal", "10.0.0.5:3000", "[fd00::5]"]),
            Some("http://127.0.0.1:4000/ciba/notify".to_owned()),
        );
        assert!(
            Reach::new(Vec::new(), Some("HTTP://127.0.0.1:4000".to_owned()))
                .may_register("http://127.0.0.1:4000/")
        );
        for good in [
            "http://bff.internal/ciba/notify",
            "https://BFF.internal:8443/ciba/notify",
            "http://10.0.0.5:3000/ciba/notify",
            "http://[fd00::5]:9/n",
            "http://127.0.0.1:4000/ciba/notify",
        ] {
            assert!(reach.may_register(good), "{good}");
        }
        for bad in [
            "http://10.0.0.5:3001/ciba/notify",
            "http://10.0.0.6:3000/ciba/notify",
            "http://127.0.0.1:4000/other",
            "http://127.0.0.1:4001/ciba/notify",
            "https://user@bff.internal/",
        ] {
            assert!(!reach.may_register(bad), "{bad}");
        }
        assert!(Reach::may_register_in_process(
            "http://10.1.2.3:3000/ciba/notify"
        ));
        assert!(!Reach::may_register_in_process("http://a:b@10.1.2.3/"));
    }

    #[test]
    fn a_private_host_entry_is_a_host_and_perhaps_a_port() {
        assert_eq!(
            "Bff.Internal:80".parse::<PrivateHost>(),
            Ok(PrivateHost {
                host: "bff.internal".to_owned(),
                port: Some(80)
            })
        );
        assert_eq!(
            "[fd00::5]".parse::<PrivateHost>().map(|host| host.host),
            Ok("fd00::5".to_owned())
        );
        assert_eq!(
            "x:080".parse::<PrivateHost>().map(|host| host.port),
            Ok(Some(80))
        );
        assert_eq!(
            "[fd00::5]:80".parse::<PrivateHost>().map(|host| host.port),
            Ok(Some(80))
        );
        assert_eq!(
            "[fd00::5]".parse::<PrivateHost>().map(|host| host.port),
            Ok(None)
        );
        for bad in ["", "http://x", "x/y", "a@b", "x:99999", "x?y"] {
            assert!(bad.parse::<PrivateHost>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn public_addresses_are_told_from_the_rest() {
        for ip in [
            "8.8.8.8",
            "203.0.114.1",
            "2a00:1450::1",
            "100.128.0.1",
            "2002:808:808::1",
        ] {
            assert!(public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.2",
            "10.1.1.1",
            "172.31.0.1",
            "192.168.0.1",
            "169.254.0.1",
            "100.127.255.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.19.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "0.1.2.3",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!public(ip.parse().unwrap()), "{ip}");
        }
    }

    /// A receiver on loopback, counting what reaches it.
    async fn receiver() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = hits.clone();
        let app = axum::Router::new().route(
            "/n",
            axum::routing::post(move || {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { axum::http::StatusCode::NO_CONTENT }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/n", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    #[tokio::test]
    async fn an_endpoint_stored_before_the_rules_is_not_reached_unless_listed() {
        let (url, hits) = receiver().await;
        let token = Secret::new("t".repeat(43));
        let blocked = Pinger::new(Reach::default(), Metrics::default()).unwrap();
        let parsed = Url::parse(&url).unwrap();
        assert_eq!(
            blocked.deliver(&parsed, "{}", &token).await,
            Delivery::Blocked
        );
        let https = Url::parse(&url.replace("http://", "https://")).unwrap();
        assert_eq!(
            blocked.deliver(&https, "{}", &token).await,
            Delivery::Blocked
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);

        let listed =
            Pinger::new(Reach::new(hosts(&["127.0.0.1"]), None), Metrics::default()).unwrap();
        assert_eq!(
            listed.deliver(&parsed, "{}", &token).await,
            Delivery::Delivered
        );
        let in_process = Pinger::new(
            Reach::new(Vec::new(), Some(url.clone())),
            Metrics::default(),
        )
        .unwrap();
        assert_eq!(
            in_process.deliver(&parsed, "{}", &token).await,
            Delivery::Delivered
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_name_resolving_only_to_private_addresses_is_not_reached() {
        // `localhost` resolves to loopback through the system resolver; the resolver of public
        // pings keeps no address of it, so nothing is connected to.
        let addrs = PublicOnly.resolve("localhost".parse().unwrap()).await;
        assert!(addrs.is_err_and(|error| error.is::<NoPublicAddress>()));
        let (url, hits) = receiver().await;
        let port = Url::parse(&url).unwrap().port().unwrap();
        let pinger = Pinger::new(Reach::default(), Metrics::default()).unwrap();
        // Past the name check (as a name that resolved to a public address when registered
        // would be), the resolver is what stops it.
        let attempt = pinger
            .public
            .post(format!("http://localhost:{port}/n"))
            .send()
            .await
            .unwrap_err();
        assert!(blocked_by_resolver(&attempt), "{attempt:?}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
