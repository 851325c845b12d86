use std::collections::HashSet;

use super::*;

#[test]
fn codes_are_short_unambiguous_and_fit_mosaic() {
    let mut seen = HashSet::new();
    for _ in 0..2000 {
        let code = new_code();
        assert_eq!(code.len(), 7);
        assert_eq!(code.as_bytes()[3], b'-');
        assert!(
            code.bytes()
                .enumerate()
                .all(|(i, b)| i == 3 || ALPHABET.contains(&b)),
            "{code}"
        );
        assert!(
            !code.contains(['0', 'O', '1', 'I', 'L', 'B', '8', 'S', '5']),
            "{code}"
        );
        seen.insert(code);
    }
    // 2000 draws from 3.0e6 codes: about 0.7 repeats are expected; many mean the generator is
    // broken.
    assert!(seen.len() >= 1990, "{} distinct of 2000", seen.len());
}
