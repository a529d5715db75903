//! App secrets sealed at rest. The HMAC of a signed request needs the app's secret
//! itself, so it can't be stored as a digest; it is encrypted instead, with
//! ChaCha20-Poly1305 (an AEAD) under a 256-bit key kept outside the database
//! (`ORGBASE_SECRET_KEY`, or on SQLite a key file in the data dir). A dump of the
//! database alone reveals no secret.
//!
//! The stored form is `sealed1:` followed by the hex of a random 96-bit nonce and
//! the ciphertext with its tag. The associated data names the row (the app's id),
//! so a sealed secret copied into another row does not open there. A value without
//! the prefix is a secret stored in the clear before sealing existed; the store
//! seals those when it starts.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The prefix of a sealed value.
pub const SEALED_PREFIX: &str = "sealed1:";
const NONCE_BYTES: usize = 12;

/// A 256-bit key that seals secrets. Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not the stored form (bad hex, too short).
    #[error("not a sealed value")]
    Malformed,
    /// Another key sealed it, or it was changed or moved to another row.
    #[error("the value does not open with this key (another key sealed it, or it was changed)")]
    WrongKey,
}

impl SecretKey {
    /// Parses 64 hex characters.
    pub fn parse_hex(s: &str) -> Result<Self, String> {
        let bytes = hex::decode(s.trim()).map_err(|_| "the secret key is 64 hex characters".to_owned())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| "the secret key is 64 hex characters".to_owned())?;
        Ok(Self(key))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// The key as 64 hex characters (for its file, or for the operator).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// Seals `plain` for the row named `row`.
    pub fn seal(&self, row: &str, plain: &str) -> String {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let payload = Payload { msg: plain.as_bytes(), aad: row.as_bytes() };
        // Encryption fails only past ChaCha20's 256 GiB per message.
        let sealed = self.cipher().encrypt(Nonce::from_slice(&nonce), payload).unwrap_or_default();
        let mut out = String::with_capacity(SEALED_PREFIX.len() + 2 * (NONCE_BYTES + sealed.len()));
        out.push_str(SEALED_PREFIX);
        out.push_str(&hex::encode(nonce));
        out.push_str(&hex::encode(sealed));
        out
    }

    /// Opens a value of [`SecretKey::seal`] for the row named `row`.
    pub fn open(&self, row: &str, stored: &str) -> Result<String, SealError> {
        let hex_part = stored.strip_prefix(SEALED_PREFIX).ok_or(SealError::Malformed)?;
        let bytes = hex::decode(hex_part).map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let payload = Payload { msg: sealed, aad: row.as_bytes() };
        let plain = self.cipher().decrypt(Nonce::from_slice(nonce), payload).map_err(|_| SealError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| SealError::Malformed)
    }
}

/// True when a stored value is sealed (else it is a secret from before sealing).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_row() {
        let key = SecretKey::generate();
        let sealed = key.seal("row-1", "the secret");
        assert!(is_sealed(&sealed) && !sealed.contains("the secret"));
        assert_ne!(sealed, key.seal("row-1", "the secret"), "a fresh nonce each time");
        assert_eq!(key.open("row-1", &sealed).unwrap(), "the secret");
        assert_eq!(key.open("row-2", &sealed), Err(SealError::WrongKey));
        assert_eq!(SecretKey::generate().open("row-1", &sealed), Err(SealError::WrongKey));
        // One hex digit of the tag, changed (to another digit, whatever it was).
        let mut changed = sealed.clone();
        let last = changed.pop();
        changed.push(if last == Some('0') { '1' } else { '0' });
        assert!(key.open("row-1", &changed).is_err());
        assert_eq!(key.open("row-1", "plain"), Err(SealError::Malformed));
    }

    #[test]
    fn keys_are_64_hex_characters_and_never_shown() {
        let key = SecretKey::generate();
        assert_eq!(SecretKey::parse_hex(&key.to_hex()).unwrap(), key);
        assert!(SecretKey::parse_hex("abc").is_err());
        assert!(SecretKey::parse_hex(&"zz".repeat(32)).is_err());
        assert!(!format!("{key:?}").contains(&key.to_hex()));
    }
}
