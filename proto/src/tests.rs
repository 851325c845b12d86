#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

#[test]
fn notes_are_plain_text_of_at_most_the_limit() {
    for (bad, why) in [
        ("Click https://evil.example", NoteError::NotPlainText),
        ("visit www.evil.example", NoteError::NotPlainText),
        ("go to evil.example/login now", NoteError::NotPlainText),
        ("see bank.co.uk.", NoteError::NotPlainText),
        ("visit evil\u{3002}example", NoteError::NotPlainText),
        ("<script>", NoteError::NotPlainText),
        ("two\nlines", NoteError::NotPlainText),
        ("\u{202E}reversed", NoteError::NotPlainText),
        ("zero\u{200B}width", NoteError::NotPlainText),
        ("", NoteError::Empty),
        ("   ", NoteError::Empty),
    ] {
        assert_eq!(check_note(bad), Err(why), "{bad:?}");
    }
    let longest = "x".repeat(MAX_NOTE_CHARS);
    assert_eq!(check_note(&longest), Ok(longest.as_str()));
    assert_eq!(check_note(&format!("{longest}x")), Err(NoteError::TooLong));
    // Characters, not bytes.
    let accents = "é".repeat(MAX_NOTE_CHARS);
    assert_eq!(check_note(&accents), Ok(accents.as_str()));
    assert_eq!(
        check_note("  Is this you? Call 555.0101 "),
        Ok("Is this you? Call 555.0101")
    );
    assert!(NoteError::TooLong.sentence().contains("100"));
}

#[test]
fn tickets_are_optional_plain_and_short() {
    assert_eq!(check_ticket(""), Ok(None));
    assert_eq!(check_ticket("   "), Ok(None));
    assert_eq!(check_ticket(" INC-20461 "), Ok(Some("INC-20461")));
    assert_eq!(
        check_ticket("CS#4411/2 call:7_b.c"),
        Ok(Some("CS#4411/2 call:7_b.c"))
    );
    let most = "7".repeat(MAX_TICKET_CHARS);
    assert_eq!(check_ticket(&most), Ok(Some(most.as_str())));
    let too_long = check_ticket(&format!("{most}7")).unwrap_err();
    assert!(too_long.contains("64"), "{too_long}");
    for refused in [
        "=1+1",
        "a<b",
        "tab\there",
        "é",
        "a\u{202E}b",
        "x,y",
        "\"q\"",
    ] {
        let sentence = check_ticket(refused).unwrap_err();
        assert!(
            sentence.contains("ticket or call id"),
            "{refused:?}: {sentence}"
        );
    }
}

proptest! {
    #[test]
    fn any_text_gets_a_ticket_answer_and_accepted_ones_are_kept(text in "\\PC{0,80}") {
        if let Ok(Some(ticket)) = check_ticket(&text) {
            prop_assert_eq!(ticket, text.trim());
            prop_assert!(ticket.chars().count() <= MAX_TICKET_CHARS);
            prop_assert!(ticket.bytes().all(|b| b.is_ascii_alphanumeric() || b" -_./#:".contains(&b)));
        }
    }

    #[test]
    fn any_text_gets_an_answer_and_accepted_notes_are_kept(text in "\\PC{0,140}") {
        match check_note(&text) {
            Ok(note) => {
                prop_assert_eq!(note, text.trim());
                prop_assert!(note.chars().count() <= MAX_NOTE_CHARS);
                prop_assert_eq!(check_note(note), Ok(note));
            }
            Err(NoteError::TooLong) => prop_assert!(text.trim().chars().count() > MAX_NOTE_CHARS),
            Err(_) => {}
        }
    }
}
