use axum::{
    body::Body,
    http::{HeaderValue, StatusCode},
};

use super::*;

#[test]
fn a_body_is_read_as_the_refusal_it_holds_or_as_a_failure() {
    let json = |refusal: &Refusal| serde_json::to_vec(refusal).unwrap();
    for refusal in [
        Refusal::SignedOut,
        Refusal::Unreadable,
        Refusal::RateLimited(7),
        Refusal::NotFound("No such verification.".to_owned()),
    ] {
        assert_eq!(refusal_in(&json(&refusal)), refusal);
    }
    for body in [
        &b"Args|unknown variant `Pigeon`"[..],
        b"ServerError|the backend is missing",
        b"",
        b"{}",
        b"[1]",
    ] {
        assert_eq!(refusal_in(body), Refusal::Failed, "{body:?}");
    }
}

/// A router whose one route answers as a server function that failed with `body`, and
/// another route's plain 500.
fn failing(body: Vec<u8>) -> axum::Router {
    axum::Router::new()
        .route(
            "/api/f",
            axum::routing::post(move || async move {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [
                        (SERVER_FN_ERROR_HEADER, "/api/f"),
                        ("set-cookie", "a=1"),
                        ("content-type", "text/plain"),
                    ],
                    body,
                )
            }),
        )
        .route(
            "/api/form",
            axum::routing::post(|| async {
                // What server_fn makes of a failed plain form post: its error answer, then a
                // redirect to `/` with the error in the query.
                (
                    StatusCode::FOUND,
                    [
                        (SERVER_FN_ERROR_HEADER, "/api/form"),
                        ("location", "/?__path=%2Fapi%2Fform&__err=eyJ9"),
                        ("content-type", "application/json"),
                    ],
                    serde_json::to_vec(&Refusal::Unavailable("Try again.".to_owned())).unwrap(),
                )
            }),
        )
        .route(
            "/other",
            axum::routing::post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "own text") }),
        )
        .layer(axum::middleware::from_fn(with_status))
}

async fn answer(path: &str, body: Vec<u8>) -> (StatusCode, axum::http::HeaderMap, String) {
    use tower::ServiceExt as _;
    let request = axum::http::Request::post(path).body(Body::empty()).unwrap();
    let response = failing(body).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_refusal_goes_out_with_its_status_and_headers() {
    let (status, headers, text) = answer(
        "/api/f",
        serde_json::to_vec(&Refusal::RateLimited(9)).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "9");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["set-cookie"], HeaderValue::from_static("a=1"));
    let body: Refusal = serde_json::from_str(&text).unwrap();
    assert_eq!(body, Refusal::RateLimited(9));

    let (status, _, text) =
        answer("/api/f", serde_json::to_vec(&Refusal::Unreadable).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_str::<Refusal>(&text).unwrap(),
        Refusal::Unreadable
    );
}

#[tokio::test]
async fn framework_text_never_reaches_the_caller() {
    let (status, _, text) = answer("/api/f", b"Args|unknown variant `Pigeon`".to_vec()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        serde_json::from_str::<Refusal>(&text).unwrap(),
        Refusal::Failed
    );
    assert!(!text.contains("Pigeon"), "{text}");
}

#[tokio::test]
async fn answers_that_are_not_server_function_errors_pass_unchanged() {
    let (status, _, text) = answer("/other", Vec::new()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(text, "own text");
}

#[tokio::test]
async fn a_failed_plain_form_post_gets_the_refusal_not_a_redirect_to_the_console() {
    let (status, headers, text) = answer("/api/form", Vec::new()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!headers.contains_key("location"), "{headers:?}");
    assert!(!headers.contains_key(SERVER_FN_ERROR_HEADER), "{headers:?}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        serde_json::from_str::<Refusal>(&text).unwrap(),
        Refusal::Unavailable("Try again.".to_owned())
    );
}
