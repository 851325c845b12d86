//! Binding codes: what the agent reads aloud and the customer compares on the approval page.
//!
//! Six characters in two groups (`7RM-F2W`) from [`ALPHABET`]: no two of its characters look
//! alike on a screen (no `0`/`O`/`D`/`Q`, `1`/`I`/`L`, `2`/`Z`, `5`/`S`, `6`/`G`, `8`/`B`) and no
//! two letters or digits sound alike said on their own over a phone line: of each set that
//! rhymes, one is kept (`E` of `B C D E G P T V Z 3`, `A` of `A H J K 8`, `F` of `F S X`, `M`
//! of `M N`, `W` of `Q U W`, `Y` of `I Y`). [`read_aloud`] gives the agent each letter with its
//! spelling-alphabet word. 12^6 ≈ 3.0 × 10^6 codes; a code tells apart the requests of one call,
//! it is not a secret. It fits Mosaic's `binding_message` pattern `^[a-zA-Z0-9-._+/!?#]{1,20}$`.

/// The characters a new code is made of.
pub const ALPHABET: &[u8] = b"AEFMRWY24679";

/// The ICAO spelling-alphabet word of each letter, `A` to `Z`.
const WORDS: [&str; 26] = [
    "Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett",
    "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango",
    "Uniform", "Victor", "Whiskey", "X-ray", "Yankee", "Zulu",
];

/// The spelling-alphabet word of `letter` (either case), if it is one of `A` to `Z`.
pub fn word(letter: char) -> Option<&'static str> {
    let upper = letter.to_ascii_uppercase();
    upper
        .is_ascii_uppercase()
        .then(|| WORDS[usize::from(upper as u8 - b'A')])
}

/// `code` as the agent reads it: each letter with its word, digits as they are, groups apart.
/// `7RM-F2W` → `7, R as in Romeo, M as in Mike — F as in Foxtrot, 2, W as in Whiskey`. Any code
/// reads (an older one, or one of another alphabet): a letter gets its word, anything else is
/// said as it is.
pub fn read_aloud(code: &str) -> String {
    code.split('-')
        .filter(|group| !group.is_empty())
        .map(|group| {
            group
                .chars()
                .map(|c| match word(c) {
                    Some(word) => format!("{} as in {word}", c.to_ascii_uppercase()),
                    None => c.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join(" — ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_characters_look_or_sound_alike() {
        // Sets whose members are mistaken for one another on a screen or over a phone line.
        let look_alike = ["0ODQ", "1IL", "2Z", "5S", "6G", "8B"];
        let sound_alike = ["BCDEGPTVZ3", "AHJK8", "FSX", "MN", "QUW", "IY"];
        for set in look_alike.iter().chain(&sound_alike) {
            let kept: Vec<char> = set
                .chars()
                .filter(|c| ALPHABET.contains(&(*c as u8)))
                .collect();
            assert!(kept.len() <= 1, "{set}: {kept:?} are all in the alphabet");
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALPHABET.len(), "no character twice");
        assert!(ALPHABET.iter().all(u8::is_ascii_alphanumeric));
        assert!(ALPHABET.iter().all(|c| !c.is_ascii_lowercase()));
    }

    #[test]
    fn codes_are_read_letter_by_letter_with_their_words() {
        assert_eq!(
            read_aloud("7RM-F2W"),
            "7, R as in Romeo, M as in Mike — F as in Foxtrot, 2, W as in Whiskey"
        );
        assert_eq!(
            read_aloud("D89-FTZ"),
            "D as in Delta, 8, 9 — F as in Foxtrot, T as in Tango, Z as in Zulu"
        );
        assert_eq!(read_aloud("ab"), "A as in Alfa, B as in Bravo");
        assert_eq!(read_aloud(""), "");
        assert_eq!(word('x'), Some("X-ray"));
        assert_eq!(word('é'), None);
        assert_eq!(word('4'), None);
        for c in ALPHABET {
            let c = char::from(*c);
            assert_eq!(word(c).is_some(), c.is_ascii_alphabetic());
        }
    }
}
