//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, 2
//! iterations, 1 lane: the `argon2` crate's defaults), and the password policy.
//!
//! Hashing is CPU-bound (tens of milliseconds); callers run it off the async
//! runtime's workers.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::FieldError;

/// The longest password accepted, so a huge one cannot be used to burn CPU.
pub const MAX_PASSWORD_LEN: usize = 1024;

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Checks a new password against the org's minimum length.
pub fn check_policy(path: &str, password: &str, min_len: u32) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < min_len as usize {
        return Err(FieldError::new(path, format!("A password has at least {min_len} characters.")));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(FieldError::new(path, format!("A password has at most {MAX_PASSWORD_LEN} bytes.")));
    }
    Ok(())
}

/// Hashes a password into a PHC string.
pub fn hash(password: &str) -> Result<String, crate::StoreError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| crate::StoreError::Backend(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| crate::StoreError::Backend(e.to_string()))
}

/// A hash of a random password, verified against when the account is unknown, so
/// that an unknown email and a wrong password cost the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::secret::token()).unwrap_or_default())
}

/// Verifies a password against a stored hash. `None` (unknown account, or no
/// password set) still spends the time of one verification, and fails.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let target = stored.unwrap_or_else(|| dummy_hash());
    let Ok(parsed) = PasswordHash::new(target) else { return false };
    let ok = password.len() <= MAX_PASSWORD_LEN && argon2().verify_password(password.as_bytes(), &parsed).is_ok();
    ok && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("wrong", Some(&h)));
        assert!(!verify("anything", None));
    }

    #[test]
    fn the_policy_enforces_the_minimum_length() {
        assert!(check_policy("password", "short", 12).is_err());
        assert!(check_policy("password", "long enough pw", 12).is_ok());
        assert!(check_policy("password", &"x".repeat(2000), 12).is_err());
    }
}
