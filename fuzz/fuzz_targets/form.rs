//! Any body to the provider's form reader: an answer, never a panic; a form it accepts has at
//! most `MAX_PARAMETERS` parameters and no name twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provider::{Form, error::ErrorCode, form::MAX_PARAMETERS};

fuzz_target!(|body: &[u8]| {
    match Form::parse(body) {
        Ok(form) => {
            let names = form.names();
            assert!(names.len() <= MAX_PARAMETERS);
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(
                unique.len(),
                names.len(),
                "a repeated parameter was accepted"
            );
            for name in names {
                assert!(form.get(name).is_some());
            }
        }
        Err(error) => assert_eq!(error.code, ErrorCode::InvalidRequest),
    }
});
