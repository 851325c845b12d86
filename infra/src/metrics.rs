//! Prometheus metrics, the same way on both services.
//!
//! Each service owns its registry: there is no process-wide recorder, because the BFF and the
//! embedded provider share one process, and so do the many instances the tests start. A
//! service serves its registry as OpenMetrics text at `GET /metrics` on a listener of its own
//! ([`router`], served with [`crate::serve::serve`]), on the loopback by default, so the
//! figures never become public with the pages by accident.
//!
//! Labels are fixed words (`&'static str` pairs), never a value taken from a request: no
//! customer or agent identifier can reach a label, and the number of series stays bounded.

use std::sync::Arc;

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
pub use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// The labels of one series: `N` fixed (name, value) pairs.
pub type Labels<const N: usize> = [(&'static str, &'static str); N];
/// Counters told apart by `N` labels.
pub type Counters<const N: usize> = Family<Labels<N>, Counter>;
/// Histograms told apart by `N` labels, all with the buckets of one constructor.
pub type Histograms<const N: usize> = Family<Labels<N>, Histogram>;

/// The media type of the exposition (Prometheus reads OpenMetrics text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Buckets for calls and requests, in seconds: 1 ms, 2 ms, 4 ms … about 33 s.
pub fn call_seconds() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 16,
    ))
}

/// Buckets for what a person does, in seconds: 1 s to an hour.
pub fn human_seconds() -> Histogram {
    Histogram::new([
        1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ])
}

/// Histograms made with `buckets`.
pub fn histograms<const N: usize>(buckets: fn() -> Histogram) -> Histograms<N> {
    Family::new_with_constructor(buckets)
}

/// The registry as OpenMetrics text.
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}

/// `GET /metrics` serving `registry`; every other path is 404.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&registry)) }
            }),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "Nothing here: the metrics are at /metrics.",
            )
                .into_response()
        })
}

/// The value of one sample in an exposition, named as it is written (`name{a="b"}`), for
/// tests and probes.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_renders_its_series_and_a_sample_reads_back() {
        let mut registry = Registry::with_prefix("countersign");
        let polls = Counters::<1>::default();
        registry.register("polls", "Polls by answer", polls.clone());
        let calls = histograms::<1>(call_seconds);
        registry.register("call_seconds", "Calls", calls.clone());
        polls.get_or_create(&[("answer", "pending")]).inc_by(3);
        polls.get_or_create(&[("answer", "slow_down")]).inc();
        calls.get_or_create(&[("endpoint", "token")]).observe(0.003);

        let text = render(&registry);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(
            sample(&text, r#"countersign_polls_total{answer="pending"}"#),
            Some(3.0)
        );
        assert_eq!(
            sample(&text, r#"countersign_polls_total{answer="slow_down"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, r#"countersign_call_seconds_count{endpoint="token"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"countersign_call_seconds_bucket{le="0.004",endpoint="token"}"#
            ),
            Some(1.0)
        );
        assert_eq!(sample(&text, "countersign_polls_total"), None);
    }

    #[tokio::test]
    async fn the_router_serves_metrics_and_nothing_else() {
        use tower::ServiceExt as _;
        let mut registry = Registry::default();
        let up = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register("streams_open", "Open streams", up.clone());
        up.set(2);
        let app = router(Arc::new(registry));
        let get = |path: &str| {
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let answer = app.clone().oneshot(get("/metrics")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(sample(&text, "streams_open"), Some(2.0), "{text}");
        let elsewhere = app.oneshot(get("/")).await.unwrap();
        assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    }
}
