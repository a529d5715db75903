//! Random credentials and their digests: app keys and secrets, session tokens.
//!
//! Tokens are stored only as SHA-256 digests; comparisons of secrets are constant-time
//! in the server (they go through `subtle`).

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// `len` random ASCII letters and digits from the OS-seeded CSPRNG.
pub fn alphanumeric(len: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// An opaque token of 256 random bits, as 64 hex characters.
pub fn token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The SHA-256 digest of a token, as hex: what the store keeps instead of the token.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_have_the_seed_formats() {
        let key = alphanumeric(22);
        assert_eq!(key.len(), 22);
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(alphanumeric(64), alphanumeric(64));
        assert_eq!(token().len(), 64);
        assert_eq!(digest("a"), digest("a"));
        assert_ne!(digest("a"), digest("b"));
    }
}
