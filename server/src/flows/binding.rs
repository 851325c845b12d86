//! Binding codes: what the agent reads aloud and the customer compares on the approval page.
//!
//! Six characters in two groups, `7KX-4FP`, from an alphabet without look-alikes (no `0`/`O`,
//! `1`/`I`/`L`), so a code read over a phone line is heard and typed one way only. Drawn from the
//! OS-seeded CSPRNG: 31^6 ≈ 8.9 × 10^8 codes. It fits Mosaic's `binding_message` pattern
//! `^[a-zA-Z0-9-._+/!?#]{1,20}$`.

use rand::RngExt as _;

/// The characters a code is made of.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A new binding code.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(7);
    for position in 0..6 {
        if position == 3 {
            code.push('-');
        }
        let index = rng.random_range(0..ALPHABET.len());
        code.push(char::from(ALPHABET[index]));
    }
    code
}

#[cfg(test)]
mod tests;
