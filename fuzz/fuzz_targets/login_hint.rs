//! Any text as a login hint of each kind: normalised once and for good, or refused clearly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provider::{
    ciba::request::{Hint, HintType, hint},
    error::ErrorCode,
};

fuzz_target!(|value: &str| {
    for kind in [HintType::Phone, HintType::Email, HintType::UserId] {
        match hint(value, kind) {
            Ok(normalised) => {
                let again = match &normalised {
                    Hint::Phone(text) | Hint::Email(text) | Hint::UserId(text) => {
                        hint(text, kind).ok()
                    }
                };
                assert_eq!(again.as_ref(), Some(&normalised), "not stable: {value:?}");
            }
            Err(error) => assert!(
                matches!(error.code, ErrorCode::InvalidRequest),
                "{:?}",
                error.code
            ),
        }
    }
});
