use super::*;

#[test]
fn repeated_parameters_are_refused() {
    let error = Form::parse(b"login_hint=a&scope=openid&login_hint=b").unwrap_err();
    assert!(error.description.contains("login_hint"), "{error}");
    let form = Form::parse(b"a=1&b=&c=x%20y").unwrap();
    assert_eq!(form.get("a"), Some("1"));
    assert_eq!(form.get("b"), Some(""));
    assert_eq!(form.get("c"), Some("x y"));
    assert_eq!(form.get("d"), None);
    assert!(form.require("d").is_err());
}

/// SECURITY.md case 27: 200,000 distinct names are refused by the count, before any decoding
/// or comparison (the old pairwise check took about 2·10¹⁰ comparisons here, and accepted
/// the form).
#[test]
fn case_27_two_hundred_thousand_distinct_parameters_are_refused_by_the_cap() {
    let body: Vec<u8> = (0..200_000)
        .map(|index| format!("p{index}="))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes();
    let error = Form::parse(&body).unwrap_err();
    assert_eq!(error.code, crate::error::ErrorCode::InvalidRequest);
    assert_eq!(
        error.description,
        format!("The form has more than {MAX_PARAMETERS} parameters.")
    );
}

#[test]
fn the_cap_counts_parameters_as_the_decoder_does() {
    let at_cap: Vec<String> = (0..MAX_PARAMETERS)
        .map(|index| format!("p{index}=v"))
        .collect();
    // Empty pieces between `&`s are no parameters.
    let body = format!("&&{}&&", at_cap.join("&&"));
    assert_eq!(
        Form::parse(body.as_bytes()).unwrap().0.len(),
        MAX_PARAMETERS
    );
    let over = format!("{body}&extra=1");
    assert!(Form::parse(over.as_bytes()).is_err());
}

mod properties {
    use proptest::prelude::*;

    use super::super::{Form, MAX_PARAMETERS};

    fn encode(pairs: &[(String, String)]) -> String {
        serde_urlencoded::to_string(pairs).unwrap()
    }

    proptest! {
        /// Whatever arrives, parsing answers (a form or a refusal) and never panics.
        #[test]
        fn case_27_arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = Form::parse(&body);
        }

        /// Any form of distinct names, up to the cap, reads back exactly, in order.
        #[test]
        fn case_27_distinct_names_round_trip(
            map in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..=MAX_PARAMETERS)
        ) {
            let pairs: Vec<(String, String)> = map.into_iter().collect();
            let form = Form::parse(encode(&pairs).as_bytes()).unwrap();
            prop_assert_eq!(&form.0, &pairs);
            for (name, value) in &pairs {
                prop_assert_eq!(form.get(name), Some(value.as_str()));
            }
        }

        /// A name sent twice is refused, wherever the second one is.
        #[test]
        fn case_27_a_repeated_name_is_refused(
            map in proptest::collection::btree_map(any::<String>(), any::<String>(), 1..MAX_PARAMETERS),
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            value in any::<String>(),
        ) {
            let mut pairs: Vec<(String, String)> = map.into_iter().collect();
            let name = pairs[pick.index(pairs.len())].0.clone();
            let position = at.index(pairs.len() + 1);
            pairs.insert(position, (name, value));
            let error = Form::parse(encode(&pairs).as_bytes()).unwrap_err();
            prop_assert!(error.description.ends_with("was sent more than once."), "{}", error);
        }

        /// More parameters than the cap are refused, whatever they are.
        #[test]
        fn case_27_more_than_the_cap_is_refused(
            map in proptest::collection::btree_map(any::<String>(), any::<String>(), MAX_PARAMETERS + 1..4 * MAX_PARAMETERS)
        ) {
            let pairs: Vec<(String, String)> = map.into_iter().collect();
            let error = Form::parse(encode(&pairs).as_bytes()).unwrap_err();
            prop_assert_eq!(
                error.description,
                format!("The form has more than {MAX_PARAMETERS} parameters.")
            );
        }
    }
}
