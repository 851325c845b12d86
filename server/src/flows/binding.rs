//! Binding codes: what the agent reads aloud and the customer compares on the approval page.
//! Six characters of [`proto::binding::ALPHABET`] (no two look or sound alike) in two groups,
//! `7RM-F2W`, drawn from the OS-seeded CSPRNG.

use rand::RngExt as _;

pub use proto::binding::ALPHABET;

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
