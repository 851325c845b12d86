use axum::{Router, body::Body, http::Request as HttpRequest, routing::get};
use tower::ServiceExt as _;

use super::*;

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap()
}

#[test]
fn only_plain_short_ids_are_kept() {
    assert_eq!(accepted(&value("req-42")).as_deref(), Some("req-42"));
    assert_eq!(accepted(&value("lb:7f.e_2")).as_deref(), Some("lb:7f.e_2"));
    let longest = "a".repeat(64);
    assert_eq!(accepted(&value(&longest)), Some(longest));
    for hostile in [
        "",
        &"a".repeat(65),
        "two words",
        "id\"quoted",
        "<script>",
        "a=b",
        "ünicode",
    ] {
        let Ok(header) = HeaderValue::from_bytes(hostile.as_bytes()) else {
            continue;
        };
        assert_eq!(accepted(&header), None, "{hostile:?} was kept");
    }
    // Not even text.
    assert_eq!(
        accepted(&HeaderValue::from_bytes(b"\xff\xfe").unwrap()),
        None
    );
}

#[test]
fn new_ids_are_32_hex_digits_and_differ() {
    let (a, b) = (new_id(), new_id());
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|byte| byte.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

/// A router that answers with the id its handler sees as `current`.
fn app() -> Router {
    Router::new()
        .route("/", get(|| async { current().unwrap_or_default() }))
        .layer(axum::middleware::from_fn(middleware))
}

async fn call(id: Option<&str>) -> (String, String) {
    let mut request = HttpRequest::get("/");
    if let Some(id) = id {
        request = request.header("x-request-id", id);
    }
    let response = app()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    (header, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_request_keeps_a_plain_id_and_gets_one_otherwise() {
    let (header, seen) = call(Some("from-the-balancer-1")).await;
    assert_eq!(header, "from-the-balancer-1");
    assert_eq!(seen, header, "the handler runs as the request");

    let (header, seen) = call(None).await;
    assert_eq!(header.len(), 32);
    assert_eq!(seen, header);

    let (header, _) = call(Some("inject this\ttext")).await;
    assert_eq!(header.len(), 32, "{header}");
    assert!(header.bytes().all(|byte| byte.is_ascii_hexdigit()));
}

#[tokio::test]
async fn spawned_work_keeps_the_id_only_when_scoped() {
    assert_eq!(current(), None, "no request, no id");
    let seen = scoped(Some("r-9".to_owned()), async {
        let id = current();
        tokio::spawn(scoped(id, async { current() })).await.unwrap()
    })
    .await;
    assert_eq!(seen.as_deref(), Some("r-9"));
    assert_eq!(scoped(None, async { current() }).await, None);
}
