//! Any form body read as a backchannel authentication request, as the provider's endpoint reads
//! it: scope, the hints, binding_message, requested_expiry, request_context (JSON) and its
//! custom_message. Each is accepted within its limits or refused with one of the clear errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provider::{
    Form,
    ciba::request::{Hint, RawRequest, validate},
    error::ErrorCode,
};

fuzz_target!(|body: &[u8]| {
    let Ok(form) = Form::parse(body) else {
        return;
    };
    let raw = RawRequest::from(&form);
    match validate(&raw) {
        Ok(valid) => {
            assert!(valid.scopes.iter().any(|scope| scope == "openid"));
            match &valid.hint {
                Hint::Phone(phone) => {
                    assert!(phone.starts_with('+'));
                    assert!(phone[1..].bytes().all(|b| b.is_ascii_digit()));
                }
                Hint::Email(email) => assert!(email.len() <= 254),
                Hint::UserId(id) => assert!((1..=64).contains(&id.len())),
            }
            if let Some(message) = &valid.binding_message {
                assert!((1..=20).contains(&message.as_str().len()));
            }
            assert!(!valid.expiry.is_zero());
            assert!(!valid.custom_message.chars().any(proto::invisible));
        }
        Err(error) => assert!(
            matches!(
                error.code,
                ErrorCode::InvalidRequest
                    | ErrorCode::InvalidScope
                    | ErrorCode::InvalidBindingMessage
            ),
            "{:?}",
            error.code
        ),
    }
});
