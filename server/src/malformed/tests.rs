use super::*;

#[test]
fn only_unreadable_calls_are_the_callers_fault() {
    for body in [
        &b"Args|unknown variant `Pigeon`"[..],
        b"MissingArg|request",
        b"Deserialization|invalid utf-8",
    ] {
        assert!(is_malformed_call(body));
    }
    for body in [
        &b"ServerError|the backend is missing"[..],
        b"Response|x",
        b"",
        b"WrappedServerFn|Args|x",
    ] {
        assert!(!is_malformed_call(body), "{body:?}");
    }
}

/// A router whose one route answers as a server function that failed with `body`.
fn failing(body: &'static str) -> axum::Router {
    axum::Router::new()
        .route(
            "/api/f",
            axum::routing::post(move || async move {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(SERVER_FN_ERROR_HEADER, "/api/f")],
                    body,
                )
            }),
        )
        .layer(axum::middleware::from_fn(readable))
}

async fn answer(body: &'static str) -> (StatusCode, String) {
    use tower::ServiceExt as _;
    let request = axum::http::Request::post("/api/f")
        .body(Body::empty())
        .unwrap();
    let response = failing(body).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn unreadable_calls_are_400_and_the_bffs_own_failures_stay_500() {
    let (status, text) = answer("Args|unknown variant `Pigeon`, expected one of `sms`").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(text, format!("ServerError|{SENTENCE}"));
    let internal = "ServerError|the backend is missing from the request context";
    assert_eq!(
        answer(internal).await,
        (StatusCode::INTERNAL_SERVER_ERROR, internal.to_owned())
    );
}
