//! Any text as the agent's note to the customer (checked by the console, the BFF and the
//! provider alike): accepted notes are plain text within the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::{MAX_NOTE_CHARS, check_note, invisible};

fuzz_target!(|value: &str| {
    if let Ok(note) = check_note(value) {
        assert!((1..=MAX_NOTE_CHARS).contains(&note.chars().count()));
        assert!(!note.chars().any(|c| invisible(c) || c == '<' || c == '>'));
        assert!(!note.to_lowercase().contains("://"));
        assert_eq!(note, note.trim());
    }
});
