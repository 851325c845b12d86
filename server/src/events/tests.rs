use super::*;

fn with_header(value: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("last-event-id", HeaderValue::from_static(value));
    headers
}

#[test]
fn the_start_comes_from_the_header_then_the_query() {
    let none = HeaderMap::new();
    assert_eq!(start_after(&none, None), Ok(None));
    assert_eq!(start_after(&none, Some("")), Ok(None));
    assert_eq!(start_after(&none, Some("12")), Ok(Some(12)));
    assert_eq!(start_after(&with_header("40"), Some("12")), Ok(Some(40)));
    assert_eq!(start_after(&with_header(""), Some("12")), Ok(Some(12)));
    assert_eq!(start_after(&with_header("4x"), None), Err(()));
    assert_eq!(start_after(&none, Some("-1")), Err(()));
    assert_eq!(start_after(&none, Some("99999999999999999999")), Err(()));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn header_value(bytes: &[u8]) -> Option<HeaderMap> {
        let value = HeaderValue::from_bytes(bytes).ok()?;
        let mut headers = HeaderMap::new();
        headers.insert("last-event-id", value);
        Some(headers)
    }

    proptest! {
        /// Any header bytes and any query: an answer, never a panic; an id only when the
        /// text is a number that fits.
        #[test]
        fn any_last_event_id_gets_an_answer(
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            query in proptest::option::of(".{0,30}"),
        ) {
            if let Some(headers) = header_value(&bytes) {
                let answer = start_after(&headers, query.as_deref());
                if let Ok(Some(id)) = answer {
                    prop_assert!(id >= 0);
                }
                let text = std::str::from_utf8(&bytes).ok().map(str::trim);
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    let digits = text.bytes().all(|b| b.is_ascii_digit());
                    prop_assert_eq!(answer.is_ok(), digits && text.parse::<i64>().is_ok());
                }
            }
        }

        /// Every id this stream sends (a non-negative i64) comes back as itself, from the
        /// header or the query, with or without spaces around it.
        #[test]
        fn sent_ids_round_trip(id in 0..=i64::MAX, pad in "[ \t]{0,2}") {
            let text = format!("{pad}{id}{pad}");
            let headers = header_value(text.as_bytes()).unwrap_or_default();
            prop_assert_eq!(start_after(&headers, None), Ok(Some(id)));
            prop_assert_eq!(start_after(&HeaderMap::new(), Some(&text)), Ok(Some(id)));
        }

        /// Anything with a character that is not a digit is refused.
        #[test]
        fn non_numbers_are_refused(text in "[0-9]{0,3}[^0-9\\s][ -~]{0,5}") {
            prop_assume!(!text.trim().is_empty());
            prop_assert_eq!(start_after(&HeaderMap::new(), Some(&text)), Err(()));
        }
    }
}
